"""PJM hourly energy consumption: the 12 regional CSVs (read and cleaned by energy_clean.py) as next-hour
forecasting datasets (windows and chunks built by windows.py, shared with the `series` dataset).

Registers two datasets (SPEC E, the FloydHub "GRU with PyTorch" blog's set-up):

- ``energy``: the 12 regions (or some of them) from the data root (``nnstudy data add energy PATH``) or ``path=``.
- ``energy-sample``: two real regions (AEP, DEOK), 2017-11-01 01:00 .. 2018-08-03 00:00, bundled with the package
  (rows cut unchanged from the Kaggle files by ``scripts/make_energy_sample.py``; no download).

The data are Kaggle's ``robikscube/hourly-energy-consumption`` (Rob Mulla; PJM Interconnection's hourly estimated
load in MW, CC0): one ``<REGION>_hourly.csv`` per region, header ``Datetime,<REGION>_MW``, hour-ending local
time. The files are not clean, and nothing is fixed silently: :func:`read_region` returns a
:class:`CleaningReport` per region, which the dataset keeps in ``info.extra["cleaning"]``.

- Rows are sorted (the files hold blocks of years out of order).
- Duplicate timestamps (the repeated 02:00 of the autumn DST change, 2014-2017) are merged into their mean.
- Missing hours (the skipped hour of the spring DST change, a few others) of at most ``max_gap_hours`` in a row
  are filled by linear interpolation; longer gaps split the series into segments that no window crosses.
- Negative values (electric load is never negative) are kept, counted in the report and warned about
  (:class:`NegativeLoadWarning`, naming the file and the first line). A value that is not a finite number within
  float32's range (``inf``, ``1e300``) is refused: the features are float32.

Per hour, 5 features in [0, 1]: load, hour of day, day of week, month, day of year. The blog min-max scaled
every column; the calendar columns use their fixed calendar ranges (which is what its MinMaxScaler learnt on
every full file), the load its per-region (min, max) in MW fit on the training hours (``protocol="default"``)
or on the whole file (``protocol="floydhub"``, the blog's choice, which leaks the test period's range).

A sample is ``lookback`` (90) hours of the 5 features and targets the next hour's scaled load. Windows are
never materialised: :class:`WindowView` gathers them per batch from one (hours × 5) float32 tensor.
"""
from __future__ import annotations

import functools
import hashlib
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..errors import DataError
from . import register_dataset
from .base import DataInfo, Dataset
from .energy_clean import (
    CleaningReport,
    NegativeLoadWarning,
    clean_rows,
    content_sha256,
    parse_rows,
    read_region,
    region_of,
    segment_starts,
    stamp_text,
)
from .files import one_line as _one_line
from .files import read_text_bytes as _read_bytes
from .store import Source, installed_path, register_source
from .views import WindowView
from .windows import CALENDAR_RANGES as _ALL_CALENDAR_RANGES
from .windows import Targets, calendar_features, split_bounds, split_targets, window_splits

__all__ = ["REGIONS", "FEATURES", "CALENDAR_RANGES", "PROTOCOLS", "CONTENT", "SAMPLE_REGIONS", "EXPECTED",
           "Expected", "CleaningReport", "NegativeLoadWarning", "WindowView", "read_region", "region_of",
           "segment_starts", "locate", "region_files", "verify_folder", "copy_regions", "content_sha256",
           "build_energy", "sample_folder", "energy", "energy_sample"]

REGIONS = ("AEP", "COMED", "DAYTON", "DEOK", "DOM", "DUQ", "EKPC", "FE", "NI", "PJME", "PJMW", "PJM_Load")
FEATURES = ("load", "hour", "dayofweek", "month", "dayofyear")
# (min, max) of each calendar feature, scaled to (x - min) / (max - min): fixed ranges (see windows.py).
CALENDAR_RANGES = {k: _ALL_CALENDAR_RANGES[k] for k in FEATURES[1:]}
PROTOCOLS = ("default", "floydhub")
CONTENT = "pjm_hourly"                  # folder under <data root>/energy holding the regional files
KAGGLE = "robikscube/hourly-energy-consumption"
SAMPLE_DIR = "energy-sample"            # package folder nnstudy/data/samples/energy-sample/
SAMPLE_REGIONS = ("AEP", "DEOK")


@dataclass(frozen=True)
class Expected:
    """A regional file of the Kaggle dataset as published (the README of ../shared/data/pjm_hourly)."""

    rows: int                 # data rows (the header excluded)
    duplicates: int           # rows whose timestamp an earlier row already had
    first: str                # earliest and latest timestamp
    last: str
    csv_sha256: str           # of the uncompressed CSV bytes
    content_sha256: str       # of the (timestamp, MW) rows, see content_sha256(): independent of row order/format


# csv_sha256: the README of ../shared/data/pjm_hourly. content_sha256: computed from those CSVs and, identically,
# from the columns of Kaggle's own est_hourly.paruqet, so a genuine Kaggle CSV passes even where its bytes differ
# from our copy (NI is a re-formatted Excel re-save, PJME had its header restored).
EXPECTED: dict[str, Expected] = {
    "AEP": Expected(121_273, 4, "2004-10-01 01:00:00", "2018-08-03 00:00:00",
                    "109d122f7b485555c609eecdec2cd5a03172e0a08acd358d863acc93eb452585",
                    "1e88d919dc5df67735f6ee2d4b05b6028537d5cdc0b53d0123b1e7599383ed3d"),
    "COMED": Expected(66_497, 4, "2011-01-01 01:00:00", "2018-08-03 00:00:00",
                      "2e79007e3f1be8765c92ff2b26314c0df0507bdd783110388a1e8d678d13fa1e",
                      "7499d8d7ff5e7d210dc78d633e9813972aab622ac78b31f2841a1b68be74706d"),
    "DAYTON": Expected(121_275, 4, "2004-10-01 01:00:00", "2018-08-03 00:00:00",
                       "84d3397231d5819b5cf086ef9e87cadf6dd7954085f2834be7e37257702ec768",
                       "6355c8fc7867b19d56a346f03341cc4905a28a8c4d8b350be4a0ea0f14887235"),
    "DEOK": Expected(57_739, 4, "2012-01-01 01:00:00", "2018-08-03 00:00:00",
                     "070f9e0ece2fa97d5585f85bbf36122f5b3ab7f7f166db95fd0ebc3958d37600",
                     "6d722621ed8f4c707e5d50f5b6743b86bb5325f22f8c67f749a776a4bdd34ed2"),
    "DOM": Expected(116_189, 4, "2005-05-01 01:00:00", "2018-08-03 00:00:00",
                    "aa040e6ff42029dbc6698066d1a12765b00c56f993127af22f26aa9b769373a6",
                    "9c6c5ecbab7b0ac199cfc1d3bbba1734178dfaf033bfe35f3aa09a3f311db4f5"),
    "DUQ": Expected(119_068, 4, "2005-01-01 01:00:00", "2018-08-03 00:00:00",
                    "d4e09cca9f50c0c46eeef9feb8e5def5778368081c9af2a45cc0e8a798218071",
                    "5b2cd92092a312f22a1f0a96edcef9c630bec53e7cfadb8d9084a4c73b971f39"),
    "EKPC": Expected(45_334, 4, "2013-06-01 01:00:00", "2018-08-03 00:00:00",
                     "2036a4ed539b10d42b9249a662d1e55eda555bba8673745ee1f5586db5cfe6ab",
                     "03f41ce0b8d8a65588242b5175fcc8c8991dea40f9d3dd3ab6b5df704b8334aa"),
    "FE": Expected(62_874, 4, "2011-06-01 01:00:00", "2018-08-03 00:00:00",
                   "f2a4b89417cab06aaba451093f90d237fec911ccc70cd29a34449baaefdb8b3d",
                   "84ba731f13f30fee2ff335cd2dd6c506ebbdece2e111c86794dec2106df666d5"),
    "NI": Expected(58_450, 0, "2004-05-01 01:00:00", "2011-01-01 00:00:00",
                   "8de74f28ae6d03bd5d33050b00a2a1a001a8bff37e8e7100bf790003ea61030f",
                   "24aead2742087a27ffa43d71663a7132966120cc68abfd17313f50f667955191"),
    "PJME": Expected(145_366, 4, "2002-01-01 01:00:00", "2018-08-03 00:00:00",
                     "4eb2b16d42bf07ec41ab55cb842191594cb69452725a6d3c0991658a628fde84",
                     "f39117847bed510f4b03715af2e7f8a30b54bd919e4f967e53c3611768b37f4e"),
    "PJMW": Expected(143_206, 4, "2002-04-01 01:00:00", "2018-08-03 00:00:00",
                     "74b9c6c03e74933bfaf1f472eea18a2a09552289317858f6b1931fbc87c3996f",
                     "5478034d3ead89cf9298679fc4d5c7e980db74817f70cc9eb07a9cb9cf3b1433"),
    "PJM_Load": Expected(32_896, 0, "1998-04-01 01:00:00", "2002-01-01 00:00:00",
                         "7dc080b7dfa4812c92f609a99cf1900cfbd49656412e744bf977d83500cebda0",
                         "77329862b9e32ca41c9fdd7dabab2bb559df19a6985806784862a10812bc9662"),
}


# ------------------------------------------------------------------------------------------ files on disk

def locate(path: str | Path) -> Path:
    """The folder holding the regional files that `path` names: that folder, or its ``pjm_hourly/``."""
    p = Path(path).expanduser()
    if not p.is_dir():
        what = "a file" if p.exists() else "no such folder"
        raise DataError(f"{p}: {what} (expected a folder holding the <REGION>_hourly.csv[.gz] files, or its "
                        f"parent holding {CONTENT}/)")
    if any(region_of(f) for f in p.iterdir()):
        return p
    if (p / CONTENT).is_dir():
        return p / CONTENT
    raise DataError(f"{p}: holds no <REGION>_hourly.csv or .csv.gz files (nor a {CONTENT}/ folder)")


def region_files(folder: Path, regions: tuple[str, ...] | list[str]) -> dict[str, Path]:
    """The file of each region in `folder` (``.csv`` or ``.csv.gz``); DataError names the missing ones."""
    found: dict[str, list[Path]] = {}
    for f in folder.iterdir():
        r = region_of(f)
        if r is not None and f.is_file():
            found.setdefault(r, []).append(f)
    missing = [f"{r}_hourly.csv[.gz]" for r in regions if r not in found]
    if missing:
        raise DataError(f"{folder}: missing {', '.join(missing)}")
    both = [r for r in regions if len(found[r]) > 1]
    if both:
        raise DataError(f"{folder}: {both[0]}_hourly.csv and .csv.gz are both present; keep one")
    return {r: found[r][0] for r in regions}


def verify_folder(path: str | Path) -> list[str]:
    """Check the 12 regional files against the published dataset; lines of what was checked and cleaned.

    Per file: header, row count, duplicate rows, first/last timestamp, and the sha256 of the uncompressed CSV
    (so plain CSVs and gzipped copies both pass). When the bytes differ (an Excel re-save: CRLF, a BOM,
    integers without ``.0``) but the rows are the same, the content checksum (:func:`content_sha256`) decides.
    """
    folder = locate(path)
    lines = [str(folder)]
    for region, f in region_files(folder, REGIONS).items():
        exp = EXPECTED[region]
        raw = _read_bytes(f)
        rows = parse_rows(raw, f)
        got = (len(rows.times), int(len(rows.times) - len(np.unique(rows.times))),
               stamp_text(rows.times.min()), stamp_text(rows.times.max()))
        want = (exp.rows, exp.duplicates, exp.first, exp.last)
        if got != want:
            raise DataError(f"{f}: {got[0]:,} rows, {got[1]} duplicate, {got[2]} .. {got[3]}; expected "
                            f"{want[0]:,} rows, {want[1]} duplicate, {want[2]} .. {want[3]}")
        sha = hashlib.sha256(raw).hexdigest()
        if sha == exp.csv_sha256:
            check = f"CSV sha256 {sha[:16]}… ok"
        else:
            content = content_sha256(rows.times, rows.values)
            if content != exp.content_sha256:
                raise DataError(f"{f}: content differs from the published {region} file (CSV sha256 {sha}, "
                                f"content sha256 {content}, expected {exp.content_sha256})")
            check = f"CSV bytes differ from the reference copy, content sha256 {content[:16]}… ok"
        _, report = clean_rows(rows, f, 3)
        lines.append(f"{f.name}: header ok, {exp.rows:,} rows, {exp.duplicates} duplicate, {check}")
        lines.append(f"  {report}")
    return lines


def copy_regions(src: str | Path, into: str | Path) -> list[Path]:
    """Copy the 12 regional files from a folder (any name, or its ``pjm_hourly/``) or the Kaggle zip into `into`.

    For a store import hook: ``nnstudy data add energy PATH`` with PATH the unzipped Kaggle folder or its zip.
    Other files (``pjm_hourly_est.csv``, ``est_hourly.paruqet``) are left behind.
    """
    src, into = Path(src).expanduser(), Path(into)
    into.mkdir(parents=True, exist_ok=True)
    if src.is_file() and zipfile.is_zipfile(src):
        try:
            with zipfile.ZipFile(src) as zf:
                members = {region_of(n): n for n in zf.namelist() if region_of(n) in REGIONS}
                missing = [r for r in REGIONS if r not in members]
                if missing:
                    raise DataError(f"{src}: the zip holds no {', '.join(f'{r}_hourly.csv' for r in missing)}")
                out = []
                for r in REGIONS:
                    target = into / Path(members[r]).name   # the base name only: nothing lands outside `into`
                    with zf.open(members[r]) as fin, open(target, "wb") as fout:
                        shutil.copyfileobj(fin, fout)
                    out.append(target)
                return out
        except (zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise DataError(f"{src}: not a readable zip ({_one_line(e)})") from None
    files = region_files(locate(src), REGIONS)
    return [Path(shutil.copy2(files[r], into / files[r].name)) for r in REGIONS]


SOURCE = register_source(Source(
    name="energy",
    url="",                  # none: Kaggle needs a login; `nnstudy data add energy PATH` imports a download
    filename="hourly-energy-consumption.zip",   # what `kaggle datasets download robikscube/...` saves
    sha256="",
    size=None,
    folder="energy",
    content=CONTENT,
    verify=lambda folder: verify_folder(Path(folder) / CONTENT),
    sample="energy-sample",
    description=f"PJM hourly load in MW, 12 regions (Kaggle {KAGGLE}; no public download: "
                f"`nnstudy data add energy FOLDER_OR_ZIP`)",
    stage=copy_regions,
))


# ---------------------------------------------------------------------------------------------- building

def _stamp(files: dict[str, Path]) -> tuple:
    """Name, size and mtime (ns) of each file: a re-installed copy invalidates the cache."""
    return tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files.values())


@functools.lru_cache(maxsize=4)  # studies build many runs in one process; reading all 12 files takes ~2 s
def _read_all(paths: tuple[tuple[str, str], ...], max_gap_hours: int,
              stamp: tuple) -> dict[str, tuple[pd.Series, CleaningReport]]:
    return {r: read_region(p, max_gap_hours=max_gap_hours) for r, p in paths}


def _check_args(regions: list[str] | None, allowed: tuple[str, ...], lookback: int, test_fraction: float,
                val_fraction: float, protocol: str, max_gap_hours: int, subset: int | None) -> tuple[str, ...]:
    if isinstance(regions, str):
        raise ValueError(f"regions must be a list of names, e.g. [{regions!r}]")
    chosen = tuple(allowed if regions is None else regions)
    unknown = [r for r in chosen if r not in allowed]
    if unknown:
        raise ValueError(f"unknown region {unknown[0]!r}; choose from {', '.join(allowed)}")
    if not chosen or len(set(chosen)) != len(chosen):
        raise ValueError(f"regions must be a non-empty list without repeats, got {list(chosen)}")
    if not isinstance(lookback, int) or lookback < 1:
        raise ValueError(f"lookback must be a positive number of hours, got {lookback}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if not isinstance(max_gap_hours, int) or max_gap_hours < 0:
        raise ValueError(f"max_gap_hours must be an integer ≥ 0, got {max_gap_hours}")
    if subset is not None and subset < 1:
        raise ValueError(f"subset must be a positive number of training windows (or null for all), got {subset}")
    return chosen


def build_energy(name: str, loaded: dict[str, tuple[pd.Series, CleaningReport]], regions: tuple[str, ...],
                 source: str, *, lookback: int, test_fraction: float, val_fraction: float, protocol: str,
                 subset: int | None, split_seed: int, train_chunk: int | None = None,
                 train_context: int | None = None) -> Dataset:
    """Features, scalers, splits and windows of the cleaned `regions` (in that order: group id = position).

    Per region of H hours: the last ⌊test_fraction·H⌋ hours are test, the last ⌊val_fraction·(rest)⌋ hours
    before them validation, the others training. A window belongs to the split of its target hour; its inputs
    are the `lookback` hours before, which may lie in the previous split (the blog's convention: a forecast
    may read the recent past), but never across a segment split. So no training window reads a validation or
    test hour.
    """
    feats, scalers, counts, reports = [], {}, {}, {}
    targets = Targets()
    offset = 0
    for gid, region in enumerate(regions):
        series, report = loaded[region]
        mw, index = series.to_numpy(), series.index
        hours = len(mw)
        train_end, val_end = split_bounds(hours, test_fraction, val_fraction)   # where val / test begin
        if val_end == hours or train_end <= lookback:
            raise ValueError(f"region {region}: {hours:,} hours are too few for lookback={lookback} with "
                             f"test_fraction={test_fraction} and val_fraction={val_fraction}")
        fit = mw[:train_end] if protocol == "default" else mw   # floydhub: the whole file, test hours included
        lo, hi = float(fit.min()), float(fit.max())
        if hi <= lo:
            raise ValueError(f"region {region}: the load is constant ({lo} MW) where the scaler is fit")
        f = np.empty((hours, len(FEATURES)), dtype=np.float32)
        f[:, 0] = (mw - lo) / (hi - lo)
        f[:, 1:] = calendar_features(index, FEATURES[1:])
        feats.append(f)
        scalers[region] = (lo, hi)
        reports[region] = str(report)
        local = split_targets(segment_starts(index), lookback=lookback, horizon=1, train_end=train_end,
                              val_end=val_end)
        targets.add(local, offset, gid)
        counts[region] = {"hours": hours, "segments": report.segments}
        for split, targets_t in local.items():
            counts[region][split] = len(targets_t)
            if len(targets_t):
                counts[region][f"{split}_targets"] = (str(index[targets_t[0]]), str(index[targets_t[-1]]))
        if counts[region]["train"] == 0 or counts[region]["test"] == 0:
            raise ValueError(f"region {region}: no {'train' if counts[region]['train'] == 0 else 'test'} window "
                             f"of {lookback} hours fits inside one segment")
        offset += hours
    features = torch.from_numpy(np.concatenate(feats))
    train, val, test = window_splits(features, targets, lookback=lookback, subset=subset, split_seed=split_seed,
                                     train_chunk=train_chunk, train_context=train_context)
    info = DataInfo(input_shape=(lookback, len(FEATURES)), num_classes=None, task="forecasting", extra={
        "regions": list(regions), "features": list(FEATURES), "lookback": lookback,
        "unit": "MW", "quantity": "load", "step": "hour",   # what the report labels its axes with
        "target": "next hour's load, min-max scaled per region (MW = y·(max − min) + min)",
        "scalers": scalers, "protocol": protocol,
        "scaler_fit": "training hours" if protocol == "default" else "whole file (includes the test hours)",
        "calendar_ranges": CALENDAR_RANGES, "test_fraction": test_fraction, "val_fraction": val_fraction,
        "subset": subset, "split_seed": split_seed, "cleaning": reports, "counts": counts,
        "sizes": {"train": len(train), "val": len(val), "test": len(test), "hours": len(features)}})
    return Dataset(name=name, train=train, val=val if len(val) else None, test=test, info=info, source=source)


def _load(folder: Path, regions: tuple[str, ...], max_gap_hours: int) -> dict[str, tuple[pd.Series, CleaningReport]]:
    files = region_files(folder, regions)
    return _read_all(tuple((r, str(p.absolute())) for r, p in files.items()), max_gap_hours, _stamp(files))


@register_dataset("energy", tags=("timeseries", "forecasting"))
def energy(*, path: str | None = None, regions: list[str] | None = None, lookback: int = 90,
           test_fraction: float = 0.1, val_fraction: float = 0.1, protocol: str = "default",
           max_gap_hours: int = 3, subset: int | None = None, split_seed: int = 0,
           train_chunk: int | None = None, train_context: int | None = None) -> Dataset:
    """PJM hourly load, 12 regions: 90-hour windows of 5 scaled features → the next hour's scaled load.

    Args:
        path: a folder holding the ``<REGION>_hourly.csv[.gz]`` files (or its parent holding ``pjm_hourly/``)
            to read instead of the data root's copy.
        regions: which regions, in group-id order (default: all 12, alphabetical as in ``REGIONS``).
        lookback: hours of history per window.
        test_fraction: share of each region's hours, at its end, whose windows are the test set.
        val_fraction: share of the remaining hours, at their end, whose windows are the validation set (0: none).
        protocol: "default" fits each region's load scaler on its training hours; "floydhub" on the whole file,
            as the blog did (test leakage; for comparison with its numbers).
        max_gap_hours: runs of missing hours up to this long are interpolated; longer ones split the series.
        subset: keep only this many training windows, drawn with `split_seed` (for quick runs).
        split_seed: seed of the subset draw (independent of the run's seed).
        train_chunk: None trains on the windows (the blog's protocol). N > 0 trains on chunks instead: each
            sample is `lookback` hours of context followed by N hours, with a next-hour target at each of those
            N hours, so a recurrent net computes every training hour about once per epoch instead of `lookback`
            times (with the ``forecasting`` task and a model that has ``forward_steps``). Validation and test
            stay the faithful windows.
        train_context: hours a chunk runs before its first target (default: `lookback`, so every training target
            has seen at least as many hours as an evaluation window gives). Fewer makes a step cheaper; the
            model then also learns from states that have seen fewer hours than evaluation will give it.

    Source: Kaggle robikscube/hourly-energy-consumption (PJM Interconnection); protocol of G. Loye, "Gated
    Recurrent Unit (GRU) With PyTorch", FloydHub blog, 2019.
    """
    chosen = _check_args(regions, REGIONS, lookback, test_fraction, val_fraction, protocol, max_gap_hours, subset)
    folder = locate(path) if path is not None else installed_path("energy")
    loaded = _load(folder, chosen, max_gap_hours)
    return build_energy("energy", loaded, chosen, f"{folder} ({len(chosen)} regions)", lookback=lookback,
                        test_fraction=test_fraction, val_fraction=val_fraction, protocol=protocol,
                        subset=subset, split_seed=split_seed, train_chunk=train_chunk,
                        train_context=train_context)


def sample_folder() -> Path:
    """The bundled sample's folder (inside the installed package)."""
    folder = Path(str(resources.files("nnstudy.data") / "samples" / SAMPLE_DIR))
    if not folder.is_dir():
        raise DataError(f"{folder}: bundled energy sample is missing; reinstall nnstudy")
    return folder


@register_dataset("energy-sample", tags=("timeseries", "forecasting", "bundled"))
def energy_sample(*, regions: list[str] | None = None, lookback: int = 90, test_fraction: float = 0.1,
                  val_fraction: float = 0.1, protocol: str = "default", max_gap_hours: int = 3,
                  subset: int | None = None, split_seed: int = 0, train_chunk: int | None = None,
                  train_context: int | None = None) -> Dataset:
    """PJM hourly load sample bundled with nnstudy: AEP and DEOK, 2017-11-01 .. 2018-08-03 (~6,570 h each).

    The rows of the two Kaggle files from 2017-11-01 01:00 on, unchanged and in file order: they keep a real DST
    duplicate (2017-11-05 02:00) and a real missing hour (2018-03-11 03:00). Arguments as for ``energy``.
    """
    chosen = _check_args(regions, SAMPLE_REGIONS, lookback, test_fraction, val_fraction, protocol,
                         max_gap_hours, subset)
    folder = sample_folder()
    loaded = _load(folder, chosen, max_gap_hours)
    return build_energy("energy-sample", loaded, chosen, f"bundled sample {SAMPLE_DIR}/ ({', '.join(chosen)})",
                        lookback=lookback, test_fraction=test_fraction, val_fraction=val_fraction,
                        protocol=protocol, subset=subset, split_seed=split_seed, train_chunk=train_chunk,
                        train_context=train_context)
