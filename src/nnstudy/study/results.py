"""Study results: read the run directories of a study into one table per run and one per variant.

    <study_dir>/study.yaml              the resolved study (variants, seeds, baseline, report settings)
    <study_dir>/runs/<variant>__s<seed>/  one run directory per (variant, seed) (spec.run_name), see nnstudy.runs

Everything here reads files only, so a report can be rebuilt at any time, also while a sweep is still running
(unfinished runs are listed with their status, not silently dropped). Each variant is compared with the baseline on
``report.metric`` over seeds, all comparisons of the study as one family (study/verdicts.py, docs/verdicts.md).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import NnstudyError, RunDirError, clip
from ..io import atomic_path
from ..runs import RunDir
from . import verdicts
from .adaptive import metric_by_seed, seeds_wanted, sequential_progress
from .resolved import ResolvedStudy, quoted, yaml_scalar

__all__ = ["read_study", "collect_runs", "read_summary", "summary_problem", "aggregate", "write_tables",
           "chance_level", "describe_verdicts"]

# Columns of collect_runs() before the metric columns, in this order.
RUN_COLUMNS = ["variant", "seed", "status", "error", "run_dir", "model", "params", "macs", "flops",
               "flops_detailed", "train_seconds", "eval_seconds", "train_samples_per_second", "peak_rss_mb",
               "selected_epoch", "attempts", "num_classes"]
# Counts that are whole numbers: nullable Int64 so that CSV shows 62006, not 62006.0, and a missing run stays NA.
_INT_COLUMNS = ["params", "macs", "flops", "flops_detailed", "selected_epoch", "attempts", "num_classes"]
_STATUSES = ("finished", "failed", "running", "missing", "corrupt")

# The fields of summary.json that the tables and the report read, by the JSON type they must have (or null).
_OBJECT_FIELDS = ("metrics", "compute", "time", "memory", "data", "environment", "in_training_eval", "task_fitted")
_NUMBER_FIELDS = ("params", "selected_epoch", "attempts")
_TEXT_FIELDS = ("status", "model", "task")


# ------------------------------------------------------------------------------------------------------ reading

def read_study(study_dir: str | Path) -> ResolvedStudy:
    """The resolved study of `study_dir` (its study.yaml); RunDirError (one line) when missing or malformed."""
    return ResolvedStudy.read(study_dir)


def collect_runs(study_dir: str | Path) -> pd.DataFrame:
    """One row per (variant, seed) the study expects, in study order, whatever state its run is in.

    status: "finished", "failed" (summary says so; `error` says why), "running" (config.yaml but no summary yet;
    also a run killed before it finished, until it is resumed) or "missing" (not started). Numbers and metrics are
    those of the run's summary.json (metrics of the epoch selected on validation, test metrics once at the end).
    """
    study_dir = Path(study_dir)
    study = read_study(study_dir)
    variants = study.variant_names
    rows, metric_names = [], []
    for cell in study.cells():
        rel = Path("runs") / cell.name
        row = {"variant": cell.variant.name, "seed": cell.seed, "run_dir": rel.as_posix(),
               **_run_row(RunDir(study_dir / rel))}
        metric_names += [k for k in row.get("metrics", {}) if k not in metric_names]
        rows.append(row)
    columns = list(RUN_COLUMNS)
    if any("peak_gpu_mb" in r for r in rows):     # a column only for studies that ran on a GPU
        columns.insert(columns.index("peak_rss_mb") + 1, "peak_gpu_mb")
    table = pd.DataFrame([{**{c: r.get(c) for c in columns},
                           **{m: r.get("metrics", {}).get(m) for m in metric_names}} for r in rows],
                         columns=columns + metric_names)
    table["variant"] = pd.Categorical(table["variant"], categories=variants, ordered=True)
    table["seed"] = table["seed"].astype("int64")
    for i, key in enumerate(study.axes):   # one column per axis, beside variant: df.groupby("optim.lr") works
        by_variant = {v.name: study.axis_value(v, key) for v in study.variants}
        table.insert(2 + i, key, axis_column([by_variant[str(v)] for v in table["variant"]]))
    for col in ("status", "error", "run_dir", "model"):
        table[col] = table[col].astype("string")
    for col in table.columns[table.columns.get_loc("params"):]:
        table[col] = pd.to_numeric(table[col], errors="coerce")
        table[col] = table[col].astype("Int64" if col in _INT_COLUMNS else "float64")
    if study.adaptive is not None:   # seeds a variant does not need (yet, or any more) are not missing runs
        wanted = seeds_wanted(table, study)
        position = {seed: i for i, seed in enumerate(study.seeds)}
        keep = [row.status != "missing" or position[row.seed] < wanted[str(row.variant)]
                for row in table.itertuples(index=False)]
        table = table[keep].reset_index(drop=True)
    return table


def axis_column(values: list[Any]) -> pd.Series:
    """An axis's values as one typed column: numbers, booleans, or text (lists and mappings as YAML, `[16, 32]`)."""
    if all(isinstance(v, bool) for v in values):
        return pd.Series(values, dtype="boolean")
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) or v is None for v in values):
        return pd.Series([math.nan if v is None else v for v in values], dtype="float64")
    return pd.Series([None if v is None else v if isinstance(v, str) else yaml_scalar(v) for v in values],
                     dtype="string")


def _run_row(run: RunDir) -> dict[str, Any]:
    """The columns one run directory contributes (status and, when finished, its numbers)."""
    try:
        summary = read_summary(run)
    except RunDirError as e:       # a corrupt summary must not hide the other runs of the study
        return {"status": "corrupt", "error": str(e)}
    if summary is None:
        return {"status": "running" if run.exists() else "missing"}
    if summary.get("status") != "finished":
        return {"status": "failed", "error": str(summary.get("error") or f"status {quoted(summary.get('status'))}"),
                "model": summary.get("model"), "attempts": summary.get("attempts")}
    compute, timing, memory = (summary.get(k) or {} for k in ("compute", "time", "memory"))
    row = {"status": "finished", "model": summary.get("model"),
           "params": summary.get("params", compute.get("params")),
           "macs": compute.get("macs"), "flops": compute.get("flops"), "flops_detailed": compute.get("detailed"),
           "train_seconds": timing.get("train_seconds"), "eval_seconds": timing.get("eval_seconds"),
           "train_samples_per_second": timing.get("train_samples_per_second"),
           "peak_rss_mb": memory.get("peak_rss_mb"),
           "selected_epoch": summary.get("selected_epoch"), "attempts": summary.get("attempts"),
           "num_classes": _num_classes(summary, run),
           # scalar metrics only: a task may add structured results, which have no mean over seeds
           "metrics": {k: v for k, v in (summary.get("metrics") or {}).items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)}}
    if "peak_gpu_mb" in memory:
        row["peak_gpu_mb"] = memory["peak_gpu_mb"]
    return row


def _num_classes(summary: dict[str, Any], run: RunDir) -> int | None:
    """The classes of a run's data: recorded in summary.json's data (or its class names); for runs from before it
    was recorded, the model's num_classes in config.yaml. None for values (regression, forecasting)."""
    data = summary.get("data") or {}
    names = (data.get("info") or {}).get("class_names") or data.get("class_names")
    value = data.get("num_classes", len(names) if isinstance(names, list) else None)
    if value is None and summary.get("task") == "classification":
        try:
            value = (run.read_config().model.model_extra or {}).get("num_classes")
        except NnstudyError:   # an unreadable config.yaml: no chance level, not a broken table
            value = None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_summary(run: RunDir) -> dict[str, Any] | None:
    """A run's summary.json (None when there is none yet), checked to be what the tables and the report read.

    Raises RunDirError (one line, naming the file) when it is not valid JSON, not a JSON object, or a field they
    read has the wrong type (:func:`summary_problem`).
    """
    summary = run.summary()
    problem = None if summary is None else summary_problem(summary)
    if problem:
        raise RunDirError(f"{run.summary_path}: {problem}")
    return summary


def summary_problem(summary: Any) -> str | None:
    """What is wrong with the structure of a parsed summary.json (e.g. "not a JSON object", "'metrics' is not a
    JSON object (a list)"), or None when every field the tables and the report read has its JSON type or is null."""
    if not isinstance(summary, dict):
        return f"not a JSON object ({_json_type(summary)})"
    for key in _OBJECT_FIELDS:
        if summary.get(key) is not None and not isinstance(summary[key], dict):
            return f"{key!r} is not a JSON object ({_json_type(summary[key])})"
    for key in _NUMBER_FIELDS:
        value = summary.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"{key!r} is not a number ({_json_type(value)})"
    for key in _TEXT_FIELDS:
        if summary.get(key) is not None and not isinstance(summary[key], str):
            return f"{key!r} is not a string ({_json_type(summary[key])})"
    info = (summary.get("data") or {}).get("info")
    if info is not None and not isinstance(info, dict):
        return f"'data.info' is not a JSON object ({_json_type(info)})"
    return None


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, with a short sample: 'a list', "a string 'x'", 'the number 3'."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, (int, float)):
        return f"the number {clip(value, 30)}"
    if isinstance(value, str):
        return f"a string {clip(value, 40)!r}" if len(value) <= 40 else "a string"
    return {dict: "an object", list: "a list"}.get(type(value), type(value).__name__)


# -------------------------------------------------------------------------------------------------- aggregating

def aggregate(runs: pd.DataFrame, study: ResolvedStudy) -> pd.DataFrame:
    """One row per variant (study order): seed counts, mean and std of every numeric column over finished seeds,
    and the comparison with the baseline on report.metric: diff, ci_low, ci_high, p_value, p_adjusted,
    p_equivalence, test, verdict, seeds_needed, reason (see verdicts.compare_variants).

    std uses ddof=1 (NaN with fewer than 2 seeds). diff is variant − baseline, so its sign is the raw direction; the
    verdict reads it through report.mode ("max": higher is better). Variants ran the baseline's seeds, so each
    comparison is paired by seed (with seed_keys, each seed also drew its own split, shared by all variants).
    """
    variants = study.variant_names
    baseline = study.baseline
    numeric = [c for c in runs.columns if c not in ("seed", "num_classes") and c not in study.axes
               and pd.api.types.is_numeric_dtype(runs[c])]
    finished = runs[runs["status"] == "finished"]
    rows = []
    for name in variants:
        g, statuses = finished[finished["variant"] == name], runs.loc[runs["variant"] == name, "status"]
        row: dict[str, Any] = {"variant": name, "n": len(g)}
        row.update({s: int((statuses == s).sum()) for s in _STATUSES[1:]})
        for c in numeric:
            col = g[c].astype("float64")
            row[f"{c}_mean"] = col.mean() if col.notna().any() else math.nan
            row[f"{c}_std"] = col.std(ddof=1) if col.notna().sum() >= 2 else math.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    comparisons = _comparisons(runs, study)
    for key in _VERDICT_COLUMNS:
        table[key] = [comparisons.get(name, {}).get(key, _BASELINE_ROW.get(key, math.nan)) if name != baseline
                      else _BASELINE_ROW.get(key, math.nan) for name in variants]
    table["variant"] = pd.Categorical(table["variant"], categories=variants, ordered=True)
    for key in ("verdict", "test", "reason"):
        table[key] = table[key].astype("string")
    table["seeds_needed"] = pd.array([None if pd.isna(v) else int(v) for v in table["seeds_needed"]], dtype="Int64")
    for i, key in enumerate(study.axes):
        table.insert(1 + i, key, axis_column([study.axis_value(v, key) for v in study.variants]))
    return table


_VERDICT_COLUMNS = ("diff", "ci_low", "ci_high", "p_value", "p_adjusted", "p_equivalence", "test", "verdict",
                    "seeds_needed", "reason")
_BASELINE_ROW = {"verdict": "baseline", "test": None, "reason": None, "seeds_needed": None}


def chance_level(metric: str, num_classes: Any) -> float | None:
    """What guessing scores on `metric`: 1 / classes for accuracy (balanced classes; the majority-class rate is
    higher on imbalanced data, so this flags less, never more), 0.5 for ROC AUC; None when unknown."""
    name = metric.removeprefix("test_").removeprefix("val_").removeprefix("train_")
    if name == "roc_auc":
        return 0.5
    if name == "acc" and not pd.isna(num_classes) and int(num_classes) >= 2:
        return 1.0 / int(num_classes)
    return None


def _comparisons(runs: pd.DataFrame, study: ResolvedStudy) -> dict[str, dict[str, Any]]:
    if study.adaptive is not None:
        return _sequential_rows(runs, study)
    report = study.report
    seeds = list(study.seeds)
    others = [v for v in study.variant_names if v != study.baseline]
    if not others:
        return {}
    classes = runs["num_classes"].dropna() if "num_classes" in runs.columns else pd.Series(dtype="float64")
    chance = chance_level(report.metric, classes.iloc[0] if len(classes) else math.nan)
    return verdicts.compare_variants(
        {v: metric_by_seed(runs, report.metric, v, seeds) for v in others},
        metric_by_seed(runs, report.metric, study.baseline, seeds), report.mode, paired=True, test=report.test,
        correction=report.correction, margin=report.margin, chance_level=chance)


def _sequential_rows(runs: pd.DataFrame, study: ResolvedStudy) -> dict[str, dict[str, Any]]:
    """The verdict rows of an adaptive study: each comparison's last look of the group-sequential test."""
    rows = {}
    for variant, progress in sequential_progress(runs, study).items():
        step = progress.step
        if step is None:
            rows[variant] = {"verdict": verdicts.NOT_ENOUGH_SEEDS, "test": "group-sequential paired t-test"}
            continue
        c = step.comparison
        rows[variant] = {
            "diff": c.diff, "ci_low": c.ci_low, "ci_high": c.ci_high, "p_value": c.p_value, "p_adjusted": math.nan,
            "p_equivalence": math.nan, "test": "group-sequential paired t-test", "verdict": step.verdict,
            "seeds_needed": None,
            "reason": f"group-sequential paired t-test, look at {step.n} seeds: decides when |t| ≥ "
                      f"{step.boundary:.2f} (nominal p < {step.nominal_level:.2g}; α spent so far {step.spent:.3g} "
                      f"of {verdicts.ALPHA:g}/{max(1, len(study.variants) - 1)})"}
    return rows


def describe_verdicts(agg: pd.DataFrame, study: ResolvedStudy) -> str:
    """How the study's verdicts were reached, in one sentence (each row's own test is in its `reason`)."""
    m = int(agg["p_value"].notna().sum()) if "p_value" in agg else 0
    if study.adaptive is not None:
        return (f"seeds added until decided ({study.adaptive.first} to {len(study.seeds)} per variant): a "
                f"group-sequential paired t-test per comparison, Lan–DeMets O'Brien–Fleming-type α spending at "
                f"{verdicts.ALPHA:g}/{max(1, len(study.variants) - 1)} each (Bonferroni: family-wise error ≤ "
                f"{verdicts.ALPHA:g}); the p column is the last look's nominal p, not a fixed-sample p-value")
    if "diff" in agg and not agg["diff"].notna().any():   # a partial study: no variant has 2 seeds beside the baseline
        return (f"no comparison made yet (each needs ≥ 2 finished seeds per side; two-sided tests at "
                f"α = {verdicts.ALPHA:g})")
    return verdicts.describe(study.report.correction, m, verdicts.ALPHA, study.report.margin)


# ------------------------------------------------------------------------------------------------------ writing

def write_tables(study_dir: str | Path) -> dict[str, Path]:
    """Write results.csv/.parquet (one row per run) and summary.csv/.parquet (one per variant) into `study_dir`.

    Returns {file name: path}. Each file is replaced atomically, so a reader never sees half a table.
    """
    study_dir = Path(study_dir)
    study = read_study(study_dir)
    runs = collect_runs(study_dir)
    tables = {"results": runs, "summary": aggregate(runs, study)}
    paths: dict[str, Path] = {}
    for stem, table in tables.items():
        for ext in ("csv", "parquet"):
            path = study_dir / f"{stem}.{ext}"
            with atomic_path(path) as tmp:
                if ext == "csv":
                    table.to_csv(tmp, index=False)
                else:
                    table.to_parquet(tmp, index=False)
            paths[path.name] = path
    return paths
