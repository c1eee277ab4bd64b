"""A study's per-variant table as display strings: what the terminal, report.md and report.html show.

One way of showing numbers throughout (nnstudy.numbers): each column gets its decimals from its own values.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .. import numbers as N
from .resolved import ResolvedStudy

__all__ = ["summary_table", "places", "adjusted_p_column", "verdict_columns", "COST_COLUMNS", "chance_note"]

_STATUSES = ("failed", "running", "missing", "corrupt")
_CORRECTION_NAMES = {"holm": "Holm", "bh": "BH", "bonferroni": "Bonferroni"}
COST_COLUMNS = ["params", "MACs", "train s", "eval s"]


def adjusted_p_column(study: ResolvedStudy) -> str | None:
    """'p (Holm)', 'p (BH)', ...; None when the study's p-values are not adjusted (or, adding seeds until
    decided, its comparisons are split by Bonferroni inside the sequential test instead)."""
    name = None if study.adaptive is not None else _CORRECTION_NAMES.get(study.report.correction)
    return f"p ({name})" if name else None


def reference_column(study: ResolvedStudy) -> str:
    """The summary table's column of the reference values of report.metric, named by what they are."""
    return f"{study.report.metric} ({study.report.reference_label})"


def summary_table(agg: pd.DataFrame, study: ResolvedStudy) -> pd.DataFrame:
    """One row per variant, display strings. Columns: variant, n, each report metric (mean ± std over finished
    seeds), the reference value of report.metric (column "<metric> (<report.reference_label>)", when the study
    gives references), diff <metric> [95% CI] (variant − baseline), p, the adjusted p, verdict; then the costs:
    params, MACs (per sample, forward pass), train s, eval s (verdict_columns and COST_COLUMNS split them)."""
    report = study.report
    metric, reference = report.metric, report.reference
    out = pd.DataFrame({"variant": agg["variant"].astype(str)})
    out["n"] = [_seed_count(r) for _, r in agg.iterrows()]
    digits = {}
    for m in report.all_metrics:
        digits[m] = places(agg, m)
        out[m] = _mean_std_column(agg, m, digits[m])
    if any(metric in (reference.get(v) or {}) for v in out["variant"]):
        values = [N.plain((reference.get(v) or {}).get(metric)) for v in out["variant"]]
        out[reference_column(study)] = values
    d = digits[metric]
    out[f"diff {metric} [95% CI]"] = [_diff_cell(r, d) for _, r in agg.iterrows()]
    out["p"] = [N.p_value(p) for p in agg["p_value"]]
    adjusted = adjusted_p_column(study)
    if adjusted:
        out[adjusted] = [N.p_value(p) for p in agg["p_adjusted"]]
    out["verdict"] = agg["verdict"].astype(str).to_numpy()
    out["params"] = [N.integer(v) for v in _column(agg, "params_mean")]
    out["MACs"] = [N.integer(v) for v in _column(agg, "macs_mean")]
    out["train s"] = _mean_std_column(agg, "train_seconds", places(agg, "train_seconds"))
    out["eval s"] = _mean_std_column(agg, "eval_seconds", places(agg, "eval_seconds"))
    return out.reset_index(drop=True)


def verdict_columns(table: pd.DataFrame) -> list[str]:
    """The table's columns about the metrics and the verdict (everything but the costs)."""
    return [c for c in table.columns if c not in COST_COLUMNS]


def _column(agg: pd.DataFrame, name: str) -> pd.Series:
    return agg[name] if name in agg else pd.Series(math.nan, index=agg.index)


def _values(agg: pd.DataFrame, col: str) -> list[Any]:
    """A column's means and standard deviations: its decimals must show both."""
    return [*_column(agg, f"{col}_mean"), *_column(agg, f"{col}_std")]


def places(agg: pd.DataFrame, col: str) -> int:
    """The decimals `col` (a metric) is shown with wherever its mean ± std appears: enough to tell the variants'
    means apart."""
    return N.decimals(_values(agg, col), distinguish=_column(agg, f"{col}_mean"))


def _mean_std_column(agg: pd.DataFrame, col: str, digits: int) -> list[str]:
    if f"{col}_mean" not in agg:
        return [N.DASH] * len(agg)
    return [N.mean_std(m, s, digits) for m, s in zip(agg[f"{col}_mean"], agg[f"{col}_std"])]


def _seed_count(row: pd.Series) -> str:
    """'3', or '2 (1 failed)': unfinished seeds are said, not hidden."""
    notes = [f"{int(row[s])} {s}" for s in _STATUSES if s in row and row[s]]
    return f"{int(row['n'])}" + (f" ({', '.join(notes)})" if notes else "")


def _diff_cell(row: pd.Series, digits: int) -> str:
    if row["verdict"] == "baseline" or pd.isna(row["diff"]):
        return N.DASH
    cell = N.signed(row["diff"], digits)
    if pd.notna(row["ci_low"]):
        cell += f" [{N.signed(row['ci_low'], digits)}, {N.signed(row['ci_high'], digits)}]"
    return cell


def chance_note(agg: pd.DataFrame, baseline: str) -> str | None:
    """A warning when the baseline or a variant scored at chance level (typical of --quick): the comparisons it is
    part of get no verdict."""
    verdicts = dict(zip(agg["variant"].astype(str), agg["verdict"].astype(str)))
    variants = [v for v, text in verdicts.items() if text.startswith("variant at chance level")]
    if any(text.startswith("baseline at chance level") for text in verdicts.values()):
        who = f"the baseline {baseline!r} scores at chance level, so no comparison gets a verdict"
    elif variants:
        who = f"{', '.join(variants)} {'scores' if len(variants) == 1 else 'score'} at chance level, so " \
              f"{'its comparison gets' if len(variants) == 1 else 'their comparisons get'} no verdict"
    else:
        return None
    return f"verdicts are not meaningful here: {who} (the model has not learned: too few epochs or too little data?)"
