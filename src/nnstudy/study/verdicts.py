"""Verdicts: the statistics that compare each variant of a study with its baseline over seeds.

Pure functions on arrays of one metric value per seed (numpy and scipy only); docs/verdicts.md says what each one
assumes and guarantees.

    choose_test → paired_t | welch_t | wilcoxon     a Comparison per variant: diff, confidence interval, p-value
    adjust                                          p-values corrected over the study's comparisons (Holm, BH)
    tost                                            equivalence within ±margin (two one-sided tests)
    (power.py: t_power, seeds_needed, *_equivalence  how many seeds a t-test would need: noncentral t, exact)
    at_chance                                       a variant no better than guessing gets no verdict
    verdict, compare_variants                       the verdict row of each comparison
    (sequential.py: SequentialPlan                  adding seeds round by round, false-positive rate kept at α)

Conventions: `x` holds the variant's metric per seed, `y` the baseline's; diff = x − y (variant − baseline) in the
metric's units, so its sign is the raw direction and `mode` ("max": higher is better) reads it as "better" or
"worse". Paired functions take `x` and `y` aligned by seed (x[i] and y[i] ran with the same seed and split) and drop
a pair with a NaN on either side; unpaired functions drop NaNs on each side.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from .power import ALPHA, seeds_needed, seeds_needed_equivalence

__all__ = ["ALPHA", "NOT_ENOUGH_SEEDS", "NO_SPREAD", "NO_SPREAD_PAIRED", "TESTS", "CORRECTIONS", "Comparison",
           "ChosenTest", "Equivalence", "paired_t", "welch_t", "wilcoxon", "wilcoxon_min_n", "choose_test", "compare",
           "adjust", "tost", "at_chance", "verdict", "compare_variants", "describe"]

NOT_ENOUGH_SEEDS = "not enough seeds (need ≥ 2 finished per variant)"
NO_SPREAD = "identical seeds; no spread to test"
NO_SPREAD_PAIRED = "the same difference on every seed; no spread to test"
CORRECTIONS = ("holm", "bh", "bonferroni", "none")


# ------------------------------------------------------------------------------------------------- comparisons

@dataclass(frozen=True)
class Comparison:
    """One variant against the baseline on one metric.

    diff is variant − baseline: the mean difference for the t-tests, the Hodges–Lehmann shift (median of the Walsh
    averages of the per-seed differences) for the Wilcoxon test; [ci_low, ci_high] is its (1 − α) confidence
    interval, not adjusted for multiple comparisons. p_value is two-sided, NaN when there is nothing to test, and
    then `note` says why (NOT_ENOUGH_SEEDS; NO_SPREAD or NO_SPREAD_PAIRED: every seed gave the same value or the
    same difference).
    nx and ny are the seeds of variant and baseline that entered the test (both the number of pairs when paired).
    """
    test: str
    nx: int
    ny: int
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    statistic: float = math.nan   # t, or the Wilcoxon statistic as scipy reports it
    df: float = math.nan          # degrees of freedom of the t-tests
    note: str = ""

    @property
    def seeds(self) -> str:
        """'5 seeds', or '5 and 4 seeds' when the two sides differ."""
        return f"{self.nx} seeds" if self.nx == self.ny else f"{self.nx} and {self.ny} seeds"


def paired_t(x: ArrayLike, y: ArrayLike, alpha: float = ALPHA) -> Comparison:
    """Paired t-test on the per-seed differences x[i] − y[i] (scipy.stats.ttest_rel), with its (1 − α) interval.

    The right test when variant and baseline ran the same seeds on the same splits: what a seed does to both (its
    split, its initialisation luck) cancels in the difference. Differences that are all equal (up to the rounding of
    the subtraction) are not tested: their t would be 0/0 or ±inf.
    """
    x, y = pairs(x, y)
    d = x - y
    n = len(d)
    name = "paired t-test"
    if n < 2:
        return Comparison(name, n, n, float(d[0]) if n else math.nan, math.nan, math.nan, math.nan,
                          note=NOT_ENOUGH_SEEDS)
    rounding = 8 * np.finfo(float).eps * max(np.abs(x).max(), np.abs(y).max())   # of the subtraction x − y
    if np.ptp(d) <= rounding:   # the same difference on every seed
        diff = float(np.median(d))
        return _no_spread(name, n, n, diff, equal=abs(diff) <= rounding, note=NO_SPREAD_PAIRED)
    diff = float(d.mean())
    se = float(d.std(ddof=1)) / math.sqrt(n)
    df = n - 1
    t = diff / se
    half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    return Comparison(name, n, n, diff, diff - half, diff + half, float(2 * stats.t.sf(abs(t), df)),
                      statistic=t, df=df)


def welch_t(x: ArrayLike, y: ArrayLike, alpha: float = ALPHA) -> Comparison:
    """Welch's two-sample t-test (unequal variances, scipy.stats.ttest_ind(equal_var=False)) with its interval.

    For variant and baseline that do not share seeds and splits. A side whose values are all equal contributes no
    variance (its float variance can come out as 1e-33 instead of 0, which would turn "no spread" into an absurdly
    significant t); with no spread on either side there is nothing to test.
    """
    x, y = finite(x), finite(y)
    nx, ny = len(x), len(y)
    name = "Welch's t-test"
    diff = float(x.mean() - y.mean()) if nx and ny else math.nan
    if nx < 2 or ny < 2:
        return Comparison(name, nx, ny, diff, math.nan, math.nan, math.nan, note=NOT_ENOUGH_SEEDS)
    diff, se, df = _welch(x, y)
    if se == 0:   # equal up to float rounding, or not
        return _no_spread(name, nx, ny, diff, equal=math.isclose(x.mean(), y.mean(), rel_tol=1e-12, abs_tol=1e-15))
    half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    if np.ptp(x) > 0 and np.ptp(y) > 0:
        p = float(stats.ttest_ind(x, y, equal_var=False).pvalue)
    else:   # the same test; scipy would warn about (and be unsure of) the constant side's float variance
        p = float(2 * stats.t.sf(abs(diff) / se, df))
    return Comparison(name, nx, ny, diff, diff - half, diff + half, p, statistic=diff / se, df=float(df))


def wilcoxon(x: ArrayLike, y: ArrayLike, alpha: float = ALPHA) -> Comparison:
    """Wilcoxon signed-rank test on the per-seed differences (scipy.stats.wilcoxon), for paired seeds.

    Assumes no normal distribution, only that the differences are symmetric about their centre. diff is the
    Hodges–Lehmann shift; its interval is the exact distribution-free one (the Walsh averages between the signed-rank
    critical values), NaN when no interval reaches 1 − α with this few seeds. The test cannot reach p < α with fewer
    than :func:`wilcoxon_min_n` nonzero differences (6 for α = 0.05: its smallest two-sided p is 2 / 2ⁿ). Zero
    differences are dropped and ties make the p-value approximate (scipy's defaults).
    """
    x, y = pairs(x, y)
    d = x - y
    n = len(d)
    name = "Wilcoxon signed-rank test"
    if n < 2:
        return Comparison(name, n, n, float(d[0]) if n else math.nan, math.nan, math.nan, math.nan,
                          note=NOT_ENOUGH_SEEDS)
    if not d.any():
        return _no_spread(name, n, n, 0.0, equal=True, note=NO_SPREAD_PAIRED)
    res = stats.wilcoxon(d)
    i, j = np.triu_indices(n)
    walsh = np.sort((d[i] + d[j]) / 2)
    c = _signed_rank_critical(n, alpha)   # the interval runs from the (c+1)-th to the (M−c)-th Walsh average
    lo, hi = (float(walsh[c]), float(walsh[-c - 1])) if c >= 0 else (math.nan, math.nan)
    return Comparison(name, n, n, float(np.median(walsh)), lo, hi, float(res.pvalue), statistic=float(res.statistic))


def wilcoxon_min_n(alpha: float = ALPHA) -> int:
    """The fewest nonzero paired differences with which the two-sided signed-rank test can give p < α."""
    return math.floor(1 - math.log2(alpha)) + 1


TESTS = {"paired_t": paired_t, "welch_t": welch_t, "wilcoxon": wilcoxon}


@dataclass(frozen=True)
class ChosenTest:
    """Which test a comparison uses ("paired_t", "welch_t" or "wilcoxon", keys of TESTS) and why, as a report
    prints it."""
    test: str
    reason: str


def choose_test(paired: bool, n: int, option: str = "t", alpha: float = ALPHA) -> ChosenTest:
    """The test for one comparison: `paired` when variant and baseline ran the same seeds on the same splits, `n`
    the number of pairs (when paired), `option` the study's choice: "t" (default) or "wilcoxon".

    "wilcoxon" falls back to the paired t-test below :func:`wilcoxon_min_n` pairs (it could never reject there) and to
    Welch when nothing is paired (the signed-rank test needs pairs). Raises ValueError on an unknown option.
    """
    if option not in ("t", "wilcoxon"):
        raise ValueError(f"test must be 't' or 'wilcoxon', not {option!r}")
    if not paired:
        why = "the signed-rank test needs paired seeds, and " if option == "wilcoxon" else ""
        return ChosenTest("welch_t", f"Welch's t-test (unequal variances) over seeds: {why}variant and baseline "
                                     "do not share seeds and splits")
    shared = "variant and baseline share seeds and splits"
    if option == "wilcoxon":
        if n >= wilcoxon_min_n(alpha):
            return ChosenTest("wilcoxon", f"Wilcoxon signed-rank test on the {n} per-seed differences: {shared}; "
                                          "no normal distribution assumed")
        return ChosenTest("paired_t", f"paired t-test on the {n} per-seed differences: {shared} (the signed-rank "
                                      f"test cannot reach p < {alpha:g} with fewer than {wilcoxon_min_n(alpha)} seeds)")
    return ChosenTest("paired_t", f"paired t-test on the {n} per-seed differences: {shared}")


def compare(x: ArrayLike, y: ArrayLike, test: str, alpha: float = ALPHA) -> Comparison:
    """Run the test named `test` (a key of TESTS) on the variant's seeds `x` and the baseline's `y`."""
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; expected one of {', '.join(TESTS)}")
    return TESTS[test](x, y, alpha)


# ---------------------------------------------------------------------------------------- multiple comparisons

def adjust(p_values: ArrayLike, method: str = "holm") -> np.ndarray:
    """p-values adjusted for testing the whole family at once, along the last axis; identical to statsmodels'
    multipletests(p, method="holm" | "fdr_bh" | "bonferroni")[1].

    "holm": Holm's step-down (family-wise error ≤ α under any dependence, e.g. variants sharing one baseline);
    "bh": Benjamini–Hochberg (false discovery rate ≤ α for independent or positively dependent tests);
    "bonferroni": p·m; "none": unchanged. NaNs stay NaN and are not counted in the family.
    """
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; expected one of {', '.join(CORRECTIONS)}")
    p = np.array(p_values, dtype="float64", ndmin=1)
    if method == "none" or p.size == 0:
        return p
    order = np.argsort(p, axis=-1, kind="stable")          # NaNs sort last
    ps = np.take_along_axis(p, order, axis=-1)
    m = np.sum(~np.isnan(p), axis=-1, keepdims=True)        # the family: comparisons with a p-value
    rank = np.arange(p.shape[-1])
    if method == "holm":
        adj = np.fmax.accumulate(ps * (m - rank), axis=-1)
    elif method == "bh":
        adj = np.fmin.accumulate((ps / ((rank + 1) / m))[..., ::-1], axis=-1)[..., ::-1]
    else:
        adj = ps * m
    adj = np.where(np.isnan(ps), np.nan, np.minimum(adj, 1.0))
    out = np.empty_like(p)
    np.put_along_axis(out, order, adj, axis=-1)
    return out


# ------------------------------------------------------------------------------------------------- equivalence

@dataclass(frozen=True)
class Equivalence:
    """Two one-sided t-tests (TOST) of |diff| < margin. p_value is the larger of the two one-sided p-values;
    equivalent when it is below α, which is the same as the (1 − 2α) interval [ci_low, ci_high] lying inside
    (−margin, margin). NaN p (and not equivalent) with fewer than 2 seeds."""
    margin: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    equivalent: bool


def tost(x: ArrayLike, y: ArrayLike, margin: float, *, paired: bool, alpha: float = ALPHA) -> Equivalence:
    """Is the variant within ±margin (metric units) of the baseline? statsmodels' ttost_paired(x, y, −margin, margin)
    when paired, ttost_ind(x, y, −margin, margin, usevar="unequal") (Welch) otherwise.

    With no spread at all, equivalence is read off the difference itself (p = 0 inside the margin, 1 outside).
    """
    if not margin > 0:
        raise ValueError(f"the equivalence margin must be > 0, not {margin!r}")
    if paired:
        x, y = pairs(x, y)
        d = x - y
        n = len(d)
        diff = float(d.mean()) if n else math.nan
        se = float(d.std(ddof=1)) / math.sqrt(n) if n >= 2 and np.ptp(d) > 0 else 0.0
        df = n - 1
    else:
        x, y = finite(x), finite(y)
        n = min(len(x), len(y))
        diff, se, df = _welch(x, y) if n >= 2 else (math.nan, 0.0, math.nan)
    if n < 2:
        return Equivalence(margin, diff, math.nan, math.nan, math.nan, False)
    if se == 0:
        p = 0.0 if abs(diff) < margin else 1.0
        return Equivalence(margin, diff, diff, diff, p, p < alpha)
    p_low = float(stats.t.sf((diff + margin) / se, df))     # H0: diff ≤ −margin
    p_high = float(stats.t.cdf((diff - margin) / se, df))   # H0: diff ≥ +margin
    half = float(stats.t.ppf(1 - alpha, df)) * se
    p = max(p_low, p_high)
    return Equivalence(margin, diff, diff - half, diff + half, p, p < alpha)


# -------------------------------------------------------------------------------------------------- at chance

def at_chance(values: ArrayLike, chance_level: float, *, mode: str = "max", alpha: float = ALPHA,
              tolerance: float = 0.0) -> bool:
    """Whether a variant's metric is indistinguishable from guessing: a one-sided t-test over its seeds cannot show
    that it is better than `chance_level` + `tolerance` (in the direction of `mode`) at level α.

    chance_level is e.g. 1 / num_classes (or the majority-class rate) for accuracy, 0.5 for ROC AUC. With one seed,
    or the same value on every seed, the mean decides. A comparison involving such a variant gets no verdict.
    """
    v = finite(values)
    if not len(v):
        return False
    excess = (v - chance_level if _sign(mode) > 0 else chance_level - v) - tolerance
    if len(v) < 2 or np.ptp(v) == 0:
        return bool(excess.mean() <= 0)
    t = excess.mean() / (excess.std(ddof=1) / math.sqrt(len(v)))
    return bool(stats.t.sf(t, len(v) - 1) >= alpha)


# -------------------------------------------------------------------------------------------------- verdicts

def verdict(comparison: Comparison, mode: str, *, alpha: float = ALPHA, p_adjusted: float | None = None,
            margin: float | None = None, p_equivalence: float | None = None, seeds_needed: int | None = None,
            chance: str | None = None) -> dict[str, Any]:
    """The verdict row of one comparison: diff, ci_low, ci_high, p_value, p_adjusted, p_equivalence, test,
    verdict, seeds_needed.

    In order: `chance` (who is at chance level, "variant" or "baseline") gives no verdict; too few seeds or no
    spread say so; p_adjusted (default: the raw p) < α gives "better"/"worse" by `mode`; p_equivalence (TOST,
    adjusted like p) < α gives "equivalent within ±margin"; otherwise "inconclusive: ~K seeds would be needed" when
    `seeds_needed` K (computed by the caller) exceeds the seeds at hand, else "no detectable difference with N
    seeds". seeds_needed is kept in the row only when no verdict was reached.
    """
    c = comparison
    p_adj = c.p_value if p_adjusted is None else float(p_adjusted)
    p_eq = math.nan if p_equivalence is None else float(p_equivalence)
    equivalent = margin is not None and p_eq < alpha
    direction = direction_of(c.diff, mode)
    decided = True
    if chance:
        text = f"{chance} at chance level: verdicts are not meaningful here"
    elif c.note == NOT_ENOUGH_SEEDS:
        text = NOT_ENOUGH_SEEDS
    elif c.note:   # no spread: the difference is stated, not tested
        text = f"{direction} ({c.note})"
    elif p_adj < alpha:
        text = direction + (f" (by less than {margin:g})" if equivalent else "")
    elif equivalent:
        text = f"equivalent within ±{margin:g}"
    elif seeds_needed is not None and seeds_needed > min(c.nx, c.ny):
        text, decided = f"inconclusive: ~{seeds_needed} seeds would be needed", False
    else:
        text, decided = f"no detectable difference with {c.seeds}", False
    return {"diff": c.diff, "ci_low": c.ci_low, "ci_high": c.ci_high, "p_value": c.p_value, "p_adjusted": p_adj,
            "p_equivalence": p_eq, "test": c.test, "verdict": text,
            "seeds_needed": None if decided else seeds_needed}


def compare_variants(variants: Mapping[str, ArrayLike], baseline: ArrayLike, mode: str, *, paired: bool,
                     test: str = "t", correction: str = "holm", alpha: float = ALPHA, margin: float | None = None,
                     chance_level: float | None = None, chance_tolerance: float = 0.0, power: float = 0.8,
                     max_seeds: int = 100) -> dict[str, dict[str, Any]]:
    """Every variant against the baseline, as one family: {variant name: verdict row (:func:`verdict`) + reason}.

    `variants` maps names to their metric per seed; with `paired`, each array is aligned by seed with `baseline`
    (NaN where a run did not finish). The test of each comparison comes from :func:`choose_test`; its p-value is
    adjusted with `correction` over all comparisons that have one, and so are the TOST p-values when a `margin` (the
    smallest difference that matters, metric units) is given (TOST is t-based also when the test is Wilcoxon).

    A variant (or baseline) :func:`at_chance` of `chance_level` gets no verdict but stays in the family, so that the
    correction of the others does not depend on it. An undecided comparison reports the seeds per variant at which,
    if the true difference were the observed one, the t-test (or TOST, whichever needs fewer) would decide with
    probability `power`: at level α/m under Holm and Bonferroni (their strictest step; m comparisons with a p-value),
    α otherwise. Beyond max_seeds it is "no detectable difference".
    """
    _sign(mode)
    base = np.asarray(baseline, dtype="float64")
    names = list(variants)
    comps, choices, spreads = [], [], []
    for name in names:
        x = np.asarray(variants[name], dtype="float64")
        n = len(pairs(x, base)[0]) if paired else min(len(finite(x)), len(finite(base)))
        choice = choose_test(paired, n, test, alpha)
        comps.append(compare(x, base, choice.test, alpha))
        choices.append(choice)
        spreads.append(_sd(x, base, paired))
    p_adj = adjust([c.p_value for c in comps], correction) if comps else np.array([])
    m = int(np.sum(~np.isnan([c.p_value for c in comps])))
    level = alpha / max(m, 1) if correction in ("holm", "bonferroni") else alpha
    p_eq = np.full(len(names), math.nan)
    if margin is not None and names:
        p_eq = adjust([tost(variants[k], base, margin, paired=paired, alpha=alpha).p_value for k in names],
                      correction)
    base_at_chance = chance_level is not None and at_chance(base, chance_level, mode=mode, alpha=alpha,
                                                            tolerance=chance_tolerance)
    rows = {}
    for i, name in enumerate(names):
        c, sd = comps[i], spreads[i]
        effect = _mean_diff(variants[name], base, paired)
        needed = [seeds_needed(effect, sd, paired=paired, alpha=level, power=power, max_n=max_seeds)]
        if margin is not None:
            needed.append(seeds_needed_equivalence(margin, sd, paired=paired, alpha=level, power=power,
                                                   true_diff=effect, max_n=max_seeds))
        needed = [k for k in needed if k is not None]
        chance = None
        if base_at_chance:
            chance = "baseline"
        elif chance_level is not None and at_chance(variants[name], chance_level, mode=mode, alpha=alpha,
                                                    tolerance=chance_tolerance):
            chance = "variant"
        row = verdict(c, mode, alpha=alpha, p_adjusted=p_adj[i], margin=margin, p_equivalence=p_eq[i],
                      seeds_needed=min(needed) if needed else None, chance=chance)
        rows[name] = {**row, "reason": choices[i].reason}
    return rows


def describe(correction: str, m: int, alpha: float = ALPHA, margin: float | None = None) -> str:
    """One sentence for the report on how the verdicts were reached (the test of each row has its own reason)."""
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; expected one of {', '.join(CORRECTIONS)}")
    ci = f"{100 * (1 - alpha):g}% confidence intervals per comparison"
    comparisons = f"{m} comparison" + ("s" if m != 1 else "")
    what = {"holm": f"Holm-adjusted over {comparisons} (family-wise error ≤ {alpha:g})",
            "bh": f"Benjamini–Hochberg-adjusted over {comparisons} (false discovery rate ≤ {alpha:g})",
            "bonferroni": f"Bonferroni-adjusted over {comparisons} (family-wise error ≤ {alpha:g})",
            "none": "not adjusted for multiple comparisons"}[correction]
    if m == 0:
        what = "not adjusted (no comparison has a p-value)"
    text = f"two-sided tests, α = {alpha:g}; p-values {what}; {ci}"
    if margin is not None:
        text += f"; equivalence by two one-sided t-tests (TOST) within ±{margin:g}"
    return text


def finite(values: ArrayLike) -> np.ndarray:
    v = np.asarray(values, dtype="float64").ravel()
    return v[~np.isnan(v)]


def pairs(x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """x and y aligned by seed, without the pairs that have a NaN on either side."""
    x, y = np.asarray(x, dtype="float64").ravel(), np.asarray(y, dtype="float64").ravel()
    if len(x) != len(y):
        raise ValueError(f"paired values must be aligned by seed: {len(x)} variant values, {len(y)} baseline values")
    keep = ~(np.isnan(x) | np.isnan(y))
    return x[keep], y[keep]


def _welch(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """diff of means, its standard error and the Welch–Satterthwaite degrees of freedom; a side whose values are
    all equal contributes no variance (se 0 and df NaN when neither has any)."""
    nx, ny = len(x), len(y)
    vx = x.var(ddof=1) / nx if np.ptp(x) > 0 else 0.0
    vy = y.var(ddof=1) / ny if np.ptp(y) > 0 else 0.0
    diff = float(x.mean() - y.mean())
    if vx + vy == 0:
        return diff, 0.0, math.nan
    df = (vx + vy) ** 2 / ((vx ** 2 / (nx - 1) if vx else 0.0) + (vy ** 2 / (ny - 1) if vy else 0.0))
    return diff, math.sqrt(vx + vy), df


def _no_spread(name: str, nx: int, ny: int, diff: float, equal: bool, note: str = NO_SPREAD) -> Comparison:
    """A comparison without spread: nothing to test. Equal means are "no difference" (p = 1), others are stated."""
    if equal:
        return Comparison(name, nx, ny, 0.0, 0.0, 0.0, 1.0)
    return Comparison(name, nx, ny, diff, diff, diff, math.nan, note=note)


def _signed_rank_critical(n: int, alpha: float) -> int:
    """The largest c with P(T⁺ ≤ c) ≤ α/2 for the signed-rank statistic of n untied differences (−1 if none)."""
    total = n * (n + 1) // 2
    if n > 200:   # normal approximation; exact counts would take n · n²/2 steps
        sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
        return int(math.floor(total / 2 - stats.norm.isf(alpha / 2) * sd - 0.5))
    dist = np.zeros(total + 1)   # P(T⁺ = k), built up rank by rank
    dist[0] = 1.0
    for i in range(1, n + 1):    # rank i is in T⁺ or not, with probability 1/2 each
        shifted = np.zeros_like(dist)
        shifted[i:] = dist[:-i]
        dist = (dist + shifted) / 2
    cdf = np.cumsum(dist)
    return int(np.searchsorted(cdf, alpha / 2 * (1 + 1e-12), side="right")) - 1


def _mean_diff(x: ArrayLike, y: ArrayLike, paired: bool) -> float:
    if paired:
        x, y = pairs(x, y)
        return float((x - y).mean()) if len(x) else math.nan
    x, y = finite(x), finite(y)
    return float(x.mean() - y.mean()) if len(x) and len(y) else math.nan


def _sd(x: ArrayLike, y: ArrayLike, paired: bool) -> float:
    """The spread that seeds_needed takes: of the per-seed differences when paired, else pooled over both sides."""
    if paired:
        x, y = pairs(x, y)
        return float((x - y).std(ddof=1)) if len(x) >= 2 else math.nan
    x, y = finite(x), finite(y)
    if len(x) < 2 or len(y) < 2:
        return math.nan
    return math.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)


def _sign(mode: str) -> int:
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', not {mode!r}")
    return 1 if mode == "max" else -1


def direction_of(diff: float, mode: str) -> str:
    return "better" if (diff > 0) == (_sign(mode) > 0) else "worse"
