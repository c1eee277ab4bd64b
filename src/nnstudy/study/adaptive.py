"""Seeds until decided: which runs an adaptive study needs next, and the verdict each comparison reached.

    nnstudy run STUDY --until-decided --max-seeds 10

The study starts with its own seeds (say 3) on every variant. After each round, every comparison still undecided is
tested again with the group-sequential paired t-test of study/sequential.py, and one more seed is run for the
variants still undecided and for the baseline (the comparison is paired by seed), until each one is decided or has
`--max-seeds` seeds. Everything here is recomputed from the run directories (the looks are the seed counts
first, first + 1, ...), so a killed adaptive study resumes like any other, and the report replays the same decisions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .resolved import ResolvedStudy
from .sequential import SequentialPlan, SequentialStep
from .verdicts import ALPHA

__all__ = ["metric_by_seed", "Progress", "sequential_progress", "seeds_wanted"]


def metric_by_seed(runs: pd.DataFrame, metric: str, variant: str, seeds: list[int]) -> np.ndarray:
    """`metric` of `variant`'s finished runs, one value per seed of `seeds` (NaN where a run did not finish)."""
    if metric not in runs.columns:
        return np.full(len(seeds), math.nan)
    done = runs[(runs["variant"] == variant) & (runs["status"] == "finished")]
    by_seed = dict(zip(done["seed"].astype(int), done[metric].astype("float64")))
    return np.array([by_seed.get(s, math.nan) for s in seeds], dtype="float64")


@dataclass(frozen=True)
class Progress:
    """Where one comparison of an adaptive study stands: the seeds it needs now, and its last look (None before
    the first). Decided when the last look's decision is not "continue"."""

    wanted: int
    step: SequentialStep | None

    @property
    def decided(self) -> bool:
        return self.step is not None and self.step.decision != "continue"


def plan_for(study: ResolvedStudy) -> SequentialPlan:
    """The sequential plan of an adaptive study: up to all its seeds, α split over its comparisons."""
    return SequentialPlan(max_n=len(study.seeds), alpha=ALPHA, comparisons=max(1, len(study.variants) - 1))


def sequential_progress(runs: pd.DataFrame, study: ResolvedStudy) -> dict[str, Progress]:
    """For each variant but the baseline: the looks replayed on its finished runs (first, first + 1, ... seeds, as
    long as variant and baseline both finished every seed up to there), stopping at the first decision."""
    assert study.adaptive is not None
    first, seeds, metric = study.adaptive.first, list(study.seeds), study.report.metric
    plan = plan_for(study)
    base = metric_by_seed(runs, metric, study.baseline, seeds)
    out = {}
    for variant in study.variant_names:
        if variant == study.baseline:
            continue
        x = metric_by_seed(runs, metric, variant, seeds)
        step, n = None, first
        while n <= len(seeds) and not np.isnan(x[:n]).any() and not np.isnan(base[:n]).any():
            step = plan.decide(x[:n], base[:n], study.report.mode, looks_before=range(first, n))
            if step.decision != "continue":
                break
            n += 1
        out[variant] = Progress(wanted=min(n, len(seeds)), step=step)
    return out


def seeds_wanted(runs: pd.DataFrame, study: ResolvedStudy) -> dict[str, int]:
    """How many of its seeds each variant needs now: an undecided comparison one more than its last look, a decided
    one what it had when decided; the baseline as many as the variant that needs most."""
    progress = sequential_progress(runs, study)
    wanted = {v: p.wanted for v, p in progress.items()}
    wanted[study.baseline] = max([study.adaptive.first, *wanted.values()])
    return wanted
