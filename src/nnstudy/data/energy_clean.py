"""Reading one PJM regional CSV (``Datetime,<REGION>_MW``) and cleaning it, with a report of every change.

Rows are sorted; duplicate timestamps (the repeated autumn DST hour) merged into their mean; runs of at most
``max_gap_hours`` missing hours filled linearly, longer gaps left as splits between segments; negative load kept,
counted and warned about; non-finite values or values beyond float32 refused with the file and line. The dataset
(energy.py) builds windows from what this returns.
"""
from __future__ import annotations

import functools
import hashlib
import io
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, clip
from .files import check_finite
from .files import one_line as _one_line
from .files import read_text_bytes as _read_bytes

__all__ = ["TIME_FORMAT", "CleaningReport", "NegativeLoadWarning", "region_of", "parse_rows", "content_sha256",
           "stamp_text", "clean_rows", "read_region", "segment_starts"]

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_HOUR_S = 3600                          # seconds per hour; timestamps are handled as int64 seconds
_FILE_RE = re.compile(r"^(?P<region>.+)_hourly\.csv(?:\.gz)?$")

@dataclass(frozen=True)
class CleaningReport:
    """What :func:`read_region` did to one regional file (counts in rows or hours)."""

    region: str
    path: str
    rows: int                   # data rows read
    unsorted: bool              # rows were out of chronological order (they were sorted)
    empty: int                  # rows with an empty MW value (dropped, then treated as missing hours)
    duplicates: int             # rows merged into another row with the same timestamp
    duplicate_times: int        # timestamps that had more than one row
    duplicate_spread_mw: float  # largest max − min among the rows of one duplicated timestamp, MW
    filled: int                 # missing hours filled by linear interpolation
    filled_gaps: int            # runs of missing hours (≤ max_gap_hours long) that were filled
    splits: int                 # runs longer than max_gap_hours, left out: the series is split there
    skipped: int                # missing hours in those runs
    segments: int               # contiguous hourly pieces (splits + 1)
    hours: int                  # hourly values after cleaning
    first: str
    last: str
    min_mw: float               # smallest and largest load after cleaning (outliers are reported, not changed)
    max_mw: float
    max_gap_hours: int
    negative: int = 0           # rows with a negative MW value: kept, and warned about (NegativeLoadWarning)

    def __str__(self) -> str:
        order = "out of order, sorted" if self.unsorted else "in order"
        dup = (f"{_n(self.duplicates, 'duplicate row')} merged into the mean at "
               f"{_n(self.duplicate_times, 'timestamp')} (they differ by up to {self.duplicate_spread_mw:,.0f} MW)"
               if self.duplicates else "no duplicate timestamps")
        empty = f"; {_n(self.empty, 'empty value')} dropped" if self.empty else ""
        empty += f"; {_n(self.negative, 'negative value')} kept" if self.negative else ""
        filled = (f"{_n(self.filled, 'missing hour')} filled linearly ({_n(self.filled_gaps, 'gap')} "
                  f"≤ {self.max_gap_hours} h)" if self.filled else f"no gap ≤ {self.max_gap_hours} h to fill")
        split = (f"{_n(self.splits, 'gap')} > {self.max_gap_hours} h ({_n(self.skipped, 'hour')}) left out: "
                 f"{self.segments} segments" if self.splits else "1 segment")
        return (f"{self.region}: {self.rows:,} rows read ({order}); {dup}{empty}; {filled}; {split}; "
                f"{self.hours:,} hours {self.first[:16]} .. {self.last[:16]}, "
                f"{self.min_mw:,.0f} .. {self.max_mw:,.0f} MW")


class NegativeLoadWarning(UserWarning):
    """A regional file holds negative load: not refused (the values are kept), but electric load in MW is never
    negative, so they are most likely recording or sign errors that the user should know about."""


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def region_of(path: str | Path) -> str | None:
    """The region a file is named for (``AEP_hourly.csv.gz`` → ``AEP``), or None."""
    m = _FILE_RE.match(Path(path).name)
    return m.group("region") if m else None


@dataclass(frozen=True)
class _Rows:
    region: str
    times: np.ndarray     # int64 seconds since 1970-01-01, naive local time as written, file order
    values: np.ndarray    # float64 MW, NaN where empty
    line_of: Callable[[int], int]   # 1-based line of a row in its file, for messages


def _line_numbers(lines: list[bytes]) -> Callable[[int], int]:
    """The 1-based line of each data row. pandas skips blank (and white-space) lines, so row r is line r + 2 only
    in a file without them; the numbers are counted on first use, which only a message or warning needs."""
    @functools.cache
    def numbers() -> np.ndarray:
        return np.flatnonzero([bool(ln.strip()) for ln in lines[1:]]) + 2

    return lambda row: int(numbers()[row])


def parse_rows(raw: bytes, path: Path) -> _Rows:
    """Check the header and parse every row; DataError naming the file (and line) on anything malformed."""
    first_line = raw.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").strip()
    header = [c.strip().strip('"') for c in first_line.split(",")]
    named = region_of(path)
    region = named or (header[1][:-3] if len(header) == 2 and header[1].endswith("_MW") else None)
    expected = f"Datetime,{region or '<REGION>'}_MW"
    if region is None or header != ["Datetime", f"{region}_MW"]:
        raise DataError(f"{path}: header {clip(first_line)!r}, expected {expected!r}")
    # Exactly one comma per non-blank line: pandas would otherwise take a 3-field row's first field as an index,
    # or (index_col=False) drop the extra field with a mere warning. The count is the fast check; lines of white
    # space (no comma, skipped like blank ones) also make it differ, so the lines themselves decide.
    lines = raw.splitlines()
    if raw.count(b",") != len(lines) - lines.count(b""):
        wrong = next((i for i, ln in enumerate(lines) if ln.strip() and ln.count(b",") != 1), None)
        if wrong is not None:
            raise DataError(f"{path}: line {wrong + 1}: {lines[wrong].count(b',') + 1} fields, expected 2 "
                            f"(Datetime,MW)")
    line_of = _line_numbers(lines)
    try:
        df = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", dtype=str, keep_default_na=False, index_col=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise DataError(f"{path}: not a readable CSV ({_one_line(e)})") from None
    text_t, text_v = df.iloc[:, 0].str.strip(), df.iloc[:, 1].str.strip()
    times = pd.to_datetime(text_t, format=TIME_FORMAT, errors="coerce")
    bad = times.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: line {line_of(i)}: timestamp {clip(text_t.iloc[i])!r} is not {TIME_FORMAT}")
    values = pd.to_numeric(text_v, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & (text_v != "").to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: line {line_of(i)}: value {clip(text_v.iloc[i])!r} is not a number of MW")
    # An empty value is a missing hour (cleaned later); inf or 1e300 would reach training as inf.
    check_finite(values, lambda i: f"{path}: line {line_of(i)}", lambda i, _: ("MW", text_v.iloc[i]),
                 missing_ok=True)
    seconds = times.to_numpy().astype("datetime64[s]").astype(np.int64)
    off_hour = seconds % _HOUR_S != 0
    if off_hour.any():
        i = int(np.flatnonzero(off_hour)[0])
        raise DataError(f"{path}: line {line_of(i)}: timestamp {clip(text_t.iloc[i])!r} is not on the hour")
    if len(seconds) == 0:
        raise DataError(f"{path}: no data rows under the header")
    return _Rows(region, seconds, values, line_of)


def content_sha256(times: np.ndarray, values: np.ndarray) -> str:
    """sha256 of a file's rows independent of their order and text format (CRLF, BOM, ``1.0`` vs ``1``).

    The rows are sorted by (time, MW); the digest covers the times as little-endian int64 seconds since
    1970-01-01 (naive, as written), then the values as little-endian float64 MW.
    """
    order = np.lexsort((values, times))
    h = hashlib.sha256(np.ascontiguousarray(times[order], dtype="<i8").tobytes())
    h.update(np.ascontiguousarray(values[order], dtype="<f8").tobytes())
    return h.hexdigest()


def stamp_text(seconds: int) -> str:
    return str(np.datetime64(int(seconds), "s")).replace("T", " ")


def _warn_negative(rows: _Rows, path: Path) -> int:
    """How many values are negative; a NegativeLoadWarning naming the file and the first line when any are."""
    negative = np.flatnonzero(rows.values < 0)          # NaN (empty) compares False
    if len(negative):
        warnings.warn(NegativeLoadWarning(
            f"{path}: {_n(len(negative), 'negative MW value')}, the first on line {rows.line_of(int(negative[0]))} "
            f"(load is never negative; kept unchanged)"), stacklevel=4)   # read_region's caller
    return len(negative)


def clean_rows(rows: _Rows, path: Path, max_gap_hours: int) -> tuple[pd.Series, CleaningReport]:
    times, values = rows.times, rows.values
    negative = _warn_negative(rows, path)
    unsorted = bool(np.any(np.diff(times) < 0))
    present = ~np.isnan(values)
    t, v = times[present], values[present]
    if len(t) == 0:
        raise DataError(f"{path}: every MW value is empty")
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    # Duplicates: one mean per timestamp (the DST repeat of 02:00 holds two different hours' loads; their mean
    # keeps the series hourly at the cost of one smoothed value per year).
    uniq, first_idx, counts = np.unique(t, return_index=True, return_counts=True)
    mean = np.add.reduceat(v, first_idx) / counts
    spread = np.maximum.reduceat(v, first_idx) - np.minimum.reduceat(v, first_idx)
    dup_times = counts > 1
    # Gaps, in hours: gaps[k] hours are missing between the k-th and (k+1)-th present hour.
    pos = (uniq - uniq[0]) // _HOUR_S
    gaps = np.diff(pos) - 1
    short = (gaps >= 1) & (gaps <= max_gap_hours)
    long = gaps > max_gap_hours
    # Output hours: every present hour, followed by the hours of the short gap after it (never a long gap's).
    reps = np.append(1 + np.where(short, gaps, 0), 1)
    start = np.repeat(pos, reps)
    within = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    out_pos = start + within
    out = np.interp(out_pos, pos, mean)  # exact at present hours, linear inside the short gaps
    seconds = uniq[0] + out_pos * _HOUR_S
    index = pd.DatetimeIndex(seconds.astype("datetime64[s]"), name="Datetime")
    report = CleaningReport(
        region=rows.region, path=str(path), rows=len(times), unsorted=unsorted, empty=int((~present).sum()),
        duplicates=int(len(t) - len(uniq)), duplicate_times=int(dup_times.sum()),
        duplicate_spread_mw=float(spread[dup_times].max()) if dup_times.any() else 0.0,
        filled=int(gaps[short].sum()), filled_gaps=int(short.sum()), splits=int(long.sum()),
        skipped=int(gaps[long].sum()), segments=int(long.sum()) + 1, hours=len(out),
        first=stamp_text(seconds[0]), last=stamp_text(seconds[-1]), min_mw=float(out.min()),
        max_mw=float(out.max()), max_gap_hours=max_gap_hours, negative=negative)
    return pd.Series(out, index=index, name=rows.region), report


def read_region(path: str | Path, *, max_gap_hours: int = 3) -> tuple[pd.Series, CleaningReport]:
    """Read and clean one ``<REGION>_hourly.csv`` or ``.csv.gz``.

    Returns the load in MW (float64) indexed by hourly timestamps, sorted, one value per hour: duplicate
    timestamps merged into their mean, runs of at most `max_gap_hours` missing hours filled by linear
    interpolation. Longer runs stay missing: the index jumps there and the series falls into segments
    (:func:`segment_starts`). The report says what was done. DataError (naming the file) on a wrong header
    (``Datetime,<REGION>_MW``, REGION from the file name), an unparsable row, or a corrupt file.
    """
    if max_gap_hours < 0:
        raise ValueError(f"max_gap_hours must be ≥ 0, got {max_gap_hours}")
    path = Path(path)
    return clean_rows(parse_rows(_read_bytes(path), path), path, max_gap_hours)


def segment_starts(index: pd.DatetimeIndex) -> np.ndarray:
    """For each hour of a cleaned series, the position of the first hour of its segment (int64)."""
    seconds = index.as_unit("s").asi8
    firsts = np.append(0, np.flatnonzero(np.diff(seconds) != _HOUR_S) + 1)
    return np.repeat(firsts, np.diff(np.append(firsts, len(seconds))))
