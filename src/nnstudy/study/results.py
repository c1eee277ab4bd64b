"""Study results: read the run directories of a study into one table per run and one per variant.

    <study_dir>/study.yaml              the resolved study (variants, seeds, baseline, report settings)
    <study_dir>/runs/<variant>__s<seed>/  one run directory per (variant, seed) (spec.run_name), see nnstudy.runs

Everything here reads files only, so a report can be rebuilt at any time, also while a sweep is still running
(unfinished runs are listed with their status, not silently dropped). Each variant is compared with the baseline on
``report.metric`` by Welch's t-test over seeds (:data:`TEST_DESCRIPTION`).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import RunDirError, clip
from ..io import atomic_path
from ..runs import RunDir
from .resolved import ResolvedStudy, quoted, yaml_scalar

__all__ = ["TEST_DESCRIPTION", "ALPHA", "read_study", "collect_runs", "read_summary", "summary_problem",
           "aggregate", "write_tables", "compare", "format_mean_std", "summary_table"]

ALPHA = 0.05   # significance level of the verdicts; the intervals are (1 - ALPHA) = 95 %
TEST_DESCRIPTION = ("Welch's two-sample t-test (unequal variances), two-sided, α = 0.05; "
                    "95% confidence interval of the difference of means over seeds (variant − baseline)")
NOT_ENOUGH_SEEDS = "not enough seeds (need ≥ 2 finished per variant)"

# Columns of collect_runs() before the metric columns, in this order.
RUN_COLUMNS = ["variant", "seed", "status", "error", "run_dir", "model", "params", "macs", "flops",
               "flops_detailed", "train_seconds", "eval_seconds", "train_samples_per_second", "peak_rss_mb",
               "selected_epoch", "attempts"]
# Counts that are whole numbers: nullable Int64 so that CSV shows 62006, not 62006.0, and a missing run stays NA.
_INT_COLUMNS = ["params", "macs", "flops", "flops_detailed", "selected_epoch", "attempts"]
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
           # scalar metrics only: a task may add structured results, which have no mean over seeds
           "metrics": {k: v for k, v in (summary.get("metrics") or {}).items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)}}
    if "peak_gpu_mb" in memory:
        row["peak_gpu_mb"] = memory["peak_gpu_mb"]
    return row


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
    and the comparison with the baseline on report.metric (diff, ci_low, ci_high, p_value, verdict).

    std uses ddof=1 (NaN with fewer than 2 seeds). diff is variant mean − baseline mean, so its sign is the raw
    direction; the verdict reads it through report.mode ("max": higher is better).
    """
    variants = study.variant_names
    metric, baseline = study.report.metric, study.baseline
    numeric = [c for c in runs.columns if c != "seed" and c not in study.axes
               and pd.api.types.is_numeric_dtype(runs[c])]
    finished = runs[runs["status"] == "finished"]
    groups = {name: finished[finished["variant"] == name] for name in variants}

    def values(name: str) -> np.ndarray:
        if metric not in runs.columns:
            return np.array([])
        col = groups[name][metric].astype("float64")
        return col[col.notna()].to_numpy()

    base_values = values(baseline)
    rows = []
    for name in variants:
        g, statuses = groups[name], runs.loc[runs["variant"] == name, "status"]
        row: dict[str, Any] = {"variant": name, "n": len(g)}
        row.update({s: int((statuses == s).sum()) for s in _STATUSES[1:]})
        for c in numeric:
            col = g[c].astype("float64")
            row[f"{c}_mean"] = col.mean() if col.notna().any() else math.nan
            row[f"{c}_std"] = col.std(ddof=1) if col.notna().sum() >= 2 else math.nan
        if name == baseline:
            row.update(diff=math.nan, ci_low=math.nan, ci_high=math.nan, p_value=math.nan, verdict="baseline")
        else:
            row.update(compare(values(name), base_values, study.report.mode))
        rows.append(row)
    table = pd.DataFrame(rows)
    table["variant"] = pd.Categorical(table["variant"], categories=variants, ordered=True)
    table["verdict"] = table["verdict"].astype("string")
    for i, key in enumerate(study.axes):
        table.insert(1 + i, key, axis_column([study.axis_value(v, key) for v in study.variants]))
    return table


def compare(x: np.ndarray, y: np.ndarray, mode: str) -> dict[str, Any]:
    """Welch comparison of a variant's seeds `x` with the baseline's `y`: diff, ci_low, ci_high, p_value, verdict."""
    x, y = np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
    nx, ny = len(x), len(y)
    out = {"diff": float(x.mean() - y.mean()) if nx and ny else math.nan,
           "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan}
    if nx < 2 or ny < 2:
        return {**out, "verdict": NOT_ENOUGH_SEEDS}
    diff = out["diff"]
    seeds = f"{nx} seeds" if nx == ny else f"{nx} and {ny} seeds"
    # Squared standard errors of the two means. Equal values are tested exactly: their float variance can come
    # out as 1e-33 instead of 0, which would turn "no spread" into an absurdly significant t.
    vx = x.var(ddof=1) / nx if np.ptp(x) > 0 else 0.0
    vy = y.var(ddof=1) / ny if np.ptp(y) > 0 else 0.0
    if vx + vy == 0:
        # No spread on either side: the t statistic is 0/0 or ±inf, neither is evidence. State what we see.
        if math.isclose(x.mean(), y.mean(), rel_tol=1e-12, abs_tol=1e-15):   # equal up to float rounding
            return {**out, "diff": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0,
                    "verdict": f"no detectable difference with {seeds}"}
        return {**out, "ci_low": diff, "ci_high": diff,
                "verdict": f"{_direction(diff, mode)} (identical seeds; no spread to test)"}
    se = math.sqrt(vx + vy)
    # Welch–Satterthwaite degrees of freedom; a side with zero variance contributes nothing.
    df = (vx + vy) ** 2 / ((vx ** 2 / (nx - 1) if vx else 0.0) + (vy ** 2 / (ny - 1) if vy else 0.0))
    half = float(stats.t.ppf(1 - ALPHA / 2, df)) * se
    if vx and vy:
        p = float(stats.ttest_ind(x, y, equal_var=False).pvalue)
    else:   # the same test; scipy would warn about (and be unsure of) the constant side's float variance
        p = float(2 * stats.t.sf(abs(diff) / se, df))
    verdict = _direction(diff, mode) if p < ALPHA else f"no detectable difference with {seeds}"
    return {**out, "ci_low": diff - half, "ci_high": diff + half, "p_value": p, "verdict": verdict}


def _direction(diff: float, mode: str) -> str:
    return "better" if (diff > 0) == (mode == "max") else "worse"


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


# ----------------------------------------------------------------------------------------------------- display

def format_mean_std(mean: float, std: float, digits: int) -> str:
    """'0.593 ± 0.012' (`digits` decimals); '0.593' when std is NaN (one seed); '—' when there is no value."""
    if mean is None or pd.isna(mean):
        return "—"
    if std is None or pd.isna(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def summary_table(agg: pd.DataFrame, study: ResolvedStudy) -> pd.DataFrame:
    """The study's table as display strings, one row per variant (what report.md/report.html and the CLI print).

    Columns: variant, n, each report metric (mean ± std over finished seeds), params, MACs (per sample, forward
    pass), train s, eval s, the write-up's value of report.metric when the study gives references,
    diff <metric> [95% CI] (variant − baseline), p, verdict.
    """
    report = study.report
    metric = report.metric
    reference = report.reference
    out = pd.DataFrame({"variant": agg["variant"].astype(str)})
    out["n"] = [_seed_count(r) for _, r in agg.iterrows()]
    digits = {}
    for m in report.all_metrics:
        digits[m] = _digits(agg.get(f"{m}_mean"))
        out[m] = _mean_std_column(agg, m, digits[m])
    out["params"] = [_integer(v) for v in agg.get("params_mean", pd.Series(math.nan, index=agg.index))]
    out["MACs"] = [_integer(v) for v in agg.get("macs_mean", pd.Series(math.nan, index=agg.index))]
    out["train s"] = _mean_std_column(agg, "train_seconds", _digits(agg.get("train_seconds_mean")))
    out["eval s"] = _mean_std_column(agg, "eval_seconds", _digits(agg.get("eval_seconds_mean")))
    if any(metric in (reference.get(v) or {}) for v in out["variant"]):
        out[f"{metric} (write-up)"] = [_plain((reference.get(v) or {}).get(metric)) for v in out["variant"]]
    d = digits[metric]
    out[f"diff {metric} [95% CI]"] = [_diff_cell(r, d) for _, r in agg.iterrows()]
    out["p"] = [_p_cell(p) for p in agg["p_value"]]
    out["verdict"] = agg["verdict"].astype(str).to_numpy()
    return out.reset_index(drop=True)


def _mean_std_column(agg: pd.DataFrame, col: str, digits: int) -> list[str]:
    if f"{col}_mean" not in agg:
        return ["—"] * len(agg)
    return [format_mean_std(m, s, digits) for m, s in zip(agg[f"{col}_mean"], agg[f"{col}_std"])]


def _seed_count(row: pd.Series) -> str:
    """'3', or '2 (1 failed)': unfinished seeds are said, not hidden."""
    notes = [f"{int(row[s])} {s}" for s in _STATUSES[1:] if s in row and row[s]]
    return f"{int(row['n'])}" + (f" ({', '.join(notes)})" if notes else "")


def _digits(means: pd.Series | None) -> int:
    """Decimals for a column, from its largest magnitude: 0.593 → 3, 0.0123 → 4, 45.6 → 2, 1243.5 → 1."""
    if means is None:
        return 3
    values = pd.to_numeric(means, errors="coerce").abs().dropna()
    values = values[values > 0]
    if values.empty:
        return 3
    top = values.max()
    return 4 if top < 0.01 else 3 if top < 10 else 2 if top < 100 else 1 if top < 10_000 else 0


def _integer(value: float) -> str:
    return "—" if pd.isna(value) else f"{round(float(value)):,}"


def _plain(value: Any) -> str:
    """A write-up's number as they wrote it (0.593, 93.07, 1243)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _diff_cell(row: pd.Series, digits: int) -> str:
    if row["verdict"] == "baseline" or pd.isna(row["diff"]):
        return "—"
    cell = f"{row['diff']:+.{digits}f}"
    if pd.notna(row["ci_low"]):
        cell += f" [{row['ci_low']:+.{digits}f}, {row['ci_high']:+.{digits}f}]"
    return cell


def _p_cell(p: float) -> str:
    if pd.isna(p):
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"
