"""The Ray backend, on a real local Ray instance (and, in the slow suite, a two-node cluster on this machine)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

ray = pytest.importorskip("ray", reason="the Ray backend's tests need ray (pip install 'nnstudy[ray]')")

from nnstudy.study import load_study_spec, run_study  # noqa: E402

# what a run measures about itself (times, memory, throughput) differs between any two runs
_MEASURED = ("train_seconds", "eval_seconds", "train_samples_per_second", "peak_rss_mb", "run_dir")


def _study(path: Path, name: str = "tiny", seeds=(0, 1), data: dict | None = None, **train) -> Path:
    path.write_text(yaml.safe_dump({
        "name": name, "seeds": list(seeds), "ablate": {"model.act": ["tanh"]},
        "base": {"model": {"name": "mlp", "hidden": [16]}, "data": data or {"name": "cifar10-sample", "subset": 200},
                 "train": {"epochs": 2, "batch_size": 32, "threads": 1, **train}}}))
    return path


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """A local Ray instance of 2 CPUs whose workers see an empty data root (as a node without the data would)."""
    empty = tmp_path_factory.mktemp("no-data")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             runtime_env={"env_vars": {"NNSTUDY_DATA": str(empty)}})
    yield
    ray.shutdown()


def _same_results(a: Path, b: Path) -> None:
    left, right = (pd.read_csv(p / "results.csv").drop(columns=list(_MEASURED)) for p in (a, b))
    pd.testing.assert_frame_equal(left, right)


def _table(study_dir: Path) -> None:
    from nnstudy.report import finish_study
    finish_study(study_dir)


def test_ray_gives_the_same_tables_as_the_serial_backend(tmp_path, local_ray):
    spec = load_study_spec(_study(tmp_path / "s.yaml"))
    on_ray = run_study(spec, out_dir=tmp_path / "ray", backend="ray", progress=False)
    serial = run_study(spec, out_dir=tmp_path / "serial", progress=False)
    assert on_ray.failed == 0 and len(on_ray.results) == 4
    for outcome in (on_ray, serial):
        _table(outcome.study_dir)
    _same_results(on_ray.study_dir, serial.study_dir)   # bit-identical metrics: the same engine, one thread each
    run = on_ray.study_dir / "runs" / "base__s0"
    assert {p.name for p in run.iterdir()} >= {"config.yaml", "metrics.csv", "summary.json", "model.safetensors",
                                               "checkpoint.pt", "predictions.safetensors"}
    assert not list(run.glob("*.tmp*")) and not (run / ".lock").exists()


def test_runs_travel_through_a_storage_uri(tmp_path, local_ray):
    store = tmp_path / "store"
    spec = load_study_spec(_study(tmp_path / "s.yaml", seeds=[0]))
    outcome = run_study(spec, out_dir=tmp_path / "studies", backend="ray", storage=str(store), progress=False)
    assert outcome.failed == 0
    for run in ("base__s0", "act=tanh__s0"):
        here = json.loads((outcome.study_dir / "runs" / run / "summary.json").read_text())
        there = json.loads((store / run / "summary.json").read_text())
        assert here == there and here["status"] == "finished"


def test_a_node_without_the_dataset_fails_its_run_in_one_line_naming_the_node(tmp_path, local_ray):
    # address given: the data is not checked on this machine (a cluster's nodes each have their own copy)
    spec = load_study_spec(_study(tmp_path / "s.yaml", seeds=[0], data={"name": "seizure"}), ["train.epochs=1"])
    outcome = run_study(spec, out_dir=tmp_path / "studies", backend="ray", address="auto", progress=False)
    assert outcome.failed == 2
    error = outcome.results[0].error
    assert error.startswith("on node ") and "nnstudy data fetch seizure" in error and "\n" not in error


def test_a_bad_storage_uri_or_address_is_one_line(tmp_path):
    from nnstudy.errors import ConfigError
    spec = load_study_spec(_study(tmp_path / "s.yaml", seeds=[0]))
    with pytest.raises(ConfigError, match="--storage 'nope://x'"):
        run_study(spec, out_dir=tmp_path / "studies", backend="ray", storage="nope://x", progress=False)
    with pytest.raises(ConfigError, match="--address and --storage are for --backend ray"):
        run_study(spec, out_dir=tmp_path / "studies", storage=str(tmp_path), progress=False)
    assert not (tmp_path / "studies").exists()


def test_driver_killed_mid_study_resumes_keeping_finished_runs(tmp_path):
    """`nnstudy run --backend ray` (its own local Ray instance) killed with SIGKILL, process group and all; --resume
    keeps the finished runs untouched and completes the study."""
    study = _study(tmp_path / "s.yaml", name="killed", seeds=[0, 1, 2], checkpoint_every=0)
    args = [sys.executable, "-m", "nnstudy.cli", "run", str(study), "--backend", "ray", "--out", str(tmp_path),
            "--quiet"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    runs = tmp_path / "killed" / "runs"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if any(json.loads(p.read_text()).get("status") == "finished" for p in runs.glob("*/summary.json")):
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read().decode()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = {p.parent.name: p.stat().st_mtime_ns for p in runs.glob("*/summary.json")
            if json.loads(p.read_text()).get("status") == "finished"}
    assert kept and len(kept) < 6
    done = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    statuses = {p.parent.name: json.loads(p.read_text())["status"] for p in runs.glob("*/summary.json")}
    assert len(statuses) == 6 and set(statuses.values()) == {"finished"}
    assert {name: (runs / name / "summary.json").stat().st_mtime_ns for name in kept} == kept


@pytest.mark.slow
def test_two_node_cluster_and_a_lost_node(tmp_path):
    """Ray's own multi-node harness on this machine: a head node for the driver and two worker nodes of one CPU.
    The study directory on the driver ends complete (the nodes write in their own temporary folders); a node
    removed mid-run has its run finish on the other node, continued from the last checkpoint it sent."""
    from ray.cluster_utils import Cluster

    from nnstudy.study.backends import ray as backend
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    nodes = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    try:
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        backend.SYNC_SECONDS = 0.5   # the test's runs are short: send checkpoints often
        study = _study(tmp_path / "s.yaml", name="cluster", seeds=[0], checkpoint_every=0,
                       data={"name": "cifar10-sample"})
        spec = load_study_spec(study, ["train.epochs=8", "model.hidden=[256]"])
        runs = tmp_path / "cluster" / "runs"

        def remove_a_node_once_a_checkpoint_arrived():
            deadline = time.time() + 120
            while time.time() < deadline:
                if list(runs.glob("*/checkpoint.pt")) and not list(runs.glob("*/summary.json")):
                    cluster.remove_node(nodes[1])
                    return
                time.sleep(0.1)

        import threading
        remover = threading.Thread(target=remove_a_node_once_a_checkpoint_arrived)
        remover.start()
        outcome = run_study(spec, out_dir=tmp_path, backend="ray", address=cluster.address, progress=False)
        remover.join()
        assert outcome.failed == 0 and len(outcome.results) == 2
        summaries = [json.loads((runs / r / "summary.json").read_text()) for r in ("base__s0", "act=tanh__s0")]
        assert all(s["status"] == "finished" for s in summaries)
        assert max(s["attempts"] for s in summaries) >= 2   # one run was continued, not started again from zero
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_runs_on_ray_reach_their_trackers(tmp_path, local_ray, monkeypatch):
    from mlflow import MlflowClient
    uri = (tmp_path / "mlruns").as_uri()   # a file store: its artifacts stay beside it, whatever a worker's cwd
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)   # the driver's environment, passed to every task
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    spec = load_study_spec(_study(tmp_path / "s.yaml", seeds=[0], log=["tensorboard", "mlflow"]))
    outcome = run_study(spec, out_dir=tmp_path / "studies", backend="ray", progress=False)
    assert outcome.failed == 0
    for run in ("base__s0", "act=tanh__s0"):   # written on the worker, synced back with the run's files
        assert list((outcome.study_dir / "runs" / run / "tensorboard").glob("events.out.tfevents.*"))
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["act=tanh__s0", "base__s0"]
    assert all(r.info.status == "FINISHED" and "summary/test_acc" in r.data.metrics for r in runs)
