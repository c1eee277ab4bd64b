"""Acceptance checks on the full CIFAR-10 (slow: `python -m pytest -m slow`, needs ../shared beside the repo)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_tutorial_cnn_two_epochs_reaches_50_percent(full_cifar10, tmp_path):
    """The PyTorch tutorial's protocol (batch 4, SGD lr 0.001 momentum 0.9, 2 epochs): the tutorial reports ~54%."""
    cmd = [sys.executable, "-m", "nnstudy.cli", "train", "tutorial_cnn", "data.name=cifar10", "data.normalize=half",
           "train.epochs=2", "train.batch_size=4", "optim.name=sgd", "optim.lr=0.001", "optim.momentum=0.9",
           f"out_dir={tmp_path}", "name=tutorial", "--quiet"]
    result = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "NNSTUDY_DATA": str(full_cifar10)})
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "tutorial" / "summary.json").read_text())
    assert (summary["data"]["train"], summary["data"]["val"], summary["data"]["test"]) == (45_000, 5_000, 10_000)
    assert summary["metrics"]["test_acc"] >= 0.50, summary["metrics"]
