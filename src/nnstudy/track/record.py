"""What every tracker is sent about a run, read once here: flat parameters, tags, rows, summary values.

A run directory gets a tracking.json the first time a tracker sees it:

    {"uid": "3f2c…", "trackers": {"mlflow": {"status": "sent"}, "tensorboard": {"status": "failed", "error": "…"}}}

`uid` names the run in every tracker (MLflow tag ``nnstudy.uid``, W&B run id), so that sending a run again —
``nnstudy export`` after a live run, or twice — finds the copy already there instead of making a second one.
"""
from __future__ import annotations

import csv
import json
import math
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import RunDirError, clip
from ..io import write_json

__all__ = ["RunRecord", "StudyRecord", "flat_params", "summary_values", "read_rows", "run_uid", "record_status",
           "tracking_state", "read_finished", "TRACKING_FILE", "SUMMARY_PREFIX", "numeric"]

TRACKING_FILE = "tracking.json"
# summary values go to the trackers as "summary/test_acc", "summary/params", …: apart from the per-epoch curves
SUMMARY_PREFIX = "summary/"


def tracking_state(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / TRACKING_FILE
    if not path.is_file():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunDirError(f"{path}: not valid JSON ({clip(str(e))})") from None
    return state if isinstance(state, dict) else {}


_STATE_LOCK = threading.Lock()   # trackers' threads and the training thread write tracking.json


def run_uid(folder: str | Path) -> str:
    """The folder's id for trackers (a run's or a study's), made and saved the first time it is asked for."""
    with _STATE_LOCK:
        state = tracking_state(folder)
        uid = state.get("uid")
        if not (isinstance(uid, str) and uid.isalnum() and 8 <= len(uid) <= 64):
            uid = uuid.uuid4().hex
            write_json(Path(folder) / TRACKING_FILE, {**state, "uid": uid})
        return uid


def record_status(run_dir: str | Path, tracker: str, status: str, error: str | None = None, **extra: str) -> None:
    """Whether `tracker` has the run ("sent") or not ("failed", with why), in the run's tracking.json."""
    with _STATE_LOCK:
        state = tracking_state(run_dir)
        trackers = dict(state.get("trackers") or {})
        trackers[tracker] = {"status": status, **({"error": error} if error else {}), **extra}
        write_json(Path(run_dir) / TRACKING_FILE, {**state, "trackers": trackers})


def numeric(value: Any) -> float | None:
    """A finite number as float (CSV text included); None for anything else."""
    if isinstance(value, bool):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def flat_params(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """The resolved config as dotted keys (``optim.lr``), values as text (lists in YAML's flow style)."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        if key == "tags" and not prefix:   # sent as the tracker's tags
            continue
        if isinstance(value, dict) and value:
            flat.update(flat_params(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = _text(value)
    return flat


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return str(value)


def summary_values(summary: dict[str, Any]) -> dict[str, float]:
    """The finished run's numbers a tracker shows beside its curves: test (and selected val/train) metrics,
    parameters, MACs, FLOPs, seconds, peak memory (MB), the selected epoch."""
    values: dict[str, float] = {}
    metrics = summary.get("metrics") or {}
    # test metrics first: trackers that show the first few columns only (TensorBoard's HParams) show these
    for key in sorted(metrics, key=lambda k: not k.startswith("test_")):
        values[key] = numeric(metrics[key])
    compute = summary.get("compute") or {}
    values["params"] = numeric(summary.get("params", compute.get("params")))
    for key in ("macs", "flops"):
        values[key] = numeric(compute.get(key))
    for key, value in (summary.get("time") or {}).items():
        values[key] = numeric(value)
    for key, value in (summary.get("memory") or {}).items():
        values[key] = numeric(value)
    values["selected_epoch"] = numeric(summary.get("selected_epoch"))
    return {k: v for k, v in values.items() if v is not None}


def read_finished(run_dir: Path) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(summary, config) of a finished run; (None, {}) for any other folder."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return None, {}
    if not (isinstance(summary, dict) and summary.get("status") == "finished" and isinstance(config, dict)):
        return None, {}
    return summary, config


def read_rows(path: Path) -> list[dict[str, Any]]:
    """metrics.csv / steps.csv rows as written (numbers as text); [] when the file is not there."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@dataclass(frozen=True)
class RunRecord:
    """One run as trackers see it."""

    path: Path                       # the run directory
    uid: str
    name: str
    config: dict[str, Any]           # the resolved config (config.yaml)
    tags: dict[str, str]             # nnstudy.* tags, the config's tags, study/variant/seed
    # "new": a run starting; "resume": a run continuing (the tracker may hold its first part); "export": a run
    # sent after the fact (whole, unless the tracker holds it in full already)
    mode: str = "new"
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, str]:
        return flat_params(self.config)

    @property
    def study(self) -> str | None:
        return self.config.get("tags", {}).get("study")

    @property
    def variant(self) -> str | None:
        return self.config.get("tags", {}).get("variant")

    @property
    def seed(self) -> int:
        return int((self.config.get("train") or {}).get("seed", 0))

    @classmethod
    def of(cls, path: str | Path, config: dict[str, Any], mode: str = "new",
           code: dict[str, Any] | None = None) -> "RunRecord":
        path = Path(path)
        uid = run_uid(path)
        user_tags = {str(k): str(v) for k, v in (config.get("tags") or {}).items()}
        tags = {"nnstudy.uid": uid, "nnstudy.run": str(config.get("name")),
                "nnstudy.model": str(config["model"]["name"]),
                "nnstudy.data": str((config.get("data") or {}).get("name")),
                "nnstudy.seed": str((config.get("train") or {}).get("seed", 0))}
        for key, value in (code or {}).items():   # nnstudy's version, the git commit and whether it was dirty
            tags["nnstudy.version" if key == "nnstudy" else f"nnstudy.{key}"] = _text(value)
        tags.update({f"nnstudy.{k}" if k in ("study", "variant") else k: v for k, v in user_tags.items()})
        return cls(path, uid, str(config.get("name")), config, tags, mode, dict(code or {}))


@dataclass(frozen=True)
class StudyRecord:
    """A study directory as trackers see it: its runs (finished or not) and its tables and report."""

    path: Path
    uid: str
    name: str                        # the study directory's name (cifar-cnn-ablation-quick)
    baseline: str
    axes: list[str]                  # the keys the variants differ in (optim.lr, model.act, …)
    runs: list[Path]
    files: list[Path]                # tables and report files that exist
