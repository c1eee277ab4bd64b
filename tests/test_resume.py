"""A run killed mid-epoch (SIGKILL) and resumed ends with the same numbers as an uninterrupted one."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from nnstudy import load_config
from nnstudy.engine import train
from nnstudy.errors import RunDirError

# The bundled sample, so the child process needs no test-only dataset; small enough for a few seconds.
ARGS = ["data.name=cifar10-sample", "data.subset=600", "data.val_fraction=0.1", "train.epochs=4",
        "train.batch_size=8", "train.threads=1", "optim.lr=0.01", "model.act=tanh"]


def _cmd(out_dir, name, *extra):
    return [sys.executable, "-m", "nnstudy.cli", "train", "tutorial_cnn", *ARGS, f"out_dir={out_dir}",
            f"name={name}", "--quiet", *extra]


def test_kill_mid_epoch_and_resume_gives_same_numbers(tmp_path):
    out = tmp_path / "runs"
    reference = train(load_config("tutorial_cnn", ARGS + [f"out_dir={out}", "name=whole"]), progress=False)

    # checkpoint_every=0: a checkpoint after every step, so the kill lands between two of them.
    proc = subprocess.Popen(_cmd(out, "killed", "train.checkpoint_every=0"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    metrics = out / "killed" / "metrics.csv"
    deadline = time.time() + 120
    while not metrics.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.1)                      # into epoch 2 (about 1 s per epoch here)
    assert proc.poll() is None, proc.stderr.read().decode()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "killed" / "summary.json").exists()

    # Without --resume the unfinished run is protected.
    with pytest.raises(RunDirError, match="--resume"):
        train(load_config("tutorial_cnn", ARGS + [f"out_dir={out}", "name=killed",
                                                  "train.checkpoint_every=0"]), progress=False)
    # A different config cannot continue it.
    with pytest.raises(RunDirError, match="different config"):
        train(load_config("tutorial_cnn", ARGS + [f"out_dir={out}", "name=killed", "optim.lr=0.02",
                                                  "train.checkpoint_every=0"]), resume=True, progress=False)

    done = subprocess.run([sys.executable, "-m", "nnstudy.cli", "train", str(out / "killed"), "--resume",
                           "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    import json
    resumed = json.loads((out / "killed" / "summary.json").read_text())
    assert resumed["attempts"] == 2
    assert resumed["metrics"] == reference.summary["metrics"]
    assert (out / "killed" / "metrics.csv").read_text().split("\n")[1:] != []
    strip = lambda text: [",".join(c for i, c in enumerate(line.split(",")) if i != len(line.split(",")) - 1)
                          for line in text.splitlines()]   # last column is wall seconds
    assert strip((out / "killed" / "metrics.csv").read_text()) == strip((out / "whole" / "metrics.csv").read_text())
