"""Faults: two processes on one study or run, a full disk (a real small tmpfs where mounting is permitted), and,
in the slow suite, kill -9 at random points of runs and studies, resumed to identical files."""
from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from nnstudy import load_config
from nnstudy.cli import main
from nnstudy.engine import train
from nnstudy.errors import BusyError, DiskFullError
from nnstudy.locks import DirLock

# The bundled sample (child processes cannot see the test-only toy dataset), small enough for a few seconds.
SAMPLE = ["data.name=cifar10-sample", "data.subset=400", "data.val_fraction=0.1", "train.batch_size=8",
          "train.threads=1", "optim.lr=0.01"]
TOY = ["data.name=toy-images", "train.epochs=2", "train.batch_size=16", "train.threads=1", "optim.lr=0.05"]


def nnstudy(*args: str) -> list[str]:
    return [sys.executable, "-m", "nnstudy.cli", *args]


def sample_study(tmp_path: Path, name: str = "f", epochs: int = 2, seeds: list[int] | None = None) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "seeds": seeds or [0, 1], "ablate": {"model.act": ["tanh"]},
        "base": {"model": {"name": "tutorial_cnn"}, "data": {"name": "cifar10-sample", "subset": 300},
                 "train": {"epochs": epochs, "batch_size": 10, "threads": 1, "checkpoint_every": 0}}}))
    return path


def wait_for(predicate, proc: subprocess.Popen | None = None, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process ended early: {proc.stderr.read() if proc.stderr else ''}")
        if time.time() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------------------ locks

def _holder(path: Path) -> subprocess.Popen:
    code = f"from nnstudy.locks import DirLock; import time; DirLock({str(path)!r}).acquire(); print('held', " \
           f"flush=True); time.sleep(120)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_locked_run_directory_is_refused_and_a_dead_owners_lock_taken_over(tmp_path):
    run = tmp_path / "runs" / "r"
    holder = _holder(run)
    try:
        with pytest.raises(BusyError, match=f"in use by another nnstudy process \\(pid {holder.pid} "):
            train(load_config("tutorial_cnn", [*TOY, f"out_dir={tmp_path / 'runs'}", "name=r"]), progress=False)
        assert not (run / "config.yaml").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the OS released the killed owner's lock: the run goes ahead, and the lock is this process's meanwhile
    train(load_config("tutorial_cnn", [*TOY, f"out_dir={tmp_path / 'runs'}", "name=r"]), progress=False)
    with DirLock(run):   # re-entrant within a process; released after train
        pass


def test_a_second_process_on_a_running_study_is_refused(tmp_path, capsys):
    study, out = sample_study(tmp_path, epochs=3), tmp_path / "studies"
    first = subprocess.Popen(nnstudy("run", str(study), "--out", str(out), "--quiet"), stderr=subprocess.PIPE,
                             text=True)
    lock = out / "f" / ".lock"
    wait_for(lambda: lock.is_file() and f"pid {first.pid}" in lock.read_text(), first)
    rc = main(["run", str(study), "--out", str(out), "--resume", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 75 and f"pid {first.pid}" in err and len(err.splitlines()) == 1, err
    assert first.wait(timeout=300) == 0, first.stderr.read()
    statuses = {p.name: json.loads((p / "summary.json").read_text())["status"]
                for p in (out / "f" / "runs").iterdir()}
    assert statuses == {"base__s0": "finished", "base__s1": "finished", "act=tanh__s0": "finished",
                        "act=tanh__s1": "finished"}


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc to find the worker processes")
def test_a_killed_worker_leaves_its_run_resumable(tmp_path):
    study, out = sample_study(tmp_path, epochs=3), tmp_path / "studies"
    proc = subprocess.Popen(nnstudy("run", str(study), "--out", str(out), "--quiet", "--workers", "2"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    runs = out / "f" / "runs"
    wait_for(lambda: runs.is_dir() and len(list(runs.glob("*/metrics.csv"))) >= 1, proc)   # training is under way
    workers = [c for c in _children(proc.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
    assert workers, _children(proc.pid)
    os.kill(workers[0], signal.SIGKILL)
    assert proc.wait(timeout=300) == 75
    err = proc.stderr.read()
    assert "interrupted" in err and "Traceback" not in err, err
    statuses = [json.loads(p.read_text())["status"] for p in runs.glob("*/summary.json")]
    assert "failed" not in statuses and len(statuses) < 4          # none marked failed; some left to do
    done = subprocess.run(nnstudy("run", str(study), "--out", str(out), "--quiet", "--resume"), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert [json.loads(p.read_text())["status"] for p in runs.glob("*/summary.json")] == ["finished"] * 4


# -------------------------------------------------------------------------------------------------- full disk

def _fill_disk_after(monkeypatch, n: int) -> None:
    """Every atomic write after the n-th fails as on a full disk (ENOSPC at the rename, like a full tmpfs)."""
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) > n:
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)   # (nnstudy.io renames with os.replace)


def test_full_disk_leaves_a_run_resumable(tmp_path, monkeypatch):
    args = [*TOY, "train.checkpoint_every=0", f"out_dir={tmp_path}", "name=r"]
    whole = train(load_config("tutorial_cnn", [*TOY, f"out_dir={tmp_path}", "name=whole"]), progress=False)
    with monkeypatch.context() as m:
        _fill_disk_after(m, 9)
        with pytest.raises(DiskFullError, match=f"no space left on device at {tmp_path / 'r'}"):
            train(load_config("tutorial_cnn", args), progress=False)
    assert not (tmp_path / "r" / "summary.json").exists()          # not marked failed
    assert not list((tmp_path / "r").glob(".*.tmp"))
    resumed = train(load_config("tutorial_cnn", args), resume=True, progress=False)
    assert resumed.summary["metrics"] == whole.summary["metrics"] and resumed.summary["attempts"] == 2


def test_full_disk_stops_a_study_which_resumes(tmp_path, monkeypatch, capsys):
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump({"name": "toy", "seeds": [0, 1], "base": {
        "model": {"name": "tutorial_cnn"}, "data": {"name": "toy-images"}, "optim": {"lr": 0.05},
        "train": {"epochs": 1, "batch_size": 16, "threads": 1}}}))
    out = tmp_path / "studies"
    with monkeypatch.context() as m:
        _fill_disk_after(m, 12)   # study.yaml, then the first run's files, then the disk is full
        rc = main(["run", str(path), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 75 and "no space left on device at" in err and "--resume" in err, err
    summaries = [p / "summary.json" for p in (out / "toy" / "runs").iterdir()]
    assert all(json.loads(s.read_text())["status"] == "finished" for s in summaries if s.exists())
    assert main(["run", str(path), "--out", str(out), "--quiet", "--resume"]) == 0
    assert len(list((out / "toy" / "runs").glob("*/summary.json"))) == 2


def _can_mount_tmpfs() -> str | None:
    if not shutil.which("unshare"):
        return "no unshare command"
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d"],
                           capture_output=True, text=True)
    return None if probe.returncode == 0 else f"cannot mount a tmpfs here ({probe.stderr.strip()[:80]})"


def test_full_tmpfs_for_real(tmp_path):
    """A run and a study on a 1.2 MB tmpfs (a checkpoint of the tutorial CNN with momentum is ~0.5 MB, written
    beside the previous one): both stop with one line naming the folder, and continue once there is room."""
    why = _can_mount_tmpfs()
    if why:
        pytest.skip(why)
    disk, study = tmp_path / "disk", sample_study(tmp_path, epochs=2, seeds=[0])
    disk.mkdir()
    train_cmd = " ".join(nnstudy("train", "tutorial_cnn", *SAMPLE, "train.epochs=2", "train.checkpoint_every=0",
                                 f"out_dir={disk}", "name=r", "--quiet"))
    run_cmd = " ".join(nnstudy("run", str(study), "--out", str(disk / "studies"), "--quiet"))
    script = textwrap.dedent(f"""
        mount -t tmpfs -o size=1200k tmpfs {disk} || exit 99
        {train_cmd} >/dev/null 2>{tmp_path}/train1.err; echo "train1 $?"
        {run_cmd} >/dev/null 2>{tmp_path}/run1.err; echo "run1 $?"
        test -e {disk}/r/summary.json && echo "train1 summary present"
        mount -o remount,size=64m {disk}
        {train_cmd} --resume >/dev/null 2>{tmp_path}/train2.err; echo "train2 $?"
        {run_cmd} --resume >/dev/null 2>{tmp_path}/run2.err; echo "run2 $?"
        cp {disk}/r/summary.json {tmp_path}/summary.json
    """)
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=600)
    codes = dict(line.split() for line in done.stdout.splitlines() if line.count(" ") == 1)
    errors = {k: (tmp_path / f"{k}.err").read_text() for k in ("train1", "run1", "train2", "run2")}
    assert codes["train1"] == "75", errors
    assert "train1 summary present" not in done.stdout     # not marked failed
    line = errors["train1"].strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line, line
    assert f"no space left on device at {disk / 'r'}" in line and "--resume" in line, line
    assert codes["run1"] == "75" and "no space left on device" in errors["run1"], errors
    assert codes["train2"] == "0" and codes["run2"] == "0", errors
    assert json.loads((tmp_path / "summary.json").read_text())["attempts"] == 2


# ------------------------------------------------------------------------------------- kill -9 (slow suite)

def _same_run_files(a: Path, b: Path) -> None:
    """Two run directories hold the same results: weights and predictions byte for byte, the same epochs."""
    for name in ("model.safetensors", "predictions.safetensors"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    strip = lambda p: [{k: v for k, v in row.items() if k != "train_seconds"}
                       for row in __import__("csv").DictReader(p.open())]
    assert strip(a / "metrics.csv") == strip(b / "metrics.csv")
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    assert sa["metrics"] == sb["metrics"] and sa["selected_epoch"] == sb["selected_epoch"]
    assert not list(a.glob(".*.tmp"))


@pytest.mark.slow
def test_kill_9_runs_at_random_points_resume_identically(tmp_path):
    """Ten runs, each killed at a random moment (mid-epoch checkpoints every step), resumed until done."""
    args = [*SAMPLE, "train.epochs=3", "model.act=tanh", "train.checkpoint_every=0"]
    reference = tmp_path / "ref"
    seconds = _timed(nnstudy("train", "tutorial_cnn", *args, f"out_dir={tmp_path}", "name=ref", "--quiet"),
                     reference / "config.yaml")
    rng, landed = random.Random(0), []
    for i in range(10):
        run = tmp_path / f"k{i}"
        proc = subprocess.Popen(nnstudy("train", "tutorial_cnn", *args, f"out_dir={tmp_path}", f"name=k{i}",
                                        "--quiet"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: (run / "config.yaml").exists(), proc)
        time.sleep(rng.uniform(0.0, 0.8 * seconds))   # mid-epoch, at an epoch end, in the test, after the end
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        landed.append(_where(run))
        if not (run / "summary.json").exists():
            done = subprocess.run(nnstudy("train", str(run), "--resume", "--quiet"), capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
        _same_run_files(run, reference)
    print(f"\n10 of 10 killed runs resumed to identical files; killed {_tally(landed)}")


def _timed(cmd: list[str], started: Path) -> float:
    """Run `cmd` to its end; seconds from the moment `started` appears (start-up done) to the end."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(started.exists, proc)
    t0 = time.perf_counter()
    assert proc.wait() == 0, proc.stderr.read()
    return time.perf_counter() - t0


def _where(run: Path) -> str:
    """Where a killed run stood, from its files."""
    import torch
    if (run / "summary.json").exists():
        return "after it finished"
    if not (run / "checkpoint.pt").exists():
        return "before its first checkpoint"
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    return "mid-epoch" if state["step"] else "at an epoch end"


def _tally(items: list[str]) -> str:
    return ", ".join(f"{items.count(k)}× {k}" for k in dict.fromkeys(items))


@pytest.mark.slow
def test_kill_9_studies_at_random_points_resume_identically(tmp_path):
    """Ten studies (two parallel workers) killed at a random moment and resumed give the reference's tables."""
    study = sample_study(tmp_path, epochs=2)
    ref_out = tmp_path / "ref"
    seconds = _timed(nnstudy("run", str(study), "--out", str(ref_out), "--quiet", "--workers", "2"),
                     ref_out / "f" / "study.yaml")
    rng, kept = random.Random(1), []
    for i in range(10):
        out = tmp_path / f"k{i}"
        proc = subprocess.Popen(nnstudy("run", str(study), "--out", str(out), "--quiet", "--workers", "2"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        wait_for(lambda: (out / "f" / "study.yaml").exists(), proc)
        time.sleep(rng.uniform(0.0, 0.8 * seconds))
        proc.send_signal(signal.SIGKILL)   # the study process only: its workers must notice and end
        proc.wait()
        kept.append(len(list((out / "f" / "runs").glob("*/summary.json"))))
        done = subprocess.run(nnstudy("run", str(study), "--out", str(out), "--quiet", "--resume"),
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        for run in (ref_out / "f" / "runs").iterdir():
            _same_run_files(out / "f" / "runs" / run.name, run)
        os.killpg(proc.pid, signal.SIGKILL) if _group_alive(proc.pid) else None
    print(f"\n10 of 10 killed studies resumed to identical files; finished runs of 4 at the kill: {kept}")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
