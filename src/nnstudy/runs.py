"""Run directories: the only thing studies and reports read.

    runs/<name>/
      config.yaml            resolved config (every builder default filled in)
      metrics.csv            one row per epoch (train and validation metrics, lr, seconds)
      steps.csv              with train.eval_every_steps: validation metrics every N optimiser steps
      summary.json           written last: status, selected epoch, test metrics, params, timings, environment
      model.safetensors      the weights of the epoch selected on validation (used for the test metrics)
      checkpoint.pt          last training state for --resume (weights_only=True loadable)
      predictions.safetensors  test-set predictions and targets

Every file is written atomically. A finished run (summary.json with status "finished") is never overwritten.
"""
from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import yaml

from .config import RunConfig, config_to_dict, dump_yaml, parse_config
from .errors import RunDirError, clip
from .io import TMP_GLOB, write_json, write_text
from .locks import LOCK_NAME, DirLock
from .names import check_name

__all__ = ["RunDir", "prepare_run_dir", "named", "default_run_name", "first_difference", "RESUME_MAY_CHANGE"]


class RunDir:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock: DirLock | None = None

    def lock(self) -> "RunDir":
        """Make the directory this process's (BusyError naming the owner if another process has it)."""
        if self._lock is None:
            self._lock = DirLock(self.path, "run").acquire()
        return self

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def remove_stale_files(self) -> None:
        """Temporary files a killed writer left behind (only while this process holds the lock)."""
        for tmp in self.path.glob(TMP_GLOB):
            tmp.unlink(missing_ok=True)

    config_path = property(lambda self: self.path / "config.yaml")
    metrics_path = property(lambda self: self.path / "metrics.csv")
    steps_path = property(lambda self: self.path / "steps.csv")
    summary_path = property(lambda self: self.path / "summary.json")
    weights_path = property(lambda self: self.path / "model.safetensors")
    checkpoint_path = property(lambda self: self.path / "checkpoint.pt")
    predictions_path = property(lambda self: self.path / "predictions.safetensors")

    def exists(self) -> bool:
        return self.config_path.is_file()

    def summary(self) -> dict[str, Any] | None:
        if not self.summary_path.is_file():
            return None
        try:
            summary = json.loads(self.summary_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RunDirError(f"{self.summary_path}: not valid JSON ({clip(str(e))})") from None
        except RecursionError:
            raise RunDirError(f"{self.summary_path}: nested too deeply to be a run summary") from None
        if not isinstance(summary, dict):
            raise RunDirError(f"{self.summary_path}: not a JSON object (a run summary is one)")
        return summary

    def is_finished(self) -> bool:
        s = self.summary()
        return bool(s) and s.get("status") == "finished"

    def read_config(self) -> RunConfig:
        """The run's config as recorded (the schema checked; resolve it to build anything from it)."""
        if not self.config_path.is_file():
            raise RunDirError(f"{self.path}: not a run directory (no config.yaml)")
        return parse_config(self.config_path)

    def write_config(self, cfg: RunConfig) -> None:
        write_text(self.config_path, dump_yaml(cfg))

    def write_metrics(self, rows: list[dict[str, Any]], path: Path | None = None) -> None:
        """Rows as CSV (metrics.csv unless `path`), columns in order of first appearance."""
        columns: list[str] = []
        for row in rows:
            columns += [k for k in row if k not in columns]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        write_text(path or self.metrics_path, buf.getvalue())

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json(self.summary_path, summary)


def default_run_name(cfg: RunConfig) -> str:
    name = f"{cfg.model.name}-{cfg.data.name}-s{cfg.train.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    return re.sub(r'[/\\<>:"|?*$`\s]', "_", name)[:200]   # model and data names are not checked as names


def named(cfg: RunConfig) -> RunConfig:
    """`cfg` with its run name (a new config, named by default_run_name when it has none)."""
    return cfg if cfg.name is not None else cfg.model_copy(update={"name": check_name(default_run_name(cfg))})


def prepare_run_dir(cfg: RunConfig, resume: bool) -> tuple[RunDir, bool]:
    """The run directory for `cfg` (named: see :func:`named`), locked by this process (call ``run.unlock()`` when
    done), and whether it continues an earlier attempt (resume).

    A finished run is never overwritten; an unfinished one is continued only with resume=True, and only with
    the same config. The directory is identified by itself: where it lies and how its path is spelled
    (absolute, relative, moved) do not matter.
    """
    if cfg.name is None:
        raise ValueError("prepare_run_dir needs a named config (runs.named)")
    run = RunDir(Path(cfg.out_dir) / check_name(cfg.name))
    if run.path.is_file():
        raise RunDirError(f"{run.path}: is a file, not a run directory; choose another name=")
    run.lock()
    try:
        return run, _check_resumable(run, cfg, resume)
    except BaseException:
        run.unlock()
        raise


def _check_resumable(run: RunDir, cfg: RunConfig, resume: bool) -> bool:
    if not run.exists():
        if any(p.name != LOCK_NAME and not p.match(TMP_GLOB) for p in run.path.iterdir()):
            raise RunDirError(f"{run.path}: exists and is not a run directory; choose another name=")
        run.remove_stale_files()
        return False
    if run.is_finished():
        raise RunDirError(f"{run.path}: is a finished run and is never overwritten; choose another name=")
    if not resume:
        raise RunDirError(f"{run.path}: an unfinished run is there; pass --resume to continue it, "
                          f"or choose another name=")
    diff = first_difference(config_to_dict(run.read_config()), config_to_dict(cfg), ignore=RESUME_MAY_CHANGE)
    if diff:
        raise RunDirError(f"{run.path}: cannot resume with a different config ({diff})")
    run.remove_stale_files()
    return True


# Settings of how a run executes, not of what it computes, that a resumed run may change (e.g. another
# --workers count splits the CPU threads differently; another --nproc splits the same global batches over more or
# fewer processes, as after losing a GPU; compile only changes how the same step is computed; trackers and tags
# only say where the run is shown), and where the run lies (out_dir, name): a run directory is identified by
# itself, so a moved one or one named through another path resumes.
RESUME_MAY_CHANGE = frozenset({"train.threads", "train.checkpoint_every", "train.eval_batch_size", "train.nproc",
                               "train.compile", "train.log", "tags", "out_dir", "name"})


def first_difference(a: Any, b: Any, prefix: str = "", ignore: frozenset[str] = frozenset()) -> str | None:
    """The first dotted key where two nested dicts differ, with both values; None when equal."""
    if prefix.rstrip(".") in ignore:
        return None
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            d = first_difference(a.get(key), b.get(key), f"{prefix}{key}.", ignore)
            if d:
                return d
        return None
    if a != b:
        return f"{prefix.rstrip('.')}: {_shown(a)} in the run, {_shown(b)} now"
    return None


def _shown(value: Any) -> str:
    return clip(yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip())
