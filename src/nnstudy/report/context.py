"""What a report reads, once: the study, its tables, and each run's history, steps, summary and predictions.

Everything comes from the study directory (through nnstudy.study.results); a file that cannot be read is named
in the report's notes, never a reason to fail the report.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..errors import clip
from ..runs import RunDir
from ..study.resolved import ResolvedStudy
from . import figures as F

__all__ = ["Run", "Context", "read_history", "read_predictions", "read_scores", "read_forecasts", "file_slug",
           "read_sample_images", "class_names", "agg_value", "number", "whole", "data_info", "recorded"]

@dataclass
class Run:
    variant: str
    seed: int
    status: str
    path: Path
    history: pd.DataFrame | None = None
    steps: pd.DataFrame | None = None       # steps.csv (validation every N steps)
    summary: dict[str, Any] | None = None
    predictions: dict[str, np.ndarray] | None = None   # predictions.safetensors, read on first use
    notes: list[str] = field(default_factory=list)      # files found unreadable (the report's notes)


class Context:
    """Everything the figures and the text need, read once.

    Summaries are read through :func:`nnstudy.study.results.read_summary`, so the fields read here have their JSON
    types (objects are dicts, counts are numbers); what lies inside them is still only trusted as far as shown.
    """

    def __init__(self, study_dir: Path, study: ResolvedStudy, runs: pd.DataFrame, agg: pd.DataFrame,
                 table: pd.DataFrame, say: Callable[[str], None]) -> None:
        self.study_dir, self.study, self.runs, self.agg, self.table, self.say = study_dir, study, runs, agg, table, say
        self.report = study.report
        self.metric: str = self.report.metric
        self.baseline: str = study.baseline
        self.variants: list[str] = study.variant_names
        self.colors = F.variant_colors(self.variants)
        self.notes: list[str] = []             # figures skipped and why, shown in the report
        self.by_variant: dict[str, list[Run]] = {v: [] for v in self.variants}

    def load_runs(self) -> None:
        from ..study.results import read_summary
        for row in self.runs.itertuples(index=False):
            rel = Path(str(row.run_dir))
            run = Run(str(row.variant), int(row.seed), str(row.status),
                       rel if rel.is_absolute() else self.study_dir / rel, notes=self.notes)
            if run.status == "finished":
                try:
                    run.summary = read_summary(RunDir(run.path))
                except Exception:          # collect_runs already lists a corrupt summary as such
                    run.summary = None
            run.history = read_history(run.path / "metrics.csv", self.notes)
            run.steps = read_history(run.path / "steps.csv", self.notes)   # train.eval_every_steps, when set
            self.by_variant.setdefault(run.variant, []).append(run)

    def finished(self, variant: str) -> list[Run]:
        return [r for r in self.by_variant.get(variant, []) if r.status == "finished"]

    def agg_row(self, variant: str) -> pd.Series | None:
        hits = self.agg[self.agg["variant"].astype(str) == variant]
        return None if hits.empty else hits.iloc[0]

    def loss_name(self) -> str | None:
        for runs in self.by_variant.values():
            for r in runs:
                if r.summary and r.summary.get("task") == "classification":
                    return "cross-entropy, nats"
        return None


def read_history(path: Path, notes: list[str]) -> pd.DataFrame | None:
    """metrics.csv / steps.csv of a run; None (and a note saying why, shown in the report) when unreadable."""
    if not path.is_file():
        return None
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as e:
        notes.append(f"{path}: unreadable, left out of the curves ({clip(str(e), 120)})")
        return None
    if "epoch" not in df.columns or not len(df) or not pd.api.types.is_numeric_dtype(df["epoch"]):
        notes.append(f"{path}: not a table of epochs, left out of the curves")
        return None
    return df


def prediction_tensors(run: Run) -> dict[str, np.ndarray]:
    """predictions.safetensors of a run as arrays by name ({} when missing or unreadable, with a note), read once
    per run: the confusion matrix, ROC curves and forecast plots all draw from it."""
    if run.predictions is None:
        run.predictions = {}
        path = RunDir(run.path).predictions_path
        if path.is_file():
            try:
                from safetensors.numpy import load_file
                run.predictions = load_file(str(path))
            except Exception as e:
                run.notes.append(f"{path}: unreadable, left out of the figures ({clip(str(e), 120)})")
    return run.predictions


def read_predictions(run: Run) -> tuple[np.ndarray, np.ndarray] | None:
    tensors = prediction_tensors(run)
    pred, target = tensors.get("pred"), tensors.get("target")
    if pred is None or target is None or pred.shape != target.shape or pred.ndim != 1:
        return None
    if not (np.issubdtype(pred.dtype, np.integer) and np.issubdtype(target.dtype, np.integer)):
        return None                            # e.g. a forecasting run's values: no classes to confuse
    return pred.astype(np.int64), target.astype(np.int64)


def read_sample_images(run: Run) -> tuple[np.ndarray, np.ndarray] | None:
    """(indices into the test split, uint8 N×C×H×W images) the run kept for the prediction grid, or None."""
    tensors = prediction_tensors(run)
    index, images = tensors.get("sample_index"), tensors.get("sample_images")
    if index is None or images is None or images.dtype != np.uint8 or images.ndim != 4 or len(index) != len(images):
        return None
    target = tensors.get("target")
    if target is None or index.max(initial=-1) >= len(target):
        return None
    return index.astype(np.int64), images


def class_names(run: Run, k: int) -> list[str]:
    """The class names the run's summary recorded, or 0..k-1 when it has none (or too few)."""
    names = ((run.summary or {}).get("data") or {}).get("class_names")
    if isinstance(names, list) and len(names) >= k and all(isinstance(n, str) for n in names):
        return names
    return [str(i) for i in range(k)]


def read_scores(run: Run) -> tuple[np.ndarray, np.ndarray] | None:
    """(score, is_positive) of a run's test samples, when its task kept scores (classification with auc=true):
    the log-odds of the positive class and whether each sample belongs to it."""
    tensors = prediction_tensors(run)
    score, target = tensors.get("score"), tensors.get("target")
    if score is None or target is None or score.shape != target.shape or score.ndim != 1:
        return None
    try:
        positive = int((RunDir(run.path).read_config().task.model_extra or {}).get("positive", 1))
    except Exception:
        return None
    return score.astype(np.float64), target == positive


def data_info(run: Run) -> dict[str, Any]:
    """What the run's summary recorded about its data (data.info), {} when nothing."""
    info = ((run.summary or {}).get("data") or {}).get("info")
    return info if isinstance(info, dict) else {}


def recorded(ctx: Context, key: str) -> str | None:
    """A text the finished runs recorded in data.info (e.g. unit 'MW', step 'hour'), from the first that has it."""
    for variant in ctx.variants:
        for run in ctx.finished(variant):
            value = data_info(run).get(key)
            if isinstance(value, str) and value:
                return value
    return None


def read_forecasts(run: Run, hours: int = 100) -> list[tuple[str, np.ndarray, np.ndarray]] | None:
    """Panels for a forecasting run: the last `hours` test steps of the first group and the first `hours` of the
    fourth (or last), in original units — from predictions.safetensors (pred, target, group) and the scalers the
    run's summary recorded. None for runs without per-group float predictions."""
    info = data_info(run)
    step = info.get("step") if isinstance(info.get("step"), str) else "step"
    scalers, regions = info.get("scalers"), info.get("regions")
    if not scalers or not regions:
        return None
    t = prediction_tensors(run)
    pred, target, group = t.get("pred"), t.get("target"), t.get("group")
    if group is None or pred is None or not np.issubdtype(pred.dtype, np.floating):
        return None
    panels = []
    try:
        for index, part in ((0, "last"), (min(3, len(regions) - 1), "first")):
            name = regions[index]
            lo, hi = (float(x) for x in scalers[name])
            rows = np.flatnonzero(group == index)
            rows = rows[-hours:] if part == "last" else rows[:hours]
            scale = lambda v: v[rows].astype(np.float64) * (hi - lo) + lo   # noqa: E731  scaled → original units
            panels.append((f"{name}: {part} {len(rows)} test {step}s", scale(target), scale(pred)))
    except (TypeError, ValueError, KeyError, IndexError):   # scalers or regions not as the engine writes them
        return None
    return panels


def file_slug(name: str, taken: set[str]) -> str:
    """A file-name-safe, unique form of a variant name ('act=tanh' -> 'act-tanh')."""
    base = re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-.") or "variant"
    slug, k = base, 2
    while slug in taken:
        slug, k = f"{base}-{k}", k + 1
    taken.add(slug)
    return slug


def number(value: Any) -> float | None:
    """A value of a user's file as a float (a number or a numeric string), None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def whole(value: Any) -> int | None:
    """A value of a user's file as an int when it is a finite whole number, else None."""
    x = number(value) if not isinstance(value, str) else None
    return int(x) if x is not None and math.isfinite(x) and x == int(x) else None


def agg_value(ctx: Context, variant: str, column: str, default: Any = float("nan")) -> Any:
    row = ctx.agg_row(variant)
    if row is None or column not in row.index or pd.isna(row[column]):
        return default
    return row[column]
