"""The Ray backend: each run of a study is a Ray task, placed by Ray on a cluster's nodes by the resources it declares.

    nnstudy run STUDY --backend ray                       # a local Ray instance, started and stopped here
    nnstudy run STUDY --backend ray --address auto        # a running cluster (`ray start --head` on this machine)
    nnstudy run STUDY --backend ray --address HOST:6379 --storage s3://bucket/prefix

No shared filesystem is assumed. A task trains in a temporary folder on its node; the run's files travel to the
study directory on this machine while it trains (every few seconds a changed file is sent: checkpoints, metrics)
and when it ends, either through Ray's object store to a small actor on this machine that writes them, or through
`storage` (a local path or a pyarrow filesystem URI: s3://, gs://, hdfs://), which this machine then copies from. A
task restarted on another node (Ray retries a task whose node is lost) first fetches what its run had written, so
it continues from the last checkpoint, not from zero. ``ray`` is imported by this module only.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

from ...errors import ConfigError, clip
from ...io import TMP_GLOB, write_bytes
from ...locks import LOCK_NAME
from ..executor import Executor, Job, JobResult

__all__ = ["RayExecutor"]

SYNC_SECONDS = 5.0      # how often a task sends its run's changed files while it trains
NODE_RETRIES = 3        # times Ray re-runs a task whose node or worker process died


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend ray needs Ray: pip install 'nnstudy[ray]'") from None
    return ray


def _run_files(folder: Path) -> dict[str, tuple[int, int]]:
    """The files of a run directory that travel (not its lock, not half-written temporaries, not links), with
    those of its folders (a tracker's, e.g. tensorboard/): relative path -> stamp."""
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*")
            if p.is_file() and not p.is_symlink() and p.name != LOCK_NAME and not p.match(TMP_GLOB)}


def _read_files(folder: Path, names: list[str] | None = None) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in (names if names is not None else _run_files(folder))}


def _write_files(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        parts = name.split("/")
        if "\\" in name or any(part in ("", ".", "..") for part in parts):   # nothing outside the run directory
            raise ValueError(f"not a run file name: {name!r}")
        path = folder.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, data)


# ------------------------------------------------------------------------------------------- where files travel

class _DriverFiles:
    """The run directories on the driver (this machine), reached through an actor placed on its node."""

    def __init__(self, runs_dir: str) -> None:
        self.runs_dir = Path(runs_dir)

    def pull(self, name: str) -> dict[str, bytes]:
        return _read_files(self.runs_dir / name)

    def push(self, name: str, files: dict[str, bytes]) -> None:
        _write_files(self.runs_dir / name, files)


class _StorageFiles:
    """Run directories under a storage URI (pyarrow.fs: a local path, s3://, gs://, hdfs://...)."""

    def __init__(self, uri: str) -> None:
        from pyarrow import fs
        try:
            self.fs, self.root = fs.FileSystem.from_uri(uri)
        except (ValueError, OSError) as e:   # an unknown scheme, or a path pyarrow cannot use
            raise ConfigError(f"--storage {clip(uri, quote=True)}: not a storage location pyarrow can open "
                              f"({clip(str(e), 160)})") from None

    def _dir(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"

    def pull(self, name: str) -> dict[str, bytes]:
        from pyarrow import fs
        root = self._dir(name)
        infos = self.fs.get_file_info(fs.FileSelector(root, allow_not_found=True, recursive=True))
        out = {}
        for info in infos:
            if info.type == fs.FileType.File and not info.base_name.endswith(".part"):
                with self.fs.open_input_stream(info.path) as f:
                    out[info.path[len(root):].lstrip("/")] = f.read()
        return out

    def push(self, name: str, files: dict[str, bytes]) -> None:
        for file, data in files.items():
            folder, _, base = f"{self._dir(name)}/{file}".rpartition("/")
            self.fs.create_dir(folder, recursive=True)
            # written under a temporary name, then moved: a reader never sees half a checkpoint
            tmp = f"{folder}/.{base}.part"
            with self.fs.open_output_stream(tmp) as f:
                f.write(data)
            self.fs.move(tmp, f"{folder}/{base}")


# ------------------------------------------------------------------------------------------------ in the task

def _node() -> str:
    return f"{socket.gethostname()} ({_ip()})"


def _ip() -> str:
    try:
        import ray
        return ray.util.get_node_ip_address()
    except Exception:   # noqa: BLE001 - a name for a message only
        return "?"


class _Syncer:
    """Sends a run's changed files every SYNC_SECONDS while it trains, and once more at the end. If they cannot be
    sent (the driver is gone), the task ends: nobody would receive its results, and --resume restarts it."""

    def __init__(self, files: Any, name: str, folder: Path, remote: bool) -> None:
        self.files, self.name, self.folder, self.remote = files, name, folder, remote
        self.sent: dict[str, tuple[int, int]] = _run_files(folder)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="nnstudy-sync", daemon=True)

    def __enter__(self) -> "_Syncer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join()
        self.sync()

    def _loop(self) -> None:
        while not self.stop.wait(SYNC_SECONDS):
            try:
                self.sync()
            except Exception:   # noqa: BLE001 - the driver (or storage) is unreachable: nobody would get the run
                os._exit(1)

    def sync(self) -> None:
        now = _run_files(self.folder)
        changed = [name for name, stamp in now.items() if self.sent.get(name) != stamp]
        if not changed:
            return
        data = _read_files(self.folder, changed)
        if self.remote:
            import ray
            ray.get(self.files.push.remote(self.name, data))
        else:
            self.files.push(self.name, data)
        self.sent.update({name: now[name] for name in changed})


def _task(fn: Callable[[Job], JobResult], job: Job, files: Any, remote: bool, weights: bytes | None) -> JobResult:
    """One run on whichever node Ray chose: fetch what the run has so far, train in a local folder, send its files."""
    work = Path(tempfile.mkdtemp(prefix="nnstudy-run-"))
    try:
        folder = work / "runs" / job.name
        _write_files(folder, ray_get(files.pull.remote(job.name)) if remote else files.pull(job.name))
        weights_path = None
        if weights is not None:   # published weights travel with the task: the node need not have the file
            weights_path = work / Path(job.weights or "weights").name
            weights_path.write_bytes(weights)
        local = Job(job.name, {**job.config, "out_dir": str(work / "runs")}, str(weights_path) if weights else None)
        with _Syncer(files, job.name, folder, remote):
            result = fn(local)
        if result.status != "finished":   # say where: a dataset missing on one node is fixed on that node
            result = JobResult(result.name, result.status, f"on node {_node()}: {result.error}", result.seconds,
                               result.metrics, result.stop_study)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ray_get(ref: Any) -> Any:
    import ray
    return ray.get(ref)


# ---------------------------------------------------------------------------------------------------- driver

class RayExecutor(Executor):
    """Runs as Ray tasks; see the module docstring. `workers` > 1 caps how many run at once (default: as many
    as the cluster's CPUs allow)."""

    def __init__(self, address: str | None = None, storage: str | None = None, workers: int = 1) -> None:
        self.ray = _ray()
        self.address, self.storage = address, storage
        self.cap = workers if workers > 1 else None
        self.workers = 2          # more than one run at once: the study shows one bar, not one per run
        self.label = f"Ray cluster at {address}" if address else "a local Ray instance"
        self.data_here = address is None   # on a cluster, each node reads its own copy of the data
        if storage is not None:
            _StorageFiles(storage)   # a bad URI fails now, before anything starts

    def run(self, fn: Callable[[Job], JobResult], jobs: list[Job]) -> Iterator[JobResult]:
        if not jobs:
            return
        ray = self.ray
        started = not ray.is_initialized()
        if started:
            try:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                         logging_level="ERROR")
            except ConnectionError as e:
                raise ConfigError(f"--address {self.address}: no Ray cluster there ({clip(str(e), 200)})") from None
        try:
            yield from self._run(fn, jobs)
        finally:
            if started:
                ray.shutdown()

    def _files(self, runs_dir: str) -> tuple[Any, bool]:
        """Where the runs' files go: the storage, or an actor on this node writing into the study directory."""
        ray = self.ray
        if self.storage is not None:
            return _StorageFiles(self.storage), False
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        here = ray.get_runtime_context().get_node_id()
        actor = ray.remote(num_cpus=0)(_DriverFiles).options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=here, soft=False)).remote(runs_dir)
        return actor, True

    def _run(self, fn: Callable[[Job], JobResult], jobs: list[Job]) -> Iterator[JobResult]:
        ray = self.ray
        runs_dir = str(Path(jobs[0].config["out_dir"]).absolute())
        files, remote = self._files(runs_dir)
        if not remote:   # what this machine has of each run goes to the storage first: a resumed study continues
            for job in jobs:
                files.push(job.name, _read_files(Path(runs_dir) / job.name))
        task = ray.remote(_task)
        pending: dict[Any, Job] = {}
        queue = list(jobs)
        try:
            while queue or pending:
                while queue and (self.cap is None or len(pending) < self.cap):
                    job = queue.pop(0)
                    pending[self._submit(task, fn, job, files, remote)] = job
                done, _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(done[0])
                result = self._result(done[0], job)
                if not remote:   # the run's files: from the storage into the study directory
                    _write_files(Path(runs_dir) / job.name, files.pull(job.name))
                yield result
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def _submit(self, task: Any, fn: Callable[[Job], JobResult], job: Job, files: Any, remote: bool) -> Any:
        train = dict(job.config.get("train") or {})
        threads, nproc = int(train.get("threads") or 1), int(train.get("nproc") or 1)
        train["threads"] = threads   # what Ray reserved is what torch uses (and the run records)
        # a run on several processes (train.nproc, DDP) reserves them all: threads each, and a GPU each on CUDA
        cpus, gpus = threads * nproc, nproc if str(train.get("device", "auto")).startswith("cuda") else 0
        weights = Path(job.weights).read_bytes() if job.weights else None
        job = Job(job.name, {**job.config, "train": train}, job.weights)
        options = {}
        # where the run's trackers send it (train.log): the driver's MLFLOW_TRACKING_URI, WANDB_MODE, … on every node
        tracking = {k: v for k, v in os.environ.items() if k.startswith(("MLFLOW_", "WANDB_"))}
        if train.get("log") and tracking:
            options["runtime_env"] = {"env_vars": tracking}
        return task.options(num_cpus=cpus, num_gpus=gpus, max_retries=NODE_RETRIES, retry_exceptions=False,
                            **options).remote(fn, job, files, remote, weights)

    def _result(self, ref: Any, job: Job) -> JobResult:
        try:
            return self.ray.get(ref)
        except Exception as e:   # noqa: BLE001 - the task never returned (its node lost more often than retried)
            return JobResult(job.name, "interrupted", f"the Ray task did not finish ({type(e).__name__}: "
                                                      f"{clip(str(e).splitlines()[0] if str(e) else '', 160)}); "
                                                      f"--resume continues the run from its last checkpoint")
