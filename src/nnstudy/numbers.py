"""One way to show numbers, for the terminal tables, report.md and report.html alike.

A column gets one number of decimals, chosen from its values (:func:`decimals`): about three significant digits of
its largest value, and more where that would print two different values the same (a legacy sMAPE of 0.2824 % and
one of 0.2808 % must not both read 0.282). Mean ± std shows both at the column's decimals.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

__all__ = ["missing", "decimals", "fixed", "signed", "mean_std", "integer", "p_value", "plain"]

DASH = "—"


def missing(value: Any) -> bool:
    """None, NaN, pandas' NA, or anything that is not a number."""
    if value is None or isinstance(value, bool):
        return value is None
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def decimals(values: Iterable[Any], significant: int = 3, extra: int = 2,
             distinguish: Iterable[Any] | None = None) -> int:
    """Decimals for a column: `significant` digits of its largest magnitude (0.593 → 3, 45.6 → 1, 1243 → 0), plus
    up to `extra` more while two different values of `distinguish` (default: `values`; the means, say, not their
    standard deviations) would otherwise print alike."""
    values = list(values)
    numbers = [abs(float(v)) for v in values if not missing(v)]
    nonzero = [v for v in numbers if v > 0]
    if not nonzero:
        return 3
    base = min(6, max(0, significant - 1 - math.floor(math.log10(max(nonzero)))))
    distinct = sorted(set(float(v) for v in (values if distinguish is None else distinguish) if not missing(v)))
    for d in range(base, base + extra + 1):
        shown = {f"{v:.{d}f}" for v in distinct}
        if len(shown) == len(distinct):
            return d
    return base + extra


def fixed(value: Any, places: int) -> str:
    return DASH if missing(value) else f"{float(value):.{places}f}"


def signed(value: Any, places: int) -> str:
    return DASH if missing(value) else f"{float(value):+.{places}f}"


def mean_std(mean: Any, std: Any, places: int) -> str:
    """'0.593 ± 0.012'; the mean alone when std is missing (one seed); '—' when there is no mean."""
    if missing(mean):
        return DASH
    return fixed(mean, places) if missing(std) else f"{float(mean):.{places}f} ± {float(std):.{places}f}"


def integer(value: Any) -> str:
    """A count with thousands separators (62,006)."""
    if missing(value):
        return DASH
    try:
        return f"{round(float(value)):,}"
    except OverflowError:
        return DASH


def p_value(p: Any) -> str:
    return DASH if missing(p) else "<0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def plain(value: Any) -> str:
    """A number as a person wrote it (a write-up's 0.593, 93.07, 1243); text as it is."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
