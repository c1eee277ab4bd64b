"""TensorBoard: one event folder per run (scalars named as metrics.csv's columns, step = epoch; ``steps/…`` at the
optimiser step; ``summary/…`` at the end) and the HParams plugin's session data, so that the HParams tab compares
a study's variants.

Where: ``RUN_DIR/tensorboard`` by default, so ``tensorboard --logdir studies/NAME`` shows a study's runs; with a
`destination` folder (``nnstudy export --to tensorboard --uri DIR``), ``DIR/<study>/<run>``. A study adds one
folder (``STUDY_DIR/tensorboard``) with the HParams experiment: its columns are the variant, the axes and the seed,
its metrics the summary values.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from .base import Sink
from .record import (
    SUMMARY_PREFIX,
    RunRecord,
    StudyRecord,
    numeric,
    read_finished,
    record_status,
    summary_values,
    tracking_state,
)

__all__ = ["make_sink", "TensorBoardSink", "export_study", "run_folder"]

EVENTS_GLOB = "events.out.tfevents.*"


def make_sink(destination: str | None = None) -> "TensorBoardSink":
    return TensorBoardSink(destination)


def run_folder(run: RunRecord, destination: str | None) -> Path:
    if destination is None:
        return (run.path / "tensorboard").resolve()
    return (Path(destination) / (run.study or "runs") / run.name).resolve()


def _hparam(value: Any) -> Any:
    """TensorBoard keeps numbers, text and booleans; anything else as its text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(str, value)) + "]"
    return "null" if value is None else str(value)


class TensorBoardSink(Sink):
    name = "tensorboard"

    def __init__(self, destination: str | None = None) -> None:
        self.destination = destination
        self.writer: SummaryWriter | None = None
        self.done = False

    def start(self, run: RunRecord) -> None:
        self.record = run
        folder = run_folder(run, self.destination)
        state = (tracking_state(run.path).get("trackers") or {}).get("tensorboard") or {}
        if run.mode == "export" and state.get("status") == "sent" and state.get("folder") == str(folder) \
                and any(folder.glob(EVENTS_GLOB)):
            self.already = True   # sent already: exporting again makes no second copy
            return
        # written whole, a resumed run too (the engine sends its history again): what an earlier attempt left goes
        for old in folder.glob(EVENTS_GLOB):
            old.unlink()
        self.folder = folder
        # flush_secs: a live run's curves show up in TensorBoard within 30 s
        self.writer = SummaryWriter(str(folder), flush_secs=30)
        start, _, _ = self._session(run)
        self.writer.file_writer.add_summary(start)

    def _session(self, run: RunRecord) -> tuple[Any, Any, Any]:
        values = {"variant": run.variant or run.name, "seed": run.seed}
        values.update({k: _hparam(v) for k, v in _flat(run.config).items()})
        exp, ssi, sei = hparams(values, {})
        return ssi, sei, exp

    def epoch(self, row: dict[str, Any]) -> None:
        if self.writer is not None:
            self._scalars({k: v for k, v in row.items() if k != "epoch"}, int(row["epoch"]))

    def steps(self, row: dict[str, Any]) -> None:
        if self.writer is not None:
            self._scalars({f"steps/{k}": v for k, v in row.items() if k not in ("step", "epoch")}, int(row["step"]))

    def _scalars(self, values: dict[str, Any], step: int) -> None:
        for key, value in values.items():
            number = numeric(value)
            if number is not None:
                self.writer.add_scalar(key, number, step)

    def finish(self, summary: dict[str, Any]) -> None:
        if self.writer is None:
            return
        self._scalars({SUMMARY_PREFIX + k: v for k, v in summary_values(summary).items()},
                      int(summary.get("selected_epoch") or 0))
        _, end, _ = self._session(self.record)
        self.writer.file_writer.add_summary(end)
        self.done = True

    def close(self, failed: bool = False) -> None:
        if self.writer is not None:
            self.writer.close()
            if self.done:   # where it went: an export to the same folder finds it there
                record_status(self.record.path, "tensorboard", "sent", folder=str(self.folder))


def _flat(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if key == "tags" and not prefix:
            continue
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def export_study(study: StudyRecord, destination: str | None = None) -> Path:
    """The HParams experiment of a study: its columns the variant, the axes and the seed; its metrics the summary
    values of the finished runs. Written again on every export (one small file)."""
    folder = study.path / "tensorboard" if destination is None else Path(destination) / study.name / "study"
    summaries = [(s, c) for s, c in (read_finished(r) for r in study.runs) if s is not None]
    metrics = {SUMMARY_PREFIX + k: 0.0 for s, _ in summaries for k in summary_values(s)}
    values: dict[str, Any] = {"variant": study.baseline, "seed": 0}
    first = _flat(summaries[0][1]) if summaries else {}
    values.update({axis: _hparam(first.get(axis, "")) for axis in study.axes})
    exp, _, _ = hparams(values, metrics)
    shutil.rmtree(folder, ignore_errors=True)
    writer = SummaryWriter(str(folder))
    writer.file_writer.add_summary(exp)
    writer.close()
    return folder
