"""Reading a `series` file: CSV (UTF-8, gzipped or not) or Parquet, a time column, value columns, optionally a group
column; every problem a one-line DataError naming the file, the line (CSV) or row (Parquet), and the value.

Within each group rows are sorted by time and placed on the grid of the series' frequency (inferred, or given).
Runs of at most `max_gap` missing steps are filled by linear interpolation; longer ones split the group into
segments that no window crosses. Nothing else is changed: an empty cell, NaN, ±inf or a number beyond float32, an
unparseable time and a time that repeats within a group are refused. The dataset (series.py) builds the windows.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, clip
from ..registry import closest
from .files import FLOAT32_MAX, one_line, read_frame
from .store import sha256_file

__all__ = ["Piece", "SeriesTable", "read_series"]

_INFER_FROM = 200          # timestamps per group that pandas' infer_freq looks at (it needs them evenly spaced)


@dataclass(frozen=True)
class Piece:
    """One group's series on its time grid, gaps of ≤ max_gap steps filled."""

    name: str
    index: pd.DatetimeIndex        # the time of each step
    values: np.ndarray             # float64 (steps, value columns)
    segment_start: np.ndarray      # int64 (steps,): position of the first step of each step's segment
    rows: int                      # rows read for this group
    filled: int                    # missing steps filled by linear interpolation
    filled_gaps: int               # runs of missing steps (≤ max_gap long) that were filled
    splits: int                    # runs longer than max_gap: the series is split there into segments


@dataclass(frozen=True)
class SeriesTable:
    file: str
    sha256: str
    rows: int
    time: str                      # the time column
    group: str | None              # the group column
    values: tuple[str, ...]        # value columns, in feature order
    ignored: tuple[str, ...]       # text columns left out of the default values
    frequency: str | None          # pandas offset alias of one step; None: each row is the next step
    unsorted: bool                 # rows were out of time order within a group (they were sorted)
    pieces: tuple[Piece, ...]      # one per group, in group-name order


def _frame(file: Path) -> tuple[pd.DataFrame, Callable[[int], str]]:
    """(rows, place(row) → 'line N' (CSV) or 'row N' (Parquet)). CSV cells stay text, for messages."""
    frame, parquet = read_frame(file, "series", dtype=str, keep_default_na=False, skip_blank_lines=False,
                                encoding="utf-8-sig")
    if parquet:
        frame.columns = [str(c) for c in frame.columns]
        return frame.reset_index(drop=True), lambda r: f"row {r + 1}"
    frame = frame.fillna("")
    # Blank lines are kept while reading so that row r of what remains is still known to be line lines[r]; a row
    # with too few fields has its last cells empty ("").
    blank = (frame.apply(lambda c: c.str.strip()) == "").all(axis=1).to_numpy()
    lines = np.flatnonzero(~blank) + 2
    return frame[~blank].reset_index(drop=True), lambda r: f"line {lines[r]}"


def _need(frame: pd.DataFrame, file: Path, name: str, what: str) -> None:
    if name not in frame.columns:
        hint = closest(name, list(frame.columns))
        said = f"did you mean {hint!r}?" if hint else f"columns: {clip(', '.join(frame.columns), 200)}"
        raise DataError(f"{file}: no column {clip(name, quote=True)} ({what}); {said}")


def _text(column: pd.Series) -> pd.Series:
    """Each cell as text without surrounding white space (what a message quotes)."""
    return column.astype(str).str.strip()


def _parse(text: pd.Series, time_format: str | None, utc: bool) -> pd.DatetimeIndex:
    with warnings.catch_warnings():   # "could not infer format": then pandas parses each cell on its own
        warnings.simplefilter("ignore", UserWarning)
        return pd.DatetimeIndex(pd.to_datetime(text, format=time_format, errors="coerce", utc=utc))


def _times(column: pd.Series, where: Callable[[int], str], name: str, time_format: str | None,
           file: Path) -> pd.DatetimeIndex:
    if pd.api.types.is_datetime64_any_dtype(column):
        times, text = pd.DatetimeIndex(column), column.astype(str)
    else:
        text = _text(column)
        try:
            times = _parse(text, time_format, utc=False)
        except ValueError:   # offsets that differ (a zone with DST: +01:00 in winter, +02:00 in summer)
            try:
                times = _parse(text, time_format, utc=True)   # one time line; calendar features then in UTC
            except (ValueError, TypeError, OverflowError) as e:
                raise DataError(f"{file}: column {name!r}: {one_line(e)}") from None
    bad = np.asarray(times.isna())
    if bad.any():
        i = int(np.argmax(bad))
        if column.isna().iloc[i] or text.iloc[i] in ("", "NaT", "nan", "None"):
            raise DataError(f"{where(i)}: {name} is empty (every row needs a time)")
        like = f"in the format {time_format}" if time_format else f"like the first row's {clip(text.iloc[0])!r}"
        raise DataError(f"{where(i)}: {name} {clip(text.iloc[i])!r} is not a time {like} (set data.time_format, "
                        f"e.g. %d/%m/%Y %H:%M)")
    return times


def _is_numbers(column: pd.Series) -> bool:
    """Whether a column holds numbers (Parquet: a numeric type; CSV: some cell parses as a number)."""
    if column.dtype != object and not pd.api.types.is_string_dtype(column):
        return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    return bool(pd.to_numeric(_text(column), errors="coerce").notna().any())


def _numbers(column: pd.Series, where: Callable[[int], str], name: str) -> np.ndarray:
    """float64 values; DataError for the first empty, non-numeric, NaN, ±inf or beyond-float32 cell."""
    typed = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    text = _text(column)
    values = (column if typed else pd.to_numeric(text, errors="coerce")).to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(values) <= FLOAT32_MAX)           # NaN compares False, so it is bad here
    if bad.any():
        i = int(np.argmax(bad))
        if (typed and np.isnan(values[i])) or text.iloc[i] == "":
            raise DataError(f"{where(i)}: {name} is empty (a missing value; fill or drop the row first)")
        why = "not a number" if np.isnan(values[i]) else f"not a number within the float32 range (±{FLOAT32_MAX:.4g})"
        raise DataError(f"{where(i)}: {name} is {clip(text.iloc[i])!r}, {why}")
    return values


def _frequency(pieces: list[pd.DatetimeIndex], frequency: str | None, file: Path) -> pd.DateOffset | None:
    """The offset of one step: `frequency` as given, or (auto) what pandas infers from a group's first times,
    else the most common difference between consecutive times."""
    if frequency is None:
        return None
    if frequency != "auto":
        try:
            return pd.tseries.frequencies.to_offset(frequency)
        except ValueError:
            raise DataError(f"{file}: data.frequency={clip(frequency, quote=True)} is not a pandas frequency "
                            f"(e.g. h, 15min, D, W, MS)") from None
    for times in pieces:
        if len(times) >= 3:
            with warnings.catch_warnings():   # pandas 3 warns that a future version returns an offset, not text
                warnings.filterwarnings("ignore", message=".*infer_freq")
                inferred = pd.infer_freq(times[:_INFER_FROM])
            if inferred is not None:
                return pd.tseries.frequencies.to_offset(inferred)
    steps = np.concatenate([np.diff(t.asi8) for t in pieces]) if pieces else np.empty(0, np.int64)
    if not len(steps):
        return None
    kinds, counts = np.unique(steps, return_counts=True)
    step = pd.Timedelta(int(kinds[np.argmax(counts)]), unit=pieces[0].unit)
    days, rest = divmod(step, pd.Timedelta(days=1))
    # whole days as calendar days ("D", not "24h"): the same step unless the times have a zone with DST
    return pd.offsets.Day(days) if days and not rest else pd.tseries.frequencies.to_offset(step)


def _grid(times: pd.DatetimeIndex, offset: pd.DateOffset | None
          ) -> tuple[np.ndarray, Callable[[np.ndarray], pd.DatetimeIndex]]:
    """(position of each time on the grid from the first, −1 when off it; the times of given positions)."""
    if offset is None:
        return np.arange(len(times)), lambda pos: times[pos]
    if isinstance(offset, pd.offsets.Tick):
        step = int(pd.Timedelta(offset) // pd.Timedelta(1, unit=times.unit))   # in the times' unit, as asi8
        if step < 1:
            raise ValueError(f"frequency {offset.freqstr} is finer than the times' resolution ({times.unit})")
        since = times.asi8 - times.asi8[0]
        pos = np.where(since % step == 0, since // step, -1)
        return pos, lambda p: pd.DatetimeIndex(times[0] + pd.to_timedelta(p * step, unit=times.unit))
    grid = pd.date_range(times[0], times[-1], freq=offset)
    return grid.get_indexer(times), lambda p: grid[p]


def _fill(times: pd.DatetimeIndex, values: np.ndarray, offset: pd.DateOffset | None, max_gap: int,
          where_row: Callable[[int], str], name: str) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray, tuple]:
    """(times, values, segment starts, (filled, filled gaps, splits)) of one sorted group on its grid."""
    pos, time_of = _grid(times, offset)
    off = np.flatnonzero(pos < 0)
    if len(off):
        raise DataError(f"{where_row(int(off[0]))}: {name} {str(times[off[0]])!r} is not on the grid of "
                        f"{offset.freqstr} steps from {str(times[0])!r} (set data.frequency, or data.frequency=null "
                        f"to take each row as the next step)")
    gaps = np.diff(pos) - 1
    short = (gaps >= 1) & (gaps <= max_gap)
    # Output steps: every present step, followed by the steps of the short gap after it (never a long gap's).
    reps = np.append(1 + np.where(short, gaps, 0), 1)
    out_pos = np.repeat(pos, reps) + np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    out = np.stack([np.interp(out_pos, pos, v) for v in values.T], axis=1)   # exact at present steps
    firsts = np.append(0, np.flatnonzero(np.diff(out_pos) != 1) + 1)
    segment_start = np.repeat(firsts, np.diff(np.append(firsts, len(out_pos))))
    index = times if len(out_pos) == len(pos) else time_of(out_pos)
    return index, out, segment_start, (int(gaps[short].sum()), int(short.sum()), int((gaps > max_gap).sum()))


def read_series(file: Path, *, time: str, values: tuple[str, ...] | None, target: str | None, group: str | None,
                groups: tuple[str, ...] | None, time_format: str | None, frequency: str | None,
                max_gap: int) -> SeriesTable:
    """The checked series of `file` (see the module docstring); `target` is placed among the values if unnamed."""
    frame, place = _frame(file)

    def where(row: int) -> str:
        return f"{file}: {place(row)}"

    if not len(frame):
        raise DataError(f"{file}: no data rows under the header")
    _need(frame, file, time, "data.time")
    if group is not None:
        _need(frame, file, group, "data.group")
    for name in values or ():
        _need(frame, file, name, "data.values")
    if target is not None:
        _need(frame, file, target, "data.target")
    ignored: tuple[str, ...] = ()
    if values is None:
        rest = [c for c in frame.columns if c not in (time, group)]
        values = tuple(c for c in rest if _is_numbers(frame[c]) or c == target)
        ignored = tuple(c for c in rest if c not in values)
        if not values:
            raise DataError(f"{file}: no column of numbers besides {time!r}" + (f" and {group!r}" if group else ""))
    times = _times(frame[time], where, time, time_format, file)
    numbers = np.stack([_numbers(frame[c], where, c) for c in values], axis=1)
    if group is None:
        names, codes = [target or values[0]], np.zeros(len(frame), dtype=np.int64)
    else:
        keys = _text(frame[group])
        empty = (frame[group].isna() | (keys == "")).to_numpy()
        if empty.any():
            raise DataError(f"{where(int(np.argmax(empty)))}: {group} is empty (every row needs a group)")
        codes, uniques = pd.factorize(keys, sort=True)
        names = [str(u) for u in uniques]
    keep = list(range(len(names)))
    if groups is not None:
        for g in groups:
            if g not in names:
                hint = closest(g, names)
                raise DataError(f"{file}: no group {clip(g, quote=True)} in column {group!r} (data.groups); "
                                + (f"did you mean {hint!r}?" if hint else f"groups: {clip(', '.join(names), 200)}"))
        keep = [names.index(g) for g in groups]
    # Sort by (group, time), stably: rows with the same time stay in file order, so a repeat is the later line.
    stamps = times.asi8
    order = np.lexsort((stamps, codes))
    same = (codes[order][1:] == codes[order][:-1]) & (stamps[order][1:] == stamps[order][:-1])
    if same.any():
        k = int(np.argmax(same))
        first, again = int(order[k]), int(order[k + 1])
        label = f" (group {names[codes[again]]!r})" if group is not None else ""
        raise DataError(f"{where(again)}: {time} {str(times[again])!r} repeats {place(first)}"
                        f"{label}; one row per time{' and group' if group else ''}")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    rows_of = {g: order[bounds[g]:bounds[g + 1]] for g in keep}
    offset = _frequency([times[rows_of[g]] for g in keep], frequency, file)
    pieces = []
    for g in keep:
        rows = rows_of[g]
        index, vals, segment_start, (filled, filled_gaps, splits) = _fill(
            times[rows], numbers[rows], offset, max_gap, lambda r, rows=rows: where(int(rows[r])), time)
        pieces.append(Piece(names[g], index, vals, segment_start, len(rows), filled, filled_gaps, splits))
    unsorted = any(bool(np.any(np.diff(rows_of[g]) < 0)) for g in keep)
    return SeriesTable(str(file), sha256_file(file), len(frame), time, group, tuple(values), ignored,
                       offset.freqstr if offset is not None else None, unsorted, tuple(pieces))
