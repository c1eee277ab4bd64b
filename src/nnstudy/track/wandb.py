"""Weights & Biases, offline: no account, no network. Each run is written as W&B's own offline files, grouped by study
(`group`) and variant (`job_type`), with the flat config, per-epoch history, summary values and the weights and
config as an artifact; ``wandb sync DIR/wandb/offline-run-*`` uploads them later.

Where: ``RUN_DIR/wandb`` by default; ``DEST/wandb`` with a `destination` folder. ``WANDB_MODE=online`` (and a login)
sends them at once instead; ``WANDB_PROJECT`` names the project (default: the study's name, or "nnstudy"). The W&B
run id is the run's uid, so a resumed run continues the same W&B run and ``wandb sync`` never makes two.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import wandb

from .base import Sink
from .record import SUMMARY_PREFIX, RunRecord, numeric, summary_values, tracking_state

__all__ = ["make_sink", "WandbSink", "offline_folders"]


def make_sink(destination: str | None = None) -> "WandbSink":
    return WandbSink(destination)


def offline_folders(root: Path, uid: str) -> list[Path]:
    return sorted((root / "wandb").glob(f"*-run-*-{uid}"))


class WandbSink(Sink):
    name = "wandb"

    def __init__(self, destination: str | None = None) -> None:
        self.destination = destination
        self.run: Any = None
        self.step_of: dict[str, str] = {}   # history key -> the key that is its x axis ("epoch" or "steps/step")

    def start(self, run: RunRecord) -> None:
        self.record = run
        root = (Path(self.destination) if self.destination is not None else run.path).resolve()
        state = (tracking_state(run.path).get("trackers") or {}).get("wandb") or {}
        existing = offline_folders(root, run.uid)
        if run.mode == "export" and state.get("status") == "sent" and state.get("folder") == str(root) and existing:
            self.already = True   # written already: an export makes no second copy
            return
        # written whole, a resumed run too (the engine sends its history again): what an earlier attempt left goes
        for folder in existing:
            shutil.rmtree(folder, ignore_errors=True)
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        tags = [f"{k.removeprefix('nnstudy.')}={v}"[:64] for k, v in run.tags.items()
                if k not in ("nnstudy.uid", "nnstudy.run")]
        self.run = wandb.init(
            mode=os.environ.get("WANDB_MODE", "offline"), dir=str(root), id=run.uid, resume="allow",
            project=os.environ.get("WANDB_PROJECT") or run.study or "nnstudy", group=run.study,
            job_type=run.variant, name=run.name, config=run.params, tags=tags, reinit="create_new",
            settings=wandb.Settings(silent=True, console="off", save_code=False, x_disable_stats=True,
                                    x_disable_meta=True))

    def _log(self, values: dict[str, Any], axis: str, step: int) -> None:
        row = {k: n for k, n in ((k, numeric(v)) for k, v in values.items()) if n is not None}
        for key in row:
            if key not in self.step_of:
                self.step_of[key] = axis
                self.run.define_metric(key, step_metric=axis)
        self.run.log({axis: step, **row})

    def epoch(self, row: dict[str, Any]) -> None:
        if self.run is not None:
            self._log({k: v for k, v in row.items() if k != "epoch"}, "epoch", int(row["epoch"]))

    def steps(self, row: dict[str, Any]) -> None:
        if self.run is not None:
            self._log({f"steps/{k}": v for k, v in row.items() if k not in ("step", "epoch")}, "steps/step",
                      int(row["step"]))

    def finish(self, summary: dict[str, Any]) -> None:
        if self.run is None:
            return
        self.run.summary.update({SUMMARY_PREFIX + k: v for k, v in summary_values(summary).items()})
        artifact = wandb.Artifact(f"model-{self.record.uid}", type="model",
                                  metadata={"run": self.record.name, "study": self.record.study})
        for name in ("model.safetensors", "config.yaml", "summary.json"):
            if (self.record.path / name).is_file():
                artifact.add_file(str(self.record.path / name))
        self.run.log_artifact(artifact)
        self.finished = True

    def close(self, failed: bool = False) -> None:
        if self.run is None:
            return
        self.run.finish(exit_code=1 if failed else 0)
        if getattr(self, "finished", False):
            from .record import record_status
            record_status(self.record.path, "wandb", "sent", folder=str(self.root))
