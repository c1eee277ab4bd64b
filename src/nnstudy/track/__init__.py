"""Experiment trackers (MLflow, TensorBoard, W&B offline) behind one small sink interface (base.py).

    train.log: [mlflow, tensorboard]          # in a config; or --log NAME on `nnstudy train` / `nnstudy run`
    nnstudy export STUDY_DIR|RUN_DIR --to mlflow [--uri URI]

The engine opens a run's trackers with :func:`open_run_trackers` and calls them at each epoch's end; a study
sends its own part at its end (:func:`export.finish_study_trackers`). Each tracker is an optional extra
(``nnstudy[mlflow]``, ``nnstudy[tensorboard]``, ``nnstudy[wandb]``), imported only when asked for.
See docs/tracking.md.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .base import TRACKERS, RunTrackers, Sink, check_installed

__all__ = ["TRACKERS", "Sink", "RunTrackers", "check_installed", "open_run_trackers"]


def open_run_trackers(names: list[str], run_dir: str | Path, config: dict[str, Any], resuming: bool,
                      say: Callable[[str], None], code: dict[str, Any] | None = None) -> RunTrackers:
    """The trackers `names` for the run in `run_dir` (its resolved `config` as a dict), started on their threads."""
    from .record import RunRecord
    record = RunRecord.of(run_dir, config, mode="resume" if resuming else "new", code=code)
    return RunTrackers(names, record, say)
