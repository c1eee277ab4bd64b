"""UCI Epileptic Seizure Recognition (SPEC F): classification datasets from the CSV, which seizure_read.py reads
and checks.

Registers two datasets:

- ``seizure``: the 11,500 rows from the data root (``nnstudy data add seizure FILE``) or from ``path=``.
- ``seizure-sample``: every chunk of 10 source segments per class (1,150 real rows) bundled with the package (cut
  unchanged from the Kaggle file by ``scripts/make_seizure_sample.py``; no download).

The data (Wu & Fokoue, UCI dataset 388, 2017) re-cut the Bonn EEG database (Andrzejak et al., Phys. Rev. E 64,
061907, 2001): 500 single-channel segments of 4,097 samples, 100 per recording set, each cut into 23 chunks of 178
samples, one row per chunk. Header ``<id>,X1,...,X178,y``: the id (``X21.V1.791``: chunk 21 of segment ``V1.791``)
is named ``Unnamed`` in the Kaggle copy, left empty in UCI's ``data.csv``, and absent in some re-cuts. ``y`` 1..5
(seizure, tumour area, healthy area, eyes closed, eyes open) becomes the class 0..4.

Splits are seeded by ``split_seed`` and divide each class by the fractions. By default they are made over source
segments: all 23 chunks of one recording land in the same split, because a row split puts neighbouring chunks of
one recording in train and test, and a model can then score by recognising the recording rather than the class.
``split="row"`` is the plain stratified row split the course used, for comparison. Inputs are float32 (N, 178),
standardised per feature with training statistics: the ``mlp`` builder flattens them, ``cnn1d`` reads them as one
channel of 178 samples, ``rnn_classifier`` as 178 steps of one feature. See docs/data-seizure.md.
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from . import register_dataset
from .base import DataInfo, Dataset, Split
from .seizure_read import CLASSES, COLUMNS, SAMPLES, SeizureTable, is_csv, parse, read_bytes, read_seizure
from .splits import stratified_take
from .store import Source, installed_path, register_source

__all__ = ["CLASSES", "SAMPLES", "COLUMNS", "SPLITS", "CONTENT", "SAMPLE_FILE", "EXPECTED", "SeizureTable",
           "read_bytes", "parse", "read_seizure", "content_sha256", "values_sha256", "verify_file",
           "import_copy", "build_seizure", "sample_file", "seizure", "seizure_sample"]

SPLITS = ("segment", "row")
CONTENT = "epileptic_seizure_recognition.csv"      # the installed copy under <data root>/seizure, plain CSV
SAMPLE_FILE = "seizure-sample.csv.gz"              # package file nnstudy/data/samples/seizure-sample.csv.gz
KAGGLE = "harunshimanto/epileptic-seizure-recognition"


@dataclass(frozen=True)
class _Expected:
    rows: int
    per_class: int
    segments: int
    chunks: int                 # rows per segment
    content_sha256: str         # ids, X and y: see content_sha256()
    values_sha256: str          # X and y only, for copies without the id column: see values_sha256()


# Computed from ../shared/data/epileptic_seizure (the Kaggle file, whose every row was matched to the raw Bonn
# segments; see its README), and again independently with the csv module. They hash parsed values in a fixed order,
# so the UCI and Kaggle copies, plain or gzipped, with an empty or named id header, all give the same digests.
EXPECTED = _Expected(rows=11_500, per_class=2_300, segments=500, chunks=23,
                     content_sha256="e603c5819fac3a52d9b9b045fd8d998c57eeab874572c41b6e475a2b0ad43b90",
                     values_sha256="8806ddf3705112580c072db3b6c55f0d8d53d96a7d0b07b4569ce5d62b234988")


# -------------------------------------------------------------------------------------------- checksums

def _digest(order: np.ndarray, x: np.ndarray, y: np.ndarray, ids: np.ndarray | None = None) -> str:
    h = hashlib.sha256()
    if ids is not None:
        h.update("\n".join(ids[order]).encode("utf-8") + b"\n")
    h.update(np.ascontiguousarray(x[order], dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(y[order], dtype="<i8").tobytes())
    return h.hexdigest()


def content_sha256(ids: np.ndarray, x: np.ndarray, y: np.ndarray) -> str:
    """sha256 of the rows sorted by id: the ids joined by newlines (UTF-8, one trailing newline), then X as
    little-endian float64 (N, 178) row-major, then y (1..5) as little-endian int64. Independent of the row order
    and the text format (gzip or not, CRLF, ``135`` or ``135.0``, the id column's header)."""
    return _digest(np.argsort(ids, kind="stable"), x, y, ids)


def values_sha256(x: np.ndarray, y: np.ndarray) -> str:
    """sha256 of X and y as in :func:`content_sha256`, the rows sorted by (X1, ..., X178, y) instead of by id,
    for a copy without the id column."""
    keys = [y, *(x[:, j] for j in range(SAMPLES - 1, -1, -1))]          # np.lexsort: the last key is primary
    return _digest(np.lexsort(keys), x, y)


def verify_file(path: str | Path) -> list[str]:
    """Check a copy against the published dataset; lines of what was checked, DataError when it differs.

    Rows, columns, rows per class, segments and chunks per segment, and a content checksum over the parsed
    values, so the Kaggle and UCI copies, plain or gzipped, both pass. A copy without the id column is checked
    on its values (and can only be split by row).
    """
    return _verify(read_seizure(path))


def _verify(t: SeizureTable) -> list[str]:
    e = EXPECTED
    counts = np.bincount(t.y, minlength=len(CLASSES) + 1)[1:]
    if len(t.y) != e.rows or (counts != e.per_class).any():
        raise DataError(f"{t.where}: {len(t.y):,} rows, per class y=1..5 {counts.tolist()}; expected "
                        f"{e.rows:,} rows, {e.per_class:,} per class")
    lines = [t.where, (f"header ok ({_id_text(t.id_header)}, X1..X{SAMPLES}, y); {len(t.y):,} rows, "
                       f"{e.per_class:,} per class ok")]
    if t.segment is None:
        got, want, what = values_sha256(t.x, t.y), e.values_sha256, "values sha256 (no ids)"
    else:
        chunks = np.bincount(t.segment)
        if len(t.segment_ids) != e.segments or (chunks != e.chunks).any():
            raise DataError(f"{t.where}: {len(t.segment_ids)} segments with {chunks.min()}-{chunks.max()} chunks "
                            f"each; expected {e.segments} segments of {e.chunks} chunks")
        lines.append(f"{e.segments} segments × {e.chunks} chunks, one label per segment ok")
        got, want, what = content_sha256(t.ids, t.x, t.y), e.content_sha256, "content sha256"
    if got != want:
        raise DataError(f"{t.where}: {what} {got} differs from the published data's {want}")
    lines.append(f"{what} {got[:16]}… ok")
    return lines


def _id_text(id_header: str | None) -> str:
    if id_header is None:
        return "no id column: only data.split=row is possible"
    return f"id column {id_header!r}" if id_header else "id column with an empty header cell"


def import_copy(src: str | Path, target: str | Path) -> Path:
    """Write the CSV that `src` names (a .csv, .csv.gz, the Kaggle/UCI zip, or a folder with one CSV) to
    `target` as plain CSV: the store's import hook for ``nnstudy data add seizure PATH``.

    The copy is verified here first, so a mistake is reported against the user's file rather than the staging
    copy (the store verifies the staged copy again).
    """
    raw, where = read_bytes(src)
    _verify(parse(raw, where))
    target = Path(target)
    target.write_bytes(raw)
    return target


SOURCE = register_source(Source(
    name="seizure",
    url="",                   # none we can check offline: UCI's zip and Kaggle's download are imported with `add`
    filename="epileptic-seizure-recognition.zip",   # Kaggle's download; a .csv or .csv.gz is accepted too
    sha256="",
    size=None,
    folder="seizure",
    content=CONTENT,
    verify=lambda folder: verify_file(Path(folder) / CONTENT),
    sample="seizure-sample",
    description=f"UCI Epileptic Seizure Recognition: 11,500 EEG chunks × 178 samples, 5 classes (UCI 388, or "
                f"Kaggle {KAGGLE}; no public download: `nnstudy data add seizure FILE`)",
    stage=import_copy,
))


# --------------------------------------------------------------------------------------- in-process cache

def _stamp(path: Path) -> tuple:
    """Size and mtime (ns) of the files behind `path`: a changed or re-installed copy invalidates the cache."""
    files = [path] if path.is_file() else sorted(f for f in path.iterdir() if f.is_file() and is_csv(f.name))
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)


@functools.lru_cache(maxsize=4)   # studies build many runs in one process; a parsed copy is ~17 MB
def _load(path: str, stamp: tuple) -> SeizureTable:
    return read_seizure(path)


def _load_path(path: str | Path) -> SeizureTable:
    p = Path(path).expanduser().absolute()
    if not p.exists():
        raise DataError(f"{p}: no such file or folder (expected the .csv or .csv.gz of Epileptic Seizure "
                        f"Recognition)")
    return _load(str(p), _stamp(p))


# ------------------------------------------------------------------------------------------------ splits

def _check_args(val_fraction: float, test_fraction: float, split: str, subset: int | None) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must be below 1 (training needs rows), got "
                         f"{val_fraction} + {test_fraction}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if subset is not None and subset < 1:
        raise ValueError(f"subset must be a positive number of training rows (or null for all), got {subset}")


def _round(x: float) -> int:
    """x rounded half up, forgiving float error (0.15 · 10 means 1.5, which gives 2 on every platform)."""
    return math.floor(x + 0.5 + 1e-9)


def _split_units(labels: torch.Tensor, val_fraction: float, test_fraction: float, gen: torch.Generator,
                 unit: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train, val, test) sorted indices into `labels` (one per row, or one per segment). Each class is divided
    by the fractions on its own: of its n units, in a random order drawn from `gen`, the first
    round(test_fraction·n) go to test, the next round(val_fraction·n) to validation, the rest to training
    (rounded half up). Balanced classes, as in this dataset, give balanced splits."""
    parts: tuple[list[torch.Tensor], ...] = ([], [], [])
    for c in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == c).squeeze(1)
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_test, n_val = _round(test_fraction * len(idx)), _round(val_fraction * len(idx))
        if n_test < 1 or n_test + n_val >= len(idx):
            raise ValueError(f"class {c} ({CLASSES[c]}) has {len(idx)} {unit}s: too few to hold out "
                             f"test_fraction={test_fraction} and val_fraction={val_fraction} and keep some to train")
        for part, chosen in zip(parts, (idx[n_test + n_val:], idx[n_test:n_test + n_val], idx[:n_test])):
            part.append(chosen)
    train, val, test = (torch.cat(p).sort().values for p in parts)
    return train, val, test


def build_seizure(name: str, table: SeizureTable, source: str, *, val_fraction: float, test_fraction: float,
                  split: str, split_seed: int, standardize: bool, subset: int | None) -> Dataset:
    """Splits of `table` (see :func:`seizure` for the arguments); rows keep their file order within a split."""
    _check_args(val_fraction, test_fraction, split, subset)
    labels = torch.from_numpy(table.labels)          # y - 1: a new, writable array
    segment = torch.from_numpy(table.segment.copy()) if table.segment is not None else None
    if split == "segment":
        if segment is None:
            raise DataError(f"{table.where}: has no id column, so chunks cannot be grouped by source segment; "
                            f"use data.split=row")
        # The label of each segment (one per segment, checked by the reader) stands for all its chunks.
        unit_of_row = segment
        unit_labels = torch.zeros(len(table.segment_ids), dtype=torch.int64).scatter_(0, segment, labels)
    else:
        unit_of_row, unit_labels = torch.arange(len(labels)), labels
    # Its own generator: the split (and subset) depend on split_seed only, not the run's seed, so every seed of
    # a study sees the same test rows.
    gen = torch.Generator().manual_seed(split_seed)
    units = _split_units(unit_labels, val_fraction, test_fraction, gen, split)
    train_idx, val_idx, test_idx = (torch.nonzero(torch.isin(unit_of_row, u)).squeeze(1) for u in units)
    if subset is not None:
        if subset > len(train_idx):
            raise ValueError(f"subset={subset} exceeds the {len(train_idx):,} training rows")
        keep, _ = stratified_take(labels[train_idx], subset, gen)
        train_idx = train_idx[keep]

    x = table.x
    extra_scale: dict = {"standardize": standardize}
    if standardize:
        # Per feature, fit on the training rows only: statistics of validation or test rows would leak into
        # the inputs the model is selected and measured on.
        fit = x[train_idx.numpy()]
        mean, std = fit.mean(axis=0), fit.std(axis=0)
        if (std == 0).any():
            j = int(np.flatnonzero(std == 0)[0])
            raise ValueError(f"X{j + 1} is constant on the {len(fit):,} training rows, so it cannot be "
                             f"standardized; use more rows or data.standardize=false")
        x = (x - mean) / std
        extra_scale.update(standardization="per feature X1..X178: (x − mean) / std, mean and std (ddof 0) of the "
                                           "training rows only; mean[j], std[j] are feature X(j+1)",
                           mean=mean.tolist(), std=std.tolist())
    inputs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

    def take(idx: torch.Tensor) -> Split:
        return Split(inputs.index_select(0, idx), labels.index_select(0, idx),
                     segment.index_select(0, idx) if segment is not None else None)

    parts = {"train": train_idx, "val": val_idx, "test": test_idx}
    per_class = {k: torch.bincount(labels[i], minlength=len(CLASSES)).tolist() for k, i in parts.items()}
    segments = None
    if segment is not None:
        in_split = {k: set(segment[i].tolist()) for k, i in parts.items()}
        shared = ((in_split["train"] & in_split["val"]) | (in_split["train"] & in_split["test"])
                  | (in_split["val"] & in_split["test"]))
        segments = {"total": len(table.segment_ids), **{k: len(s) for k, s in in_split.items()},
                    "in_two_splits": len(shared)}
    info = DataInfo(input_shape=(SAMPLES,), num_classes=len(CLASSES), class_names=list(CLASSES), extra={
        "split": split, "val_fraction": val_fraction, "test_fraction": test_fraction, "split_seed": split_seed,
        "subset": subset, "labels": "file's y 1..5 → class 0..4",
        "sizes": {k: len(i) for k, i in parts.items()}, "per_class": per_class, "segments": segments,
        "groups": "index of each row's source segment in the sorted segment ids" if segment is not None else None,
        **extra_scale})
    return Dataset(name=name, train=take(train_idx), val=take(val_idx) if len(val_idx) else None,
                   test=take(test_idx), info=info, source=source)


# ------------------------------------------------------------------------------------------------ builders

@register_dataset("seizure", tags=("signal", "classification"))
def seizure(*, path: str | None = None, val_fraction: float = 0.15, test_fraction: float = 0.15,
            split: str = "segment", split_seed: int = 0, standardize: bool = True,
            subset: int | None = None) -> Dataset:
    """UCI Epileptic Seizure Recognition: 11,500 EEG chunks of 178 samples, 5 classes, train/val/test split.

    Args:
        path: a copy to read instead of the data root's: the .csv or .csv.gz (an id column named ``Unnamed``,
            with an empty header cell, or absent), the Kaggle/UCI zip, or a folder holding one CSV. It is
            checked for format, not against the published checksums (``nnstudy data verify seizure`` does that).
        val_fraction: share of the data held out for validation, stratified by class (0: none).
        test_fraction: share of the data held out for testing, stratified by class.
        split: "segment" (default) keeps all 23 chunks of a source EEG segment in one split, the fractions
            counting segments (each class's segments divided in proportion); "row" splits the rows themselves,
            as the course did, which puts chunks of one recording in train and test (a leak, for comparison).
        split_seed: seed of the split and the subset (independent of the run's seed).
        standardize: scale each of X1..X178 to mean 0, std 1 with the mean and std of the training rows only
            (recorded in ``info.extra["mean"]``/``["std"]``); false: the raw integer samples as float32.
        subset: keep only this many of the training rows (stratified, drawn with `split_seed`), for quick runs.

    Inputs are float32 (N, 178), targets the classes 0..4 (seizure, tumor area, healthy area, eyes closed, eyes
    open); each split's ``groups`` is the row's source segment (an index into the sorted segment ids).

    Source: Q. Wu, E. Fokoue, UCI Machine Learning Repository 388 (2017), from R. G. Andrzejak et al., Phys. Rev.
    E 64, 061907 (2001); protocol of Georgia Tech CSE6250 HW5 Q1 (seed 004).
    """
    _check_args(val_fraction, test_fraction, split, subset)
    table = _load_path(path) if path is not None else _load_path(installed_path("seizure"))
    return build_seizure("seizure", table, table.where, val_fraction=val_fraction, test_fraction=test_fraction,
                         split=split, split_seed=split_seed, standardize=standardize, subset=subset)


def sample_file() -> Path:
    """The bundled sample's file (inside the installed package)."""
    path = Path(str(resources.files("nnstudy.data") / "samples" / SAMPLE_FILE))
    if not path.is_file():
        raise DataError(f"{path}: bundled seizure sample is missing; reinstall nnstudy")
    return path


@register_dataset("seizure-sample", tags=("signal", "classification", "bundled"))
def seizure_sample(*, val_fraction: float = 0.15, test_fraction: float = 0.15, split: str = "segment",
                   split_seed: int = 0, standardize: bool = True, subset: int | None = None) -> Dataset:
    """Epileptic Seizure Recognition sample bundled with nnstudy: 1,150 real rows, 10 segments per class.

    All 23 chunks of the first 10 source segments of each class in the Kaggle file's order, the rows unchanged
    and in file order. Arguments as for ``seizure``.
    """
    _check_args(val_fraction, test_fraction, split, subset)
    table = _load_path(sample_file())
    return build_seizure("seizure-sample", table, f"bundled sample {SAMPLE_FILE}", val_fraction=val_fraction,
                         test_fraction=test_fraction, split=split, split_seed=split_seed, standardize=standardize,
                         subset=subset)
