"""A time series of your own as a forecasting dataset: windows (or training chunks) as in the energy study.

    nnstudy train rnn_forecaster data.name=series data.path=load.csv data.group=region data.lookback=48

The file is a CSV (gzipped or not) or Parquet with a time column, one or more value columns and optionally a group
column (one series per group: a region, a shop, a sensor). series_read.py reads and checks it. Per group, the
steps are split in time order: the last ``test_fraction`` are test, the last ``val_fraction`` of the rest
validation (as energy). Each value column is min-max scaled per group on that group's training steps only (the
scalers are recorded in the run's summary, and ``stats=RUN_DIR`` re-uses them to score another file). A sample is
``lookback`` steps of the scaled values (and optional calendar features) and targets the scaled ``target`` value
``horizon`` steps after its last step; the forecasting task reports errors in the target's own units.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError, clip
from ..registry import closest
from . import register_dataset
from .base import DataInfo, Dataset
from .files import check_text, one_line
from .series_read import SeriesTable, read_series
from .windows import CALENDAR_RANGES, Targets, calendar_features, split_bounds, split_targets, window_splits

__all__ = ["series", "load_scalers"]


def _names(value: Any, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a list of names, e.g. [{value!r}]")
    if not value or len(set(value)) != len(value):
        raise ValueError(f"{what} must be a non-empty list without repeats, got {list(value)}")
    return tuple(value)


def _check_args(lookback: int, horizon: int, calendar: tuple[str, ...] | None, test_fraction: float,
                val_fraction: float, max_gap: int, subset: int | None, stats: str | None) -> None:
    for name, value in (("lookback", lookback), ("horizon", horizon)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive number of steps, got {value!r}")
    for name in calendar or ():
        if name not in CALENDAR_RANGES:
            hint = closest(name, list(CALENDAR_RANGES))
            raise ValueError(f"calendar feature {name!r} is not one of {', '.join(CALENDAR_RANGES)}"
                             + (f"; did you mean {hint!r}?" if hint else ""))
    if not 0.0 < test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be in (0, 1], got {test_fraction}")
    if test_fraction == 1.0 and stats is None:
        raise ValueError("test_fraction=1 leaves no training steps to fit the scalers on: give data.stats=RUN_DIR "
                         "(the run whose model is evaluated)")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if not isinstance(max_gap, int) or isinstance(max_gap, bool) or max_gap < 0:
        raise ValueError(f"max_gap must be a whole number of steps ≥ 0, got {max_gap!r}")
    if subset is not None and subset < 1:
        raise ValueError(f"subset must be a positive number of training windows (or null for all), got {subset}")


@functools.lru_cache(maxsize=4)   # a study builds every run in one process: read and check the file once
def _read(file: str, stamp: tuple[int, int], **options: Any) -> SeriesTable:
    return read_series(Path(file), **options)


def load_scalers(path: str | Path) -> dict[str, dict[str, list[float]]]:
    """{group: {value column: [min, max]}} from a run directory of a `series` run (its summary.json), or that
    summary.json; DataError naming the file when it holds none."""
    p = Path(path).expanduser().absolute()
    f = p / "summary.json" if p.is_dir() else p
    try:
        doc = json.loads(check_text(f.read_bytes(), str(f)).decode("utf-8-sig"))
    except FileNotFoundError:
        raise DataError(f"{f}: no such file (data.stats names a run directory or its summary.json)") from None
    except (OSError, ValueError) as e:
        raise DataError(f"{f}: not a readable summary.json ({one_line(e)})") from None
    found = ((doc.get("data") or {}).get("info") or {}).get("value_scalers") if isinstance(doc, dict) else None
    if not isinstance(found, dict) or not all(isinstance(v, dict) for v in found.values()):
        raise DataError(f"{f}: holds no series scalers (data.info.value_scalers of a series run's summary.json)")
    return found


def _scalers(values: np.ndarray, columns: tuple[str, ...], fit_end: int, given: dict[str, list[float]] | None,
             where: str) -> dict[str, list[float]]:
    """[min, max] per value column: of the first `fit_end` steps (training), or `given` (a run's)."""
    if given is not None:
        missing = [c for c in columns if c not in given]
        if missing:
            raise DataError(f"{where}: the run's scalers have no column {missing[0]!r} (they have "
                            f"{clip(', '.join(given), 120)})")
        return {c: [float(given[c][0]), float(given[c][1])] for c in columns}
    fit = values[:fit_end]
    # A column constant on the training steps keeps a range of 1 (its values shift, they are not divided by 0).
    return {c: [float(lo), float(hi) if hi > lo else float(lo) + 1.0]
            for c, lo, hi in zip(columns, fit.min(axis=0), fit.max(axis=0))}


@register_dataset("series", tags=("timeseries", "forecasting"))
def series(*, path: str | None = None, time: str = "time", values: list[str] | None = None, target: str | None = None,
           group: str | None = None, groups: list[str] | None = None, lookback: int = 24, horizon: int = 1,
           calendar: list[str] | None = None, frequency: str | None = "auto", max_gap: int = 0,
           time_format: str | None = None, test_fraction: float = 0.1, val_fraction: float = 0.1,
           subset: int | None = None, split_seed: int = 0, train_chunk: int | None = None,
           train_context: int | None = None, stats: str | None = None, unit: str | None = None) -> Dataset:
    """Windows of `lookback` steps of a CSV or Parquet series → its `target` value `horizon` steps on.

    Args:
        path: the file (.csv, .csv.gz or .parquet).
        time: the column of times (text parsed by pandas, or a Parquet timestamp column).
        values: the value columns, all inputs (default: every column of numbers but time and group).
        target: the value column to forecast (default: the first of `values`).
        group: a column naming the series each row belongs to (default: one series).
        groups: which groups, in group-id order (default: all, sorted by name).
        lookback: steps of history per window.
        horizon: the target is the value this many steps after the window's last step (1: the next step).
        calendar: calendar features added to every step, scaled by fixed ranges: any of hour, dayofweek,
            month, dayofyear (energy's four), minute, dayofmonth.
        frequency: a pandas frequency of one step (h, 15min, D, W-SUN, MS); "auto" infers it from the times;
            null takes each row as the next step (irregular times: trading days, say).
        max_gap: runs of up to this many missing steps are filled by linear interpolation; longer ones split the
            series into segments that no window crosses (0: every gap splits).
        time_format: the times' strftime format (default: pandas infers it from the first row).
        test_fraction: share of each group's steps, at its end, whose windows are the test set (1: every window
            is test, with `stats`, to score a trained model on another file; subset and train_chunk are then
            ignored).
        val_fraction: share of the remaining steps, at their end, whose windows are the validation set (0: none).
        subset: keep only this many training windows, drawn with `split_seed` (for quick runs).
        split_seed: seed of the subset draw (independent of the run's seed).
        train_chunk, train_context: train on chunks of `train_chunk` target steps after `train_context` steps of
            context instead of on windows (as energy's; needs a model with ``forward_steps``).
        stats: take the scalers from a run directory (or its summary.json) instead of fitting them.
        unit: the target's unit (e.g. MW, °C), for the report's axes and error columns.
    """
    values_, groups_, calendar_ = _names(values, "values"), _names(groups, "groups"), _names(calendar, "calendar")
    _check_args(lookback, horizon, calendar_, test_fraction, val_fraction, max_gap, subset, stats)
    if groups_ is not None and group is None:
        raise ValueError("groups picks groups of the group column: set group too")
    if values_ is not None and target is not None and target not in values_:
        raise ValueError(f"target {target!r} must be one of values {list(values_)} (the inputs include it)")
    if path is None:
        raise DataError("series: give the file with data.path=FILE (CSV or Parquet with a time column and value "
                        "columns)")
    file = Path(path).expanduser().absolute()
    stat = file.stat() if file.is_file() else None
    stamp = (stat.st_size, stat.st_mtime_ns) if stat else (-1, -1)   # a changed file is read again
    table = _read(str(file), stamp, time=time, values=values_, target=target, group=group,
                  groups=groups_, time_format=time_format, frequency=frequency, max_gap=max_gap)
    given = load_scalers(stats) if stats is not None else None
    return _build(table, file, target or table.values[0], calendar_ or (), given, stats, lookback=lookback,
                  horizon=horizon, test_fraction=test_fraction, val_fraction=val_fraction, subset=subset,
                  split_seed=split_seed, train_chunk=train_chunk, train_context=train_context,
                  frequency=frequency, max_gap=max_gap, unit=unit)


def _build(table: SeriesTable, file: Path, target: str, calendar: tuple[str, ...],
           given: dict[str, dict[str, list[float]]] | None, stats: str | None, *, lookback: int, horizon: int,
           test_fraction: float, val_fraction: float, subset: int | None, split_seed: int,
           train_chunk: int | None, train_context: int | None, frequency: str | None, max_gap: int,
           unit: str | None = None) -> Dataset:
    """Scaled features, splits and windows of every group (group id = position in `table.pieces`)."""
    feats, scalers, counts = [], {}, {}
    targets, offset, need = Targets(), 0, lookback + horizon
    for gid, piece in enumerate(table.pieces):
        steps = len(piece.values)
        where = f"{file}: group {piece.name!r}" if table.group is not None else str(file)
        train_end, val_end = split_bounds(steps, test_fraction, val_fraction)
        if (val_end == steps or train_end < need) if given is None else steps < need:
            raise DataError(f"{where}: {steps:,} steps are too few for lookback={lookback} and horizon={horizon} "
                            f"with test_fraction={test_fraction} and val_fraction={val_fraction} (a window spans "
                            f"{need} steps; the training part has {train_end:,})")
        if given is not None and piece.name not in given:
            raise DataError(f"{where}: the run in data.stats has no scalers for this group (it has "
                            f"{clip(', '.join(given), 120)})")
        scale = _scalers(piece.values, table.values, train_end, None if given is None else given[piece.name], where)
        lo, hi = np.array([scale[c] for c in table.values]).T
        f = np.empty((steps, len(table.values) + len(calendar)), dtype=np.float32)
        f[:, :len(table.values)] = (piece.values - lo) / (hi - lo)
        f[:, len(table.values):] = calendar_features(piece.index, calendar)
        feats.append(f)
        scalers[piece.name] = scale
        local = split_targets(piece.segment_start, lookback=lookback, horizon=horizon, train_end=train_end,
                              val_end=val_end)
        targets.add(local, offset, gid)
        counts[piece.name] = {"rows": piece.rows, "steps": steps, "filled": piece.filled,
                              "filled_gaps": piece.filled_gaps, "segments": piece.splits + 1,
                              "first": str(piece.index[0]), "last": str(piece.index[-1])}
        for key, t in local.items():
            counts[piece.name][key] = len(t)
            if len(t):
                counts[piece.name][f"{key}_targets"] = (str(piece.index[t[0]]), str(piece.index[t[-1]]))
        short = [k for k in (("train", "test") if given is None else ("test",)) if not len(local[k])]
        if short:
            raise DataError(f"{where}: no {short[0]} window of {need} steps (lookback + horizon) fits inside one "
                            f"segment ({piece.splits} gaps longer than max_gap={max_gap} split the series)")
        offset += steps
    features = torch.from_numpy(np.concatenate(feats))
    k = table.values.index(target)
    if test_fraction == 1.0:   # scoring another file: there are no training windows to subset or chunk
        subset = train_chunk = train_context = None
    train, val, test = window_splits(features, targets, lookback=lookback, horizon=horizon, target=k,
                                     subset=subset, split_seed=split_seed, train_chunk=train_chunk,
                                     train_context=train_context)
    names = [p.name for p in table.pieces]
    info = DataInfo(input_shape=(lookback, features.shape[1]), num_classes=None, task="forecasting", extra={
        "series": {"file": table.file, "sha256": table.sha256, "rows": table.rows, "time": table.time,
                   "group": table.group, "ignored_columns": list(table.ignored), "out_of_order": table.unsorted},
        "groups": names, "unit": unit, "quantity": target, "step": "step",
        "regions": names,   # the key the forecasting task and the report read group names from
        "features": [*table.values, *calendar], "target": target, "target_column": k, "lookback": lookback,
        "horizon": horizon, "scalers": {g: s[target] for g, s in scalers.items()}, "value_scalers": scalers,
        "scaler_fit": "training steps of each group" if stats is None else str(Path(stats).expanduser().absolute()),
        "scaling": f"per group and column: y = (x − min) / (max − min); {target} = y·(max − min) + min",
        "calendar_ranges": {c: CALENDAR_RANGES[c] for c in calendar}, "frequency": table.frequency,
        "frequency_given": frequency, "max_gap": max_gap, "test_fraction": test_fraction,
        "val_fraction": val_fraction, "subset": subset, "split_seed": split_seed, "counts": counts,
        "sizes": {"train": len(train), "val": len(val), "test": len(test), "steps": len(features)}})
    return Dataset(name="series", train=train, val=val if len(val) else None, test=test, info=info,
                   source=table.file)
