"""Forecasting samples over series held as one (steps × features) float32 tensor: what `energy` and `series` share.

A dataset lays its series (regions, groups) end to end in one tensor, one row per time step, and for each series
picks the steps that are targets (:func:`split_bounds`, :func:`split_targets`, collected in :class:`Targets`).
:func:`window_splits` then gives train / validation / test splits of lazy windows (:class:`~.views.WindowView`),
or training chunks instead of windows. Time runs forward in every series: train, then validation, then test.

A window for target step t ends `horizon` steps before it: inputs are the `lookback` steps
``t − horizon − lookback + 1 .. t − horizon``, all inside t's segment (a run of steps without a gap), so no
window crosses a gap in time or the boundary between two series.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
import torch

from .base import Split
from .views import WindowView

__all__ = ["SPLITS", "CALENDAR_RANGES", "calendar_features", "floor_share", "split_bounds", "split_targets",
           "Targets", "window_splits", "chunks"]

SPLITS = ("train", "val", "test")
# (min, max) of each calendar feature, scaled to (x - min) / (max - min). Fixed calendar ranges, not fitted: a
# short series and every split stay on the same scale. hour..dayofyear are what the FloydHub blog's MinMaxScaler
# learnt on every full PJM file (each spans all hours, weekdays, months and a leap year's 31 December).
CALENDAR_RANGES = {"hour": (0, 23), "dayofweek": (0, 6), "month": (1, 12), "dayofyear": (1, 366),
                   "minute": (0, 59), "dayofmonth": (1, 31)}


def calendar_features(index: pd.DatetimeIndex, names: Iterable[str]) -> np.ndarray:
    """float64 (steps, len(names)) in [0, 1]: each named calendar feature of `index`, scaled by its fixed range
    (Monday = 0; 1 January = day 1)."""
    raw = {"hour": index.hour, "dayofweek": index.day_of_week, "month": index.month,
           "dayofyear": index.day_of_year, "minute": index.minute, "dayofmonth": index.day}
    columns = []
    for name in names:
        a, b = CALENDAR_RANGES[name]
        columns.append((np.asarray(raw[name], dtype=np.float64) - a) / (b - a))
    return np.stack(columns, axis=1) if columns else np.empty((len(index), 0))


def floor_share(x: float) -> int:
    """⌊x⌋ that forgives float error: 0.29 · 100 is 28.999999999999996 in floating point, and means 29."""
    return math.floor(x + 1e-9)


def split_bounds(steps: int, test_fraction: float, val_fraction: float) -> tuple[int, int]:
    """(train_end, val_end): the step positions where validation and test begin in a series of `steps`.

    The last ⌊test_fraction·steps⌋ steps are test, the last ⌊val_fraction·(rest)⌋ before them validation.
    """
    n_test = floor_share(test_fraction * steps)
    n_val = floor_share(val_fraction * (steps - n_test))
    return steps - n_test - n_val, steps - n_test


def split_targets(segment_start: np.ndarray, *, lookback: int, horizon: int, train_end: int,
                  val_end: int) -> dict[str, np.ndarray]:
    """The target steps of each split in one series (positions in it), given each step's segment start.

    A step is a target when its window (see the module docstring) fits inside its segment; it belongs to the
    split its target step lies in. Its inputs may lie in the previous split (a forecast may read the recent
    past), never in a later one: no training window reads a validation or test step.
    """
    t = np.arange(len(segment_start))
    ok = t - segment_start >= lookback + horizon - 1
    split_of = np.where(t >= val_end, 2, np.where(t >= train_end, 1, 0))
    return {key: t[ok & (split_of == k)] for k, key in enumerate(SPLITS)}


class Targets:
    """Target steps of every split, as rows of the shared feature tensor, and the group id of each."""

    def __init__(self) -> None:
        self._rows: dict[str, list[np.ndarray]] = {key: [] for key in SPLITS}
        self._groups: dict[str, list[np.ndarray]] = {key: [] for key in SPLITS}

    def add(self, local: dict[str, np.ndarray], offset: int, group: int) -> None:
        """One series' targets (:func:`split_targets`), its first row in the feature tensor being `offset`."""
        for key in SPLITS:
            self._rows[key].append(offset + local[key])
            self._groups[key].append(np.full(len(local[key]), group, dtype=np.int64))

    def rows(self, key: str) -> torch.Tensor:
        return torch.from_numpy(np.concatenate(self._rows[key]).astype(np.int64, copy=False))

    def groups(self, key: str) -> torch.Tensor:
        return torch.from_numpy(np.concatenate(self._groups[key]))

    def count(self, key: str) -> int:
        return sum(len(r) for r in self._rows[key])


def window_splits(features: torch.Tensor, targets: Targets, *, lookback: int, horizon: int = 1, target: int = 0,
                  subset: int | None = None, split_seed: int = 0, train_chunk: int | None = None,
                  train_context: int | None = None) -> tuple[Split, Split, Split]:
    """(train, val, test): windows of `lookback` steps over `features`, each with the value of feature column
    `target` at its target step; groups are the series' ids.

    Args:
        subset: keep only this many training windows, drawn with `split_seed` (independent of the run's seed).
        train_chunk: None trains on the windows. N > 0 trains on chunks of N target steps instead (see
            :func:`chunks`); validation and test stay windows.
        train_context: steps a chunk runs before its first target (default `lookback`).
    """
    def split(key: str, keep: torch.Tensor | None = None) -> Split:
        rows, groups = targets.rows(key), targets.groups(key)
        if keep is not None:
            rows, groups = rows[keep], groups[keep]
        starts = rows - (lookback + horizon - 1)
        return Split(WindowView(features, starts, lookback), features[rows, target].clone(), groups)

    keep = None
    n_train = targets.count("train")
    if subset is not None:
        if subset > n_train:
            raise ValueError(f"subset={subset} exceeds the {n_train:,} training windows")
        gen = torch.Generator().manual_seed(split_seed)
        keep = torch.randperm(n_train, generator=gen)[:subset].sort().values
    train, val, test = split("train", keep), split("val"), split("test")
    if train_chunk is not None:
        if train_chunk < 1:
            raise ValueError(f"train_chunk must be a positive number of steps (or null for windows), got {train_chunk}")
        if subset is not None:
            raise ValueError("subset applies to training windows; with train_chunk leave it null")
        context = lookback if train_context is None else train_context
        if not 1 <= context <= lookback:
            raise ValueError(f"train_context must be between 1 and lookback={lookback} steps, got {train_context}")
        train = chunks(features, targets.rows("train"), targets.groups("train"), context, train_chunk,
                       horizon=horizon, target=target)
    elif train_context is not None:
        raise ValueError("train_context applies to chunks: set train_chunk too")
    return train, val, test


def chunks(features: torch.Tensor, rows: torch.Tensor, groups: torch.Tensor, context: int, chunk: int, *,
           horizon: int = 1, target: int = 0) -> Split:
    """Training samples of `context` + `chunk` steps, each of the last `chunk` with its target `horizon` steps on:
    inputs (N, context + chunk − 1, features) — the input at step j ends at step start + j, so step
    context − 1 + i predicts target i having seen ≥ context steps — targets (N, chunk), groups (N,). `rows` are
    training target steps (rows of `features`), each with at least lookback ≥ context steps of its segment
    before its window's end, so a chunk never starts outside the segment.

    Chunks tile every run of consecutive training target steps (one series, one segment); a run's last chunk is
    aligned to its end, overlapping the one before, so every training step is a target at least once.
    """
    breaks = torch.nonzero((rows[1:] != rows[:-1] + 1) | (groups[1:] != groups[:-1])).flatten() + 1
    firsts: list[int] = []
    for run in torch.tensor_split(torch.arange(len(rows)), breaks):
        if len(run) < chunk:
            continue                            # a run shorter than one chunk (rare: a short segment)
        begin, end = int(run[0]), int(run[-1]) + 1
        firsts += list(range(begin, end - chunk + 1, chunk))
        if (end - begin) % chunk:
            firsts.append(end - chunk)
    if not firsts:
        raise ValueError(f"train_chunk={chunk} is longer than every run of consecutive training steps")
    first = torch.tensor(firsts)
    t0 = rows[first]                             # the first target step of each chunk
    steps = t0.unsqueeze(1) + torch.arange(chunk)
    inputs = WindowView(features, t0 - context - (horizon - 1), context + chunk - 1)
    return Split(inputs, features[steps, target].clone(), groups[first])
