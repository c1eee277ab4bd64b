"""``nnstudy export STUDY_DIR|RUN_DIR --to mlflow|tensorboard|wandb [--uri URI]``: send finished runs after the fact.

Reads run directories only, through the same sinks a live run uses, so a run looks the same in the tracker whether it
was sent while it trained or afterwards. Idempotent: a run already there (tag ``nnstudy.uid`` in MLflow, the offline
folder of W&B, the event folder of TensorBoard) is not sent twice; one sent in part (the server went down mid-run)
gets what it misses.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from ..errors import NnstudyError, RunDirError, clip
from .base import check_installed, describe_error, make_sink
from .record import RunRecord, StudyRecord, read_rows, record_status, run_uid

__all__ = ["export", "export_run", "export_study", "ExportResult", "finish_study_trackers"]

_CODE_KEYS = ("nnstudy", "git_commit", "git_dirty")


@dataclass
class ExportResult:
    sent: list[str] = field(default_factory=list)        # runs sent now (whole or what they missed)
    already: list[str] = field(default_factory=list)     # runs the tracker had in full
    skipped: list[str] = field(default_factory=list)     # unfinished runs: nothing final to send
    study: str | None = None                             # where the study went (MLflow parent run id, folder)

    def line(self, to: str) -> str:
        parts = [f"{len(self.sent)} run(s) sent", f"{len(self.already)} already there"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} unfinished, not sent")
        study = f"; study → {self.study}" if self.study else ""
        return f"{to}: " + ", ".join(parts) + study


def _read_summary(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / "summary.json"
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise RunDirError(f"{path}: not valid JSON ({clip(str(e))})") from None
    return summary if isinstance(summary, dict) else None


def export_run(run_dir: str | Path, to: str, destination: str | None = None,
               tags: dict[str, str] | None = None) -> str:
    """Send one run directory to tracker `to`: "sent", "already" (there in full) or "skipped" (not finished)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise RunDirError(f"{run_dir}: not a run directory (no config.yaml)")
    summary = _read_summary(run_dir)
    status = (summary or {}).get("status")
    if status not in ("finished", "failed"):
        return "skipped"
    try:
        config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise RunDirError(f"{run_dir / 'config.yaml'}: not valid YAML ({clip(str(e))})") from None
    if tags:
        config = {**config, "tags": {**(config.get("tags") or {}), **tags}}
    environment = (summary or {}).get("environment") or {}
    record = RunRecord.of(run_dir, config, mode="export",
                          code={k: environment[k] for k in _CODE_KEYS if k in environment})
    sink = make_sink(to, destination=destination)
    try:
        sink.start(record)
        if sink.already:
            return "already"
        for row in read_rows(run_dir / "metrics.csv"):
            sink.epoch(row)
        for row in read_rows(run_dir / "steps.csv"):
            sink.steps(row)
        if status == "finished":
            sink.finish(summary)
        sink.close(failed=status != "finished")
    except NnstudyError:
        raise
    except Exception as e:
        record_status(run_dir, to, "failed", describe_error(e))
        raise NnstudyError(f"{to}: sending {run_dir} failed: {describe_error(e)}") from None
    return "sent"


def export_study(study_dir: str | Path, to: str, destination: str | None = None,
                 say: Callable[[str], None] = lambda _: None) -> ExportResult:
    """Every run of a study directory, then the study itself (MLflow: the parent run with the tables and the
    report; TensorBoard: the HParams experiment; W&B: the runs carry group and job type already)."""
    from ..study.resolved import ResolvedStudy
    study_dir = Path(study_dir)
    study = ResolvedStudy.read(study_dir)
    result = ExportResult()
    runs = []
    for cell in study.cells():
        run_dir = study_dir / "runs" / cell.name
        if not (run_dir / "config.yaml").is_file():
            continue
        runs.append(run_dir)
        outcome = export_run(run_dir, to, destination, tags={"study": study_dir.name, "variant": cell.variant.name})
        getattr(result, outcome).append(cell.name)
        say(f"{to}: {cell.name}: {outcome}")
    files = [study_dir / name for name in ("summary.csv", "results.csv", "report.md", "report.html", "study.yaml")
             if (study_dir / name).is_file()]
    if (study_dir / "figures").is_dir():
        files.append(study_dir / "figures")
    # the axes the runs here vary (a study run in part with --variants has not run the others)
    ran = {c.variant.name for c in study.cells() if study_dir / "runs" / c.name in runs}
    axes = list(dict.fromkeys(k for v in study.variants if v.name in ran for k in v.overrides))
    record = StudyRecord(study_dir, run_uid(study_dir), study_dir.name, study.baseline, axes, runs, files)
    result.study = _study_module(to).export_study(record, destination) if _study_module(to) else None
    return result


def _study_module(to: str) -> Any:
    import importlib
    module = importlib.import_module(f"nnstudy.track.{to}")
    return module if hasattr(module, "export_study") else None


def export(path: str | Path, to: str, destination: str | None = None,
           say: Callable[[str], None] = lambda _: None) -> ExportResult:
    """A study directory or a run directory to tracker `to` (see the module's docstring)."""
    check_installed([to], "--to")
    path = Path(path)
    if (path / "study.yaml").is_file():
        return export_study(path, to, destination, say)
    if (path / "config.yaml").is_file():
        result = ExportResult()
        getattr(result, export_run(path, to, destination)).append(path.name)
        return result
    raise NnstudyError(f"{path}: neither a study directory (study.yaml) nor a run directory (config.yaml)")


def finish_study_trackers(study_dir: str | Path, trackers: list[str],
                          say: Callable[[str], None] = lambda _: None) -> None:
    """At a study's end, for each tracker its runs asked for: the study part, and any run its live logging
    missed. A tracker that is down is reported in one line; the study's result stands."""
    for to in trackers:
        try:
            result = export(study_dir, to)
        except NnstudyError as e:
            say(f"nnstudy: {clip(str(e), 300)}; `nnstudy export {study_dir} --to {to}` sends the study later")
            continue
        say(f"nnstudy: {result.line(to)}")
