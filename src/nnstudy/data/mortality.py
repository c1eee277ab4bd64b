"""ICU in-hospital mortality from the PhysioNet/CinC Challenge 2012 (SPEC G): a checking reader and
variable-length sequence datasets. The data dictionary lives in mortality_schema.py, the file readers (and
what a path names: `locate`) in mortality_read.py, the normalisation in mortality_scale.py; this module cleans,
bins, splits and builds.

Registers two datasets:

- ``mortality``: a challenge set (set-a by default, from the data root: ``nnstudy data add mortality PATH``) or
  any set given by ``path=``, in either layout below.
- ``mortality-sample``: 200 real stays of set-a (28 deaths), cut unchanged by ``scripts/make_mortality_sample.py``
  and bundled with the package (no download).

Layouts (``layout=``):

- ``records``, the challenge's original form: a folder of ``<RecordID>.txt`` files, each ``Time,Parameter,Value``
  rows for the first 48 h of one ICU stay, and an ``Outcomes-<set>.txt`` inside the folder or beside it.
- ``long``: one CSV (``.csv`` or ``.csv.gz``) ``RecordID,Time,Parameter,Value`` holding every record's rows (the
  form of ``../shared/data/physionet2012/set-a.csv.gz``) and an ``Outcomes*.txt`` beside it.

``Time`` is ``HH:MM`` since ICU admission (00:00 .. 48:00). At 00:00 each record holds 6 descriptors (RecordID,
Age, Gender, Height, ICUType, Weight; ``-1`` = unknown); every other row is one measurement of one of 37
time-series variables (Weight too: the first Weight row at 00:00 is the admission weight, later ones are the time
series). Outcomes: ``RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death``; the label is the last.

Representation (the why is in docs/data-mortality.md): each stay becomes 48 hourly bins (bin h holds the
measurements at h ≤ t < h+1 hours; 48:00 goes into bin 47). Per bin and variable: the mean of the bin's valid
measurements carried forward from the last observed bin (the training median before the first), z-scored with
training statistics; an observed mask; the hours since the last observation (capped at 48, divided by 48).
Static descriptors are appended to every step. Channel 0 flags real steps: a stay ends at its last bin with a
measurement, and the steps after it are zeros (``x[..., 0].sum(1)`` are the lengths). Physiologically impossible
values are dropped, by the rules in ``RULES``, and counted in ``info.extra["cleaning"]``.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..errors import DataError
from . import register_dataset
from .base import DataInfo, Dataset, Split
from .files import read_text_bytes as _read_file
from .mortality_read import Rows, locate, read_long, read_outcomes, read_records, record_files, records_to_long
from .mortality_scale import fit_stats, load_stats, model_inputs
from .mortality_schema import (
    _CODE,
    _FIRST_VAR,
    _MINUTES,
    _STATIC,
    _V,
    _WEIGHT,
    CLASSES,
    CONTENT,
    DESCRIPTORS,
    FEATURES,
    GENDERS,
    HOURS,
    ICU_TYPES,
    INSTALLED_CSV,
    INSTALLED_OUTCOMES,
    LAYOUTS,
    RULES,
    SAMPLE_FILE,
    SAMPLE_OUTCOMES,
    SINCE_CAP_HOURS,
    UNITS,
    VARIABLES,
    Rule,
    _within,
)
from .splits import stratified_take
from .store import Source, installed_path, register_source

__all__ = ["VARIABLES", "DESCRIPTORS", "UNITS", "RULES", "ICU_TYPES", "HOURS", "SINCE_CAP_HOURS", "FEATURES",
           "CLASSES", "LAYOUTS", "CONTENT", "SAMPLE_FILE", "SAMPLE_OUTCOMES", "EXPECTED", "Rule", "Rows",
           "MortalityTable", "read_mortality", "read_long", "read_records", "read_outcomes", "locate",
           "records_to_long", "split_stays", "fit_stats", "load_stats", "verify_folder", "import_copy",
           "build_mortality", "sample_files", "mortality", "mortality_sample"]

@dataclass(frozen=True)
class _Expected:
    stays: int
    deaths: int
    csv_sha256: str             # the uncompressed long CSV
    outcomes_sha256: str        # Outcomes-a.txt


# ../shared/data/physionet2012/README.md (set-a as published, 4,000 stays, 554 deaths = 13.85 %).
EXPECTED = _Expected(stays=4_000, deaths=554,
                     csv_sha256="3b59c77f6ad0a390af9193952cbd9b4ec3308c9b7741b0c3c28c4bc00c1c5575",
                     outcomes_sha256="2613ea60ccda29f87571a7d6b09ad130858a8ccd66325bd073365925026883c2")


# ---------------------------------------------------------------------------------------------- the table

@dataclass(frozen=True)
class MortalityTable:
    """A parsed, cleaned and binned set of stays, sorted by RecordID (cached: treat the arrays as read-only).

    Everything here is independent of the split; the dataset builder scales it with training statistics.
    """

    record_ids: np.ndarray      # int64 (S,)
    labels: np.ndarray          # int64 (S,), In-hospital_death: 0 survived, 1 died
    static: np.ndarray          # float64 (S, 5): Age, Gender, Height, ICUType, Weight at admission; NaN = unknown
    observed: np.ndarray        # bool (S, 48, 37): the variable has a valid measurement in the bin
    last: np.ndarray            # float32 (S, 48, 37): the last observed bin mean, carried forward; NaN before
    since: np.ndarray           # uint8 (S, 48, 37): hours since the last observed bin, capped at 48 (= never)
    lengths: np.ndarray         # int64 (S,): 1 + the last bin with a measurement (1 for a stay with none)
    cleaning: dict[str, Any]    # what was dropped or missing, by rule and variable
    where: str                  # the data file or folder, for messages and the run's summary
    outcomes_where: str

    def __len__(self) -> int:
        return len(self.record_ids)


# ------------------------------------------------------------------------------------- cleaning and binning

def _tabulate(rows: Rows, outcomes: tuple[np.ndarray, np.ndarray], where: str,
              outcomes_where: str) -> MortalityTable:
    """Clean, bin and carry forward: the split-independent part of the representation (vectorised)."""
    if not len(rows.record):
        raise DataError(f"{where}: no data rows")
    record_ids = np.unique(rows.record)
    out_ids, out_deaths = outcomes
    order = np.argsort(out_ids)
    pos = np.searchsorted(out_ids[order], record_ids).clip(max=len(out_ids) - 1)
    found = out_ids[order][pos] == record_ids
    if not found.all():
        missing = record_ids[~found]
        raise DataError(f"{outcomes_where}: no outcome for RecordID {missing[0]}"
                        + (f" (nor for {len(missing) - 1} more records of {where})" if len(missing) > 1 else ""))
    labels = out_deaths[order][pos]
    without_data = int(len(out_ids) - len(record_ids))   # outcome rows of records absent from the data: ignored

    S = len(record_ids)
    stay = np.searchsorted(record_ids, rows.record)
    param, minute, value = rows.param, rows.minute, rows.value
    known = param >= 0

    # Descriptors: the first row of each at 00:00 (Weight: its first row at 00:00, the admission weight). Repeats
    # of RecordID/Age/Gender/Height/ICUType are ignored and counted; later Weight rows are the time series.
    cand = np.flatnonzero(known & ((param < _FIRST_VAR) | (param == _WEIGHT)) & (minute == 0))
    first = cand[~pd.DataFrame({"s": stay[cand], "p": param[cand]}).duplicated().to_numpy()]
    desc_row = np.zeros(len(param), dtype=bool)
    desc_row[first] = True
    rid_rows = first[param[first] == _CODE["RecordID"]]
    wrong = rid_rows[value[rid_rows] != rows.record[rid_rows]]
    if len(wrong):
        r = int(wrong[0])
        raise DataError(f"{rows.where_row(r)}: RecordID descriptor {value[r]:g} differs from the record's id "
                        f"{rows.record[r]}")
    repeated = known & (param < _FIRST_VAR) & ~desc_row
    static = np.full((S, len(_STATIC)), np.nan)
    for j, name in enumerate(_STATIC):
        r = first[param[first] == _CODE[name]]
        static[stay[r], j] = value[r]
    static_report = {}
    for j, name in enumerate(_STATIC):
        col = static[:, j]
        absent = int(np.isnan(col).sum())
        unknown = int((col == -1).sum())
        if name in ("Gender", "ICUType"):
            ok = np.isin(col, list(GENDERS if name == "Gender" else ICU_TYPES))
        else:
            ok = RULES[name].valid(col)
        invalid = int((~ok & ~np.isnan(col) & (col != -1)).sum())
        col[~ok] = np.nan
        static_report[name] = {"unknown (-1)": unknown, "impossible": invalid, "absent": absent}

    # Time series: the other rows of the 37 variables, impossible values dropped by RULES.
    ts = np.flatnonzero((param >= _FIRST_VAR) & ~desc_row)
    var = param[ts] - _FIRST_VAR                                  # index into VARIABLES
    x = value[ts]
    low, high, closed = (np.array([getattr(RULES[v], a) for v in VARIABLES]) for a in ("low", "high", "closed"))
    valid = _within(x, low[var], high[var], closed[var])
    per_var = np.bincount(var[~valid], minlength=_V)
    dropped = {name: int(per_var[v]) for v, name in enumerate(VARIABLES) if per_var[v]}
    ts, var, x = ts[valid], var[valid], x[valid]
    hour = np.minimum(minute[ts] // 60, HOURS - 1)                # 48:00 belongs to the last bin, 47
    flat = (stay[ts] * HOURS + hour) * _V + var
    size = S * HOURS * _V
    counts = np.bincount(flat, minlength=size).reshape(S, HOURS, _V)
    sums = np.bincount(flat, weights=x, minlength=size).reshape(S, HOURS, _V)
    observed = counts > 0
    mean = np.divide(sums, counts, out=np.full_like(sums, np.nan), where=observed)

    # Carry forward: the index of the last observed bin at or before each bin (-1: none yet).
    steps = np.arange(HOURS).reshape(1, HOURS, 1)
    last_bin = np.maximum.accumulate(np.where(observed, steps, -1), axis=1)
    last = np.take_along_axis(mean, last_bin.clip(min=0), axis=1).astype(np.float32)
    last[last_bin < 0] = np.nan
    since = np.where(last_bin >= 0, np.minimum(steps - last_bin, SINCE_CAP_HOURS), SINCE_CAP_HOURS).astype(np.uint8)
    any_obs = observed.any(axis=2)
    has = any_obs.any(axis=1)
    lengths = np.where(has, HOURS - np.argmax(any_obs[:, ::-1], axis=1), 1).astype(np.int64)

    cleaning = {
        "rows": len(param),
        "descriptor_rows": len(first),
        "repeated_descriptor_rows_ignored": int(repeated.sum()),
        "unknown_parameters_ignored": dict(sorted(rows.unknown.items())),
        "time_series_rows": len(valid),
        "kept_measurements": len(ts),
        "dropped_impossible": dropped,
        "dropped_total": int(sum(dropped.values())),
        "rules": {name: str(RULES[name]) for name in (*VARIABLES, "Age", "Height")},
        "measurements_at_48h_in_bin_47": int((minute[ts] == _MINUTES).sum()),
        "static": static_report,
        "stays_without_measurements": int((~has).sum()),
        "outcomes_without_data_ignored": without_data,
    }
    for a in (record_ids, labels, static, observed, last, since, lengths):
        a.flags.writeable = False                                 # shared through the cache
    return MortalityTable(record_ids, labels, static, observed, last, since, lengths, cleaning, where,
                          outcomes_where)


def _stamp(files: list[Path]) -> tuple:
    """Name, size and mtime (ns) of each file: a changed or re-installed copy invalidates the cache."""
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)


@functools.lru_cache(maxsize=4)   # studies build many runs in one process; set-a: a few seconds, ~45 MB cached
def _load(layout: str, data: str, outcomes: str, stamp: tuple) -> MortalityTable:
    rows = read_long(data) if layout == "long" else read_records(data)
    return _tabulate(rows, read_outcomes(outcomes), data, outcomes)


def _load_located(layout: str, data: Path, outcomes: Path) -> MortalityTable:
    files = [data] if layout == "long" else [f for _, f in record_files(data)]
    return _load(layout, str(data), str(outcomes), _stamp([*files, outcomes]))


def read_mortality(path: str | Path, layout: str = "auto", outcomes: str | Path | None = None) -> MortalityTable:
    """Read, check, clean and bin a challenge set (see :func:`locate` for what `path` may name); cached."""
    return _load_located(*locate(path, layout, outcomes))


# ------------------------------------------------------------------------------------------------ splits

def _round(x: float) -> int:
    """x rounded half up, forgiving float error (0.15 · 10 means 1.5, which gives 2 on every platform)."""
    return math.floor(x + 0.5 + 1e-9)


def _check_args(val_fraction: float, test_fraction: float, subset: int | None, stats: str | None) -> None:
    if not 0.0 < test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be in (0, 1], got {test_fraction}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if test_fraction == 1.0:
        if stats is None:
            raise ValueError("test_fraction=1 puts every stay in test, so there are no training stays to fit the "
                             "normalisation on: give data.stats=RUN_DIR (the run whose model is evaluated)")
        if subset is not None:
            raise ValueError("subset draws training stays; with test_fraction=1 there are none")
    elif val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must be below 1 (training needs stays), got "
                         f"{val_fraction} + {test_fraction}")
    if subset is not None and subset < 1:
        raise ValueError(f"subset must be a positive number of training stays (or null for all), got {subset}")


def split_stays(labels: torch.Tensor, val_fraction: float, test_fraction: float, subset: int | None,
                gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train, val, test) sorted indices: test = round(test_fraction·N) stays, then val = round(val_fraction·N)
    of the rest, both stratified by label; then `subset` of the training stays, stratified. test_fraction=1:
    every index in test, none in train and val."""
    n = len(labels)
    if test_fraction == 1.0:
        empty = torch.empty(0, dtype=torch.int64)
        return empty, empty, torch.arange(n)
    test, rest = stratified_take(labels, _round(test_fraction * n), gen)
    n_val = _round(val_fraction * n)
    if n_val >= len(rest) or len(test) == 0:
        raise ValueError(f"{n} stays are too few for test_fraction={test_fraction} and val_fraction={val_fraction} "
                         f"with some left to train")
    val, train = (rest[i] for i in stratified_take(labels[rest], n_val, gen))
    if subset is not None:
        if subset > len(train):
            raise ValueError(f"subset={subset} exceeds the {len(train):,} training stays")
        train = train[stratified_take(labels[train], subset, gen)[0]]
    return train, val, test


def build_mortality(name: str, table: MortalityTable, source: str, *, val_fraction: float, test_fraction: float,
                    split_seed: int, subset: int | None, stats: str | None) -> Dataset:
    """Splits of `table` (see :func:`mortality` for the arguments); stays keep RecordID order within a split."""
    _check_args(val_fraction, test_fraction, subset, stats)
    labels = torch.from_numpy(table.labels.copy())
    # Its own generator: the split depends on split_seed only, not on the run's seed, so every seed of a study
    # sees the same test stays.
    gen = torch.Generator().manual_seed(split_seed)
    parts = dict(zip(("train", "val", "test"), split_stays(labels, val_fraction, test_fraction, subset, gen)))
    if stats is None:
        scale = fit_stats(table, parts["train"].numpy(), f"the {len(parts['train']):,} training stays of {source}")
        stats_from = "training stays"
    else:
        scale, stats_from = load_stats(stats), str(Path(stats).expanduser().absolute())

    def take(idx: torch.Tensor) -> Split:
        return Split(model_inputs(table, idx.numpy(), scale), labels.index_select(0, idx))

    sizes = {k: len(i) for k, i in parts.items()}
    deaths = {k: int(labels[i].sum()) for k, i in parts.items()}
    lengths = table.lengths
    info = DataInfo(input_shape=(HOURS, len(FEATURES)), num_classes=2, class_names=list(CLASSES), extra={
        "layout": "per step: step_present, 37 z-scored carried-forward values, 37 observed masks, 37 hours since "
                  "the last observation / 48, 11 static channels; steps after a stay's last measured hour are 0",
        "features": list(FEATURES), "hours": HOURS,
        "labels": "In-hospital_death: 0 survived, 1 died",
        "split": ("every stay in test (test_fraction=1); val_fraction ignored" if test_fraction == 1.0 else
                  "test, then validation, stratified by label; the rest trains"),
        "val_fraction": val_fraction, "test_fraction": test_fraction, "split_seed": split_seed, "subset": subset,
        "sizes": sizes, "deaths": deaths,
        "record_ids": {k: table.record_ids[i.numpy()].tolist() for k, i in parts.items()},   # sample order
        "positive_fraction": {"all": round(float(table.labels.mean()), 6),
                              **{k: round(deaths[k] / sizes[k], 6) if sizes[k] else None for k in parts}},
        "stays": len(table), "lengths": {
            "min": int(lengths.min()), "median": float(np.median(lengths)), "mean": round(float(lengths.mean()), 3),
            "max": int(lengths.max()),
            "counts_by_length_1_to_48": np.bincount(lengths, minlength=HOURS + 1)[1:].tolist()},
        "stats_from": stats_from, "normalization": scale, "cleaning": table.cleaning,
        "outcomes": table.outcomes_where, "groups": None})
    return Dataset(name=name, train=take(parts["train"]), val=take(parts["val"]) if sizes["val"] else None,
                   test=take(parts["test"]), info=info, source=source)


# --------------------------------------------------------------------------------------- store: add, verify

def verify_folder(folder: str | Path) -> list[str]:
    """Check an installed copy (``set-a.csv.gz`` + ``Outcomes-a.txt``) against the published set-a: the sha256 of
    the uncompressed CSV and of the Outcomes file (line endings normalised), and the parsed stays and deaths."""
    folder = Path(folder)
    data, outcomes = folder / INSTALLED_CSV, folder / INSTALLED_OUTCOMES
    lines = [str(folder)]
    for f, want in ((data, EXPECTED.csv_sha256), (outcomes, EXPECTED.outcomes_sha256)):
        got = hashlib.sha256(_read_file(f).replace(b"\r\n", b"\n")).hexdigest()
        if got != want:
            raise DataError(f"{f}: sha256 {got} differs from the published set-a's {want}")
        lines.append(f"{f.name}: sha256 {got[:16]}… ok")
    t = _tabulate(read_long(data), read_outcomes(outcomes), str(data), str(outcomes))
    if (len(t), int(t.labels.sum())) != (EXPECTED.stays, EXPECTED.deaths):
        raise DataError(f"{data}: {len(t):,} stays, {int(t.labels.sum())} deaths; expected {EXPECTED.stays:,}, "
                        f"{EXPECTED.deaths}")
    lines.append(f"{len(t):,} stays, {int(t.labels.sum())} deaths ({t.labels.mean():.2%}) ok; "
                 f"{t.cleaning['dropped_total']:,} impossible values would be dropped")
    return lines


def import_copy(src: str | Path, target: str | Path) -> Path:
    """Install set-a from `src` (the long CSV and its Outcomes file, or the original folder of record files) into
    the folder `target` as ``set-a.csv.gz`` + ``Outcomes-a.txt``: the store's hook for ``nnstudy data add
    mortality PATH``. The record files are joined into the long CSV exactly as ../shared/data/physionet2012 was."""
    layout, data, outcomes = locate(src)
    content = _read_file(data) if layout == "long" else records_to_long(data)
    result = _read_file(outcomes)
    # Checked here first, so a mistake names the user's files rather than the staging copy.
    for f, raw, want in ((data, content, EXPECTED.csv_sha256), (outcomes, result, EXPECTED.outcomes_sha256)):
        got = hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()
        if got != want:
            raise DataError(f"{f}: sha256 {got} differs from the published set-a's {want} (`data add` installs "
                            f"set-a; read other sets with data.path=)")
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    packed = data.read_bytes() if layout == "long" else b""
    (target / INSTALLED_CSV).write_bytes(packed if packed[:2] == b"\x1f\x8b" else
                                         gzip.compress(content, compresslevel=6, mtime=0))
    (target / INSTALLED_OUTCOMES).write_bytes(result)
    return target


SOURCE = register_source(Source(
    name="mortality",
    url="",                  # PhysioNet serves set-a and Outcomes-a as separate files; `data add` imports them
    filename="set-a.tar.gz",
    sha256="",
    size=None,
    folder="mortality",
    content=CONTENT,
    verify=lambda folder: verify_folder(Path(folder) / CONTENT),
    sample="mortality-sample",
    description="PhysioNet/CinC Challenge 2012 set-a: 4,000 ICU stays (48 h), in-hospital death (get set-a and "
                "Outcomes-a.txt from physionet.org/content/challenge-2012, then `nnstudy data add mortality DIR`)",
    stage=import_copy,
))


# ------------------------------------------------------------------------------------------------ builders

@register_dataset("mortality", tags=("sequence", "classification", "clinical"))
def mortality(*, path: str | None = None, layout: str = "auto", outcomes: str | None = None,
              val_fraction: float = 0.15, test_fraction: float = 0.15, split_seed: int = 0,
              subset: int | None = None, stats: str | None = None) -> Dataset:
    """PhysioNet/CinC 2012 ICU stays as hourly sequences (≤ 48 steps × 123 features) → in-hospital death.

    Args:
        path: a challenge set to read instead of the data root's set-a: a folder of ``<RecordID>.txt`` files
            (set-a, set-b or set-c as published, Outcomes file inside or beside it), a folder holding one such
            ``set-*`` folder, a ``RecordID,Time,Parameter,Value`` CSV (.csv/.csv.gz) or a folder holding one.
        layout: "auto" (a long CSV if the folder holds one, else record files), "long" or "records".
        outcomes: the Outcomes file, when it is not found beside the data (``Outcomes-<set>.txt`` is preferred).
        val_fraction: share of the stays held out for validation (after test), stratified by label (0: none).
        test_fraction: share of the stays held out for testing, stratified by label; 1 puts every stay in test
            (to score a trained model on another set, with `stats`; val_fraction is then ignored).
        split_seed: seed of the split and the subset (independent of the run's seed).
        subset: keep only this many training stays (stratified, drawn with `split_seed`), for quick runs.
        stats: take the normalisation statistics from a run directory (or its summary.json, or a JSON of
            ``info.extra["normalization"]``) instead of fitting them on this data's training stays.

    Inputs are float32 (N, 48, 123), channel 0 flagging real steps (see the module doc and
    docs/data-mortality.md); targets 0 = survived, 1 = died. ``info.extra`` holds the split sizes, deaths per
    split, the normalisation statistics and what cleaning dropped.

    Source: I. Silva et al., "Predicting In-Hospital Mortality of ICU Patients: The PhysioNet/Computing in
    Cardiology Challenge 2012", CinC 39:245-248 (2012), ODC-By 1.0; task of Georgia Tech CSE6250 HW5 Q2.
    """
    _check_args(val_fraction, test_fraction, subset, stats)
    if path is None:
        located = locate(installed_path("mortality"), "long", outcomes)
    else:
        located = locate(path, layout, outcomes)
    table = _load_located(*located)
    return build_mortality("mortality", table, f"{located[1]} ({located[0]}; {Path(located[2]).name})",
                           val_fraction=val_fraction, test_fraction=test_fraction, split_seed=split_seed,
                           subset=subset, stats=stats)


def sample_files() -> tuple[Path, Path]:
    """The bundled sample's long CSV and Outcomes file (inside the installed package)."""
    folder = Path(str(resources.files("nnstudy.data") / "samples"))
    files = (folder / SAMPLE_FILE, folder / SAMPLE_OUTCOMES)
    for f in files:
        if not f.is_file():
            raise DataError(f"{f}: bundled mortality sample is missing; reinstall nnstudy")
    return files


@register_dataset("mortality-sample", tags=("sequence", "classification", "clinical", "bundled"))
def mortality_sample(*, val_fraction: float = 0.15, test_fraction: float = 0.15, split_seed: int = 0,
                     subset: int | None = None, stats: str | None = None) -> Dataset:
    """PhysioNet/CinC 2012 sample bundled with nnstudy: 200 real set-a stays, 28 deaths (stratified draw).

    Every row of the chosen records and their Outcomes lines, unchanged. Arguments as for ``mortality``.
    """
    _check_args(val_fraction, test_fraction, subset, stats)
    data, outcomes = sample_files()
    table = _load_located("long", data, outcomes)
    return build_mortality("mortality-sample", table, f"bundled sample {SAMPLE_FILE}", val_fraction=val_fraction,
                           test_fraction=test_fraction, split_seed=split_seed, subset=subset, stats=stats)
