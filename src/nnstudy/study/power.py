"""How many seeds a comparison needs: the power of the t-test and of TOST at n seeds per variant, and the fewest
seeds that reach a given power (the "~K seeds would be needed" of an inconclusive verdict). Exact, for normal data:
noncentral t for the t-test, Owen's integral for TOST (docs/verdicts.md)."""
from __future__ import annotations

import math

from scipy import integrate, stats

__all__ = ["ALPHA", "t_power", "seeds_needed", "tost_power", "seeds_needed_equivalence"]

ALPHA = 0.05   # significance level of the verdicts; the intervals are (1 - ALPHA) = 95 %


def t_power(effect: float, sd: float, n: int, *, paired: bool, alpha: float = ALPHA) -> float:
    """Power of the two-sided t-test at n seeds per variant to detect a true difference `effect` (metric units).

    `sd` is the standard deviation of the per-seed differences when paired (one-sample t on n differences), else
    that of one variant's metric over seeds (two-sample t, n per group; the pooled-variance test, which is Welch's
    with equal n and variances). Exact from the noncentral t distribution, as statsmodels' TTestPower and
    TTestIndPower compute it.
    """
    d = abs(effect) / sd
    df, nc = (n - 1, d * math.sqrt(n)) if paired else (2 * n - 2, d * math.sqrt(n / 2))
    crit = stats.t.isf(alpha / 2, df)
    wrong_side = float(stats.nct.cdf(-crit, df, nc))   # crossing on the other side; scipy gives NaN when it is ~0
    return float(stats.nct.sf(crit, df, nc)) + (wrong_side if math.isfinite(wrong_side) else 0.0)


def seeds_needed(effect: float, sd: float, *, paired: bool, alpha: float = ALPHA, power: float = 0.8,
                 max_n: int = 1000) -> int | None:
    """The fewest seeds per variant (≥ 2) at which the t-test detects a true difference `effect` with probability
    ≥ `power` (:func:`t_power`). None when effect is 0 or NaN, sd is 0 or NaN, or more than max_n would be needed.
    """
    if not _usable(effect, sd):
        return None
    return _smallest_n(lambda n: t_power(effect, sd, n, paired=paired, alpha=alpha) >= power, max_n)


def tost_power(margin: float, sd: float, n: int, *, paired: bool, alpha: float = ALPHA,
               true_diff: float = 0.0) -> float:
    """Probability that TOST at n seeds per variant shows equivalence within ±margin when the true difference is
    `true_diff` (sd as in :func:`t_power`).

    Exact for normal data: TOST rejects when −margin + t·se < diff < margin − t·se, with t the one-sided critical
    value; given the sample standard deviation this is a normal probability, integrated over its chi distribution
    (Owen 1965). The unpaired case uses the pooled-variance test's degrees of freedom, 2n − 2.
    """
    df, scale = (n - 1, sd / math.sqrt(n)) if paired else (2 * n - 2, sd * math.sqrt(2 / n))
    tc = stats.t.isf(alpha, df)
    a, b = (margin - true_diff) / scale, (margin + true_diff) / scale
    u_max = margin / (scale * tc)   # beyond this sample sd (in units of sd) the interval cannot fit in the margin
    root = math.sqrt(df)

    def integrand(u: float) -> float:   # u = sample sd / sd, whose density is √df · chi(df) at u·√df
        return (stats.norm.cdf(a - tc * u) - stats.norm.cdf(tc * u - b)) * root * stats.chi.pdf(u * root, df)

    return float(integrate.quad(integrand, 0.0, u_max, limit=200)[0])


def seeds_needed_equivalence(margin: float, sd: float, *, paired: bool, alpha: float = ALPHA, power: float = 0.8,
                             true_diff: float = 0.0, max_n: int = 1000) -> int | None:
    """The fewest seeds per variant at which TOST shows equivalence within ±margin with probability ≥ `power`
    when the true difference is `true_diff` (:func:`tost_power`). None when |true_diff| ≥ margin (equivalence is
    then false), sd is 0 or NaN, or more than max_n would be needed."""
    if not (_usable(margin, sd) and margin > 0 and math.isfinite(true_diff)) or abs(true_diff) >= margin:
        return None
    return _smallest_n(
        lambda n: tost_power(margin, sd, n, paired=paired, alpha=alpha, true_diff=true_diff) >= power, max_n)


def _usable(effect: float, sd: float) -> bool:
    return all(v is not None and math.isfinite(v) for v in (effect, sd)) and effect != 0 and sd > 0


def _smallest_n(enough, max_n: int) -> int | None:
    """The smallest n in [2, max_n] for which enough(n) holds, for an `enough` that stays true once true."""
    if not enough(max_n):
        return None
    lo, hi = 1, max_n   # enough(lo) is false (or lo < 2), enough(hi) is true
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if mid >= 2 and enough(mid):
            hi = mid
        else:
            lo = mid
    return hi
