"""MIMIC-III v1.4 patients as sequences of visits (SPEC G, the CSE6250 HW5 Q2 set-up), for users with access.

Registers ``mimic3``: read from ``path=`` or the data root (``nnstudy data add mimic3 FOLDER``). MIMIC-III needs a
credentialed PhysioNet account, so nothing is downloaded or bundled; the tests use a synthetic fixture in the
same schema.

Files (v1.4 schema, ``.csv`` or ``.csv.gz``, column names in any case):

- ``ADMISSIONS``: ``SUBJECT_ID, HADM_ID, ADMITTIME`` (``YYYY-MM-DD HH:MM:SS``), ``HOSPITAL_EXPIRE_FLAG`` (0/1).
- ``DIAGNOSES_ICD``: ``HADM_ID, ICD9_CODE`` (the billing codes of each admission, without the decimal point).

PATIENTS is not needed: the label is in-hospital death, which ADMISSIONS records.

A patient is the sequence of their admissions ordered by ADMITTIME (then HADM_ID). Each visit is a multi-hot
vector over ICD-9 categories: a code is cut to its category, the 3 characters before the decimal point
(``4019`` → ``401``, ``V3001`` → ``V30``), 4 for E-codes, whose categories are E + 3 digits (``E8798`` →
``E879``), which is the course's ``convert_icd9`` rule. The label is 1 when the patient died in hospital
(HOSPITAL_EXPIRE_FLAG of an admission); admissions that begin after the death admission (MIMIC's organ-donor
accounts) are dropped and counted, so the death is always at the last visit. Inputs are float32 (N, T, 1 + V):
channel 0 flags real visits (1) against padding (0, after the last visit), channels 1.. are the categories seen
in the training patients (V of them, sorted). They are gathered per batch by :class:`VisitView`, since dense
inputs of all 46,520 patients would take gigabytes.
"""
from __future__ import annotations

import functools
import io
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..errors import DataError, clip
from . import register_dataset
from .base import DataInfo, Dataset, Split
from .files import one_line, read_text_bytes, whole_numbers
from .mortality import CLASSES, split_stays
from .store import Source, installed_path, register_source

__all__ = ["ADMISSIONS", "DIAGNOSES", "CONTENT", "V14_COUNTS", "icd9_category", "MimicTable", "VisitView",
           "find_tables", "read_mimic3", "verify_folder", "import_tables", "build_mimic3", "mimic3"]

ADMISSIONS = ("SUBJECT_ID", "HADM_ID", "ADMITTIME", "HOSPITAL_EXPIRE_FLAG")   # the columns read
DIAGNOSES = ("HADM_ID", "ICD9_CODE")
CONTENT = "mimic-iii"                       # folder under <data root>/mimic3 holding the two tables
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# Rows of the v1.4 tables (MIMIC-III documentation), shown by `nnstudy data verify mimic3` beside what it finds.
V14_COUNTS = {"ADMISSIONS": 58_976, "DIAGNOSES_ICD": 651_047}


def icd9_category(code: str) -> str:
    """The ICD-9 category of `code`: ``4019`` → ``401``, ``401.9`` → ``401``, ``V3001`` → ``V30``,
    ``E8798`` → ``E879`` (E-codes keep 4 characters: E and 3 digits). Blank → ``""``."""
    code = code.strip().upper()
    head = code.split(".", 1)[0]
    return head[:4] if head.startswith("E") else head[:3]


@dataclass(frozen=True)
class MimicTable:
    """Patients as visits (cached: read-only). Patient p's visits are ``visit_start[p] .. visit_start[p+1]``, in
    time order; visit v's categories are ``category[code_start[v]:code_start[v+1]]`` (indices into
    ``categories``, distinct within a visit)."""

    subject_ids: np.ndarray     # int64 (P,), ascending
    labels: np.ndarray          # int64 (P,): 1 = died in hospital
    visit_start: np.ndarray     # int64 (P + 1,)
    visit_hadm: np.ndarray      # int64 (visits,)
    code_start: np.ndarray      # int64 (visits + 1,)
    category: np.ndarray        # int64 (pairs,)
    categories: np.ndarray      # str (C,), sorted
    report: dict[str, Any]
    where: str

    def __len__(self) -> int:
        return len(self.subject_ids)

    @property
    def visits(self) -> np.ndarray:
        return np.diff(self.visit_start)


# ------------------------------------------------------------------------------------------------ reading

def find_tables(folder: str | Path) -> tuple[Path, Path]:
    """(ADMISSIONS, DIAGNOSES_ICD) files in `folder` (``.csv`` or ``.csv.gz``, any case)."""
    p = Path(folder).expanduser().absolute()
    if not p.is_dir():
        raise DataError(f"{p}: no such folder (expected MIMIC-III's ADMISSIONS.csv[.gz] and DIAGNOSES_ICD.csv[.gz])")
    out = []
    for table in ("ADMISSIONS", "DIAGNOSES_ICD"):
        found = [f for f in p.iterdir() if f.is_file() and f.name.upper() in (f"{table}.CSV", f"{table}.CSV.GZ")]
        if not found:
            raise DataError(f"{p}: holds no {table}.csv or {table}.csv.gz")
        if len(found) > 1:
            raise DataError(f"{p}: holds both {found[0].name} and {found[1].name}; keep one")
        out.append(found[0])
    return out[0], out[1]


def _read_columns(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """The named columns of a MIMIC CSV as text (names matched in any case); DataError names a missing one."""
    # Read here rather than by pandas: gzip is recognised by its bytes, and a file that is not UTF-8 text (empty,
    # UTF-16, binary) is named as such instead of by a decoder's error.
    raw = read_text_bytes(path)
    try:
        head = pd.read_csv(io.BytesIO(raw), nrows=0)
    except (ValueError, pd.errors.ParserError) as e:
        raise DataError(f"{path}: not a readable CSV ({one_line(e)})") from None
    names = {c.strip().upper(): c for c in head.columns}
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(f"{path}: line 1: no column {missing[0]} (the MIMIC-III v1.4 schema has "
                        f"{', '.join(columns)})")
    try:
        df = pd.read_csv(io.BytesIO(raw), usecols=[names[c] for c in columns], dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as e:
        raise DataError(f"{path}: not a readable CSV ({one_line(e)})") from None
    # A short row leaves its last cells missing (NaN even without NA parsing): make them empty text, refused below.
    return df.rename(columns={names[c]: c for c in columns})[list(columns)].fillna("")


def _integers(df: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    # Line = row + 2 (the header is line 1): MIMIC-III's tables read here hold no newline inside a field.
    return whole_numbers(df[column], lambda row: f"{path}: line {row + 2}", column)


def _admissions(path: Path) -> pd.DataFrame:
    df = _read_columns(path, ADMISSIONS)
    out = pd.DataFrame({"subject": _integers(df, "SUBJECT_ID", path), "hadm": _integers(df, "HADM_ID", path)})
    when = pd.to_datetime(df["ADMITTIME"].str.strip(), format=TIME_FORMAT, errors="coerce")
    if when.isna().any():
        row = int(np.argmax(when.isna().to_numpy()))
        raise DataError(f"{path}: line {row + 2}: ADMITTIME {clip(df['ADMITTIME'].iloc[row])!r} is not "
                        f"YYYY-MM-DD HH:MM:SS")
    out["time"] = when.to_numpy()
    flag = df["HOSPITAL_EXPIRE_FLAG"].str.strip()
    bad = ~flag.isin(["0", "1"]).to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"{path}: line {row + 2}: HOSPITAL_EXPIRE_FLAG {clip(flag.iloc[row])!r} is not 0 or 1")
    out["died"] = (flag == "1").to_numpy()
    dup = out["hadm"].duplicated().to_numpy()
    if dup.any():
        row = int(np.argmax(dup))
        first = int(np.argmax(out["hadm"].to_numpy() == out["hadm"].iloc[row]))
        raise DataError(f"{path}: line {row + 2}: HADM_ID {out['hadm'].iloc[row]} repeats line {first + 2}")
    if not len(out):
        raise DataError(f"{path}: no admissions under the header")
    return out


def read_mimic3(folder: str | Path) -> MimicTable:
    """Read ADMISSIONS and DIAGNOSES_ICD from `folder` into patients of ordered, multi-hot visits."""
    adm_path, dx_path = find_tables(folder)
    adm = _admissions(adm_path)
    dx = _read_columns(dx_path, DIAGNOSES)
    dx_hadm = _integers(dx, "HADM_ID", dx_path)

    # Visits in time order per patient; admissions after the death admission are dropped.
    all_hadm = adm["hadm"].to_numpy()
    adm = adm.sort_values(["subject", "time", "hadm"], kind="stable").reset_index(drop=True)
    death_time = adm[adm["died"]].groupby("subject")["time"].min()
    after = (adm["time"] > adm["subject"].map(death_time)).to_numpy()       # NaT compares False: survivors
    adm = adm[~after].reset_index(drop=True)
    subjects, visit_start = np.unique(adm["subject"].to_numpy(), return_index=True)
    visit_start = np.append(visit_start, len(adm)).astype(np.int64)
    labels = adm.groupby("subject")["died"].any().reindex(subjects).to_numpy().astype(np.int64)

    # Codes → categories → (visit, category) pairs, distinct, in visit order.
    code = dx["ICD9_CODE"].to_numpy(dtype=str)
    cat_codes, cat_texts = pd.factorize(pd.Series(code))
    cats = np.array([icd9_category(c) for c in cat_texts], dtype=object)
    category = cats[cat_codes] if len(cat_codes) else np.array([], dtype=object)
    blank = category == ""
    visit_of = pd.Series(np.arange(len(adm)), index=adm["hadm"].to_numpy())
    visit = visit_of.reindex(dx_hadm).to_numpy()
    unknown_hadm = ~np.isin(dx_hadm, all_hadm) & ~blank
    of_dropped = np.isnan(visit) & ~blank & ~unknown_hadm
    keep = ~blank & ~np.isnan(visit)
    categories, cat_index = np.unique(category[keep].astype(str), return_inverse=True)
    pairs = pd.DataFrame({"v": visit[keep].astype(np.int64), "c": cat_index.astype(np.int64)})
    pairs = pairs.drop_duplicates().sort_values(["v", "c"], kind="stable")
    code_start = np.searchsorted(pairs["v"].to_numpy(), np.arange(len(adm) + 1)).astype(np.int64)
    dropped_after = int(after.sum())
    report = {
        "admissions": len(after), "diagnosis_rows": len(dx), "patients": len(subjects),
        "deaths": int(labels.sum()), "visits": len(adm),
        "admissions_after_death_dropped": dropped_after,
        "diagnoses_without_code_ignored": int(blank.sum()),
        "diagnoses_of_unknown_admissions_ignored": int(unknown_hadm.sum()),
        "diagnoses_of_dropped_admissions": int(of_dropped.sum()),
        "visits_without_diagnoses": int((np.diff(code_start) == 0).sum()),
        "categories": len(categories),
        "category_rule": "ICD-9 code cut before the decimal point to 3 characters, 4 for E-codes (E + 3 digits)",
    }
    arrays = (subjects.astype(np.int64), labels, visit_start, adm["hadm"].to_numpy(np.int64), code_start,
              pairs["c"].to_numpy(np.int64), categories)
    for a in arrays:
        a.flags.writeable = False
    return MimicTable(*arrays, report=report, where=str(Path(folder).expanduser().absolute()))


def _stamp(files: tuple[Path, Path]) -> tuple:
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)


@functools.lru_cache(maxsize=2)   # the full tables take a few seconds to parse
def _load(folder: str, stamp: tuple) -> MimicTable:
    return read_mimic3(folder)


# ------------------------------------------------------------------------------------------- lazy inputs

class VisitView:
    """Lazy (N, T, 1 + V) float32 inputs: each batch is made dense when indexed (``view[idx]``), so memory is
    O(diagnoses), not O(patients × T × V).

    Sample k is patient ``rows[k]``: its visit t (t < visits) has channel 0 = 1 and a 1 at 1 + each of its
    category indices; steps from ``visits`` on are zero.
    """

    def __init__(self, visits: torch.Tensor, start: torch.Tensor, step: torch.Tensor, code: torch.Tensor,
                 steps: int, width: int, rows: torch.Tensor | None = None) -> None:
        self.visits, self.start, self.step, self.code = visits, start, step, code
        self.steps, self.width = steps, width
        self.rows = rows if rows is not None else torch.arange(len(visits))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: Any) -> torch.Tensor:
        rows = self.rows[index]
        single = rows.ndim == 0
        rows = rows.reshape(-1)
        out = torch.zeros((len(rows), self.steps, self.width), dtype=torch.float32)
        out[:, :, 0] = (torch.arange(self.steps).unsqueeze(0) < self.visits[rows].unsqueeze(1)).float()
        first, count = self.start[rows], self.start[rows + 1] - self.start[rows]
        sample = torch.repeat_interleave(torch.arange(len(rows)), count)
        offset = torch.arange(int(count.sum())) - torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
        at = torch.repeat_interleave(first, count) + offset
        out[sample, self.step[at], 1 + self.code[at]] = 1.0
        return out[0] if single else out

    def take(self, index: torch.Tensor) -> VisitView:
        return VisitView(self.visits, self.start, self.step, self.code, self.steps, self.width, self.rows[index])

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.rows), self.steps, self.width))

    @property
    def ndim(self) -> int:
        return 3

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def __repr__(self) -> str:
        return f"VisitView({len(self):,} patients × {self.steps} visits × {self.width} channels)"


# ---------------------------------------------------------------------------------------------- building

def _ranges(start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """``concatenate([arange(a, b) for a, b in zip(start, stop)])``, vectorised (int64)."""
    count = (stop - start).astype(np.int64)
    return np.repeat(start.astype(np.int64) - np.cumsum(count) + count, count) + np.arange(int(count.sum()))


def build_mimic3(table: MimicTable, source: str, *, val_fraction: float, test_fraction: float, split_seed: int,
                 subset: int | None, max_visits: int | None, include_last_visit: bool) -> Dataset:
    """Splits of `table` (see :func:`mimic3` for the arguments); patients keep SUBJECT_ID order in a split."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if not 0.0 <= val_fraction < 1.0 or val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction must be in [0, 1) and val_fraction + test_fraction below 1, got "
                         f"{val_fraction} + {test_fraction}")
    if max_visits is not None and max_visits < 1:
        raise ValueError(f"max_visits must be a positive number of visits (or null for all), got {max_visits}")
    if subset is not None and subset < 1:
        raise ValueError(f"subset must be a positive number of training patients (or null for all), got {subset}")

    # Which visits are inputs: optionally not the last (where the death happens, so its codes can give it away),
    # and at most the last `max_visits`.
    first, end = table.visit_start[:-1], table.visit_start[1:] - (0 if include_last_visit else 1)
    if max_visits is not None:
        first = np.maximum(first, end - max_visits)
    kept = end > first
    patients = np.flatnonzero(kept)
    labels = torch.from_numpy(table.labels[patients].copy())
    first, end = first[patients], end[patients]
    visits = end - first

    # Every (patient, step, category) of the kept visits, patient by patient.
    visit_ids = _ranges(first, end)
    step_of_visit = visit_ids - np.repeat(first, visits)
    per_visit = np.diff(table.code_start)[visit_ids]
    pair_ids = _ranges(table.code_start[visit_ids], table.code_start[visit_ids + 1])
    pair_step = np.repeat(step_of_visit, per_visit)
    pair_patient = np.repeat(np.repeat(np.arange(len(patients)), visits), per_visit)

    gen = torch.Generator().manual_seed(split_seed)
    parts = dict(zip(("train", "val", "test"), split_stays(labels, val_fraction, test_fraction, subset, gen)))
    # The vocabulary: categories of the training patients' input visits only.
    in_train = np.isin(pair_patient, parts["train"].numpy())
    vocab = np.unique(table.category[pair_ids][in_train])
    lookup = np.full(len(table.categories), -1, dtype=np.int64)
    lookup[vocab] = np.arange(len(vocab))
    code = lookup[table.category[pair_ids]]
    known = code >= 0
    unseen = {k: int((~known & np.isin(pair_patient, i.numpy())).sum()) for k, i in parts.items()}
    pair_patient, pair_step, code = pair_patient[known], pair_step[known], code[known]
    start = np.searchsorted(pair_patient, np.arange(len(patients) + 1))
    steps = int(visits.max()) if len(visits) else 1
    view = VisitView(torch.from_numpy(visits.astype(np.int64)), torch.from_numpy(start.astype(np.int64)),
                     torch.from_numpy(pair_step.astype(np.int64)), torch.from_numpy(code), steps, 1 + len(vocab))

    def take(idx: torch.Tensor) -> Split:
        return Split(view.take(idx), labels.index_select(0, idx))

    sizes = {k: len(i) for k, i in parts.items()}
    deaths = {k: int(labels[i].sum()) for k, i in parts.items()}
    names = [str(c) for c in table.categories[vocab]]
    info = DataInfo(input_shape=(steps, 1 + len(vocab)), num_classes=2, class_names=list(CLASSES), extra={
        "layout": "per visit: visit_present, then a multi-hot of the ICD-9 categories seen in training",
        "features": ["visit_present", *(f"icd9:{c}" for c in names)],
        "labels": "1 if the patient died in hospital (HOSPITAL_EXPIRE_FLAG), at the last visit",
        "include_last_visit": include_last_visit, "max_visits": max_visits,
        "patients_without_input_visits_dropped": int((~kept).sum()),
        "split": "test, then validation, stratified by label; the rest trains",
        "val_fraction": val_fraction, "test_fraction": test_fraction, "split_seed": split_seed, "subset": subset,
        "sizes": sizes, "deaths": deaths,
        "subject_ids": {k: table.subject_ids[patients[i.numpy()]].tolist() for k, i in parts.items()},
        "positive_fraction": {k: round(deaths[k] / sizes[k], 6) if sizes[k] else None for k in parts},
        "visits": {"min": int(visits.min()), "max": steps, "mean": round(float(visits.mean()), 3)},
        "categories_in_vocabulary": len(vocab), "unseen_category_entries_dropped": unseen,
        "reading": table.report, "groups": None})
    return Dataset(name="mimic3", train=take(parts["train"]), val=take(parts["val"]) if sizes["val"] else None,
                   test=take(parts["test"]), info=info, source=source)


# ----------------------------------------------------------------------------------------- store, builder

def verify_folder(folder: str | Path) -> list[str]:
    """Read the installed tables (format checks: columns, ids, times, flags, no repeated HADM_ID) and report
    their size beside v1.4's; there is no public checksum to compare with."""
    t = read_mimic3(folder)
    r = t.report
    return [str(folder),
            (f"ADMISSIONS: {r['admissions']:,} rows (v1.4: {V14_COUNTS['ADMISSIONS']:,}); DIAGNOSES_ICD: "
             f"{r['diagnosis_rows']:,} rows (v1.4: {V14_COUNTS['DIAGNOSES_ICD']:,})"),
            f"{r['patients']:,} patients, {r['deaths']:,} died in hospital, {r['categories']:,} ICD-9 categories"]


def import_tables(src: str | Path, target: str | Path) -> Path:
    """Copy ADMISSIONS and DIAGNOSES_ICD (.csv or .csv.gz) from the folder `src` into the folder `target` (the
    store's hook for ``nnstudy data add mimic3 FOLDER``); the other MIMIC tables are left behind."""
    files = find_tables(src)
    read_mimic3(src)                    # check first, so errors name the user's files
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(f, target / f.name)
    return target


SOURCE = register_source(Source(
    name="mimic3",
    url="",                   # credentialed access on PhysioNet: no download
    filename="mimic-iii-clinical-database-1.4.zip",
    sha256="",
    size=None,
    folder="mimic3",
    content=CONTENT,
    verify=lambda folder: verify_folder(Path(folder) / CONTENT),
    sample=None,
    description="MIMIC-III v1.4 ADMISSIONS + DIAGNOSES_ICD (credentialed PhysioNet access; "
                "`nnstudy data add mimic3 FOLDER`)",
    stage=import_tables,
))


@register_dataset("mimic3", tags=("sequence", "classification", "clinical"))
def mimic3(*, path: str | None = None, val_fraction: float = 0.15, test_fraction: float = 0.15,
           split_seed: int = 0, subset: int | None = None, max_visits: int | None = None,
           include_last_visit: bool = True) -> Dataset:
    """MIMIC-III patients as sequences of visits (multi-hot ICD-9 categories) → in-hospital death.

    Args:
        path: the folder holding ADMISSIONS.csv[.gz] and DIAGNOSES_ICD.csv[.gz] (MIMIC-III v1.4 schema), instead
            of the data root's copy.
        val_fraction: share of the patients held out for validation (after test), stratified by label.
        test_fraction: share of the patients held out for testing, stratified by label.
        split_seed: seed of the split and the subset (independent of the run's seed).
        subset: keep only this many training patients (stratified, drawn with `split_seed`), for quick runs.
        max_visits: keep only each patient's last this many visits (null: all).
        include_last_visit: true (the course's set-up) feeds every visit, the last too, although its diagnoses
            are coded at discharge or death and can give the outcome away; false drops it (patients with one
            visit then have none and are left out, counted in info.extra).

    Inputs are float32 (N, T, 1 + V), channel 0 flagging real visits, gathered lazily per batch; targets 0 =
    survived, 1 = died in hospital.

    Source: A. E. W. Johnson et al., "MIMIC-III, a freely accessible critical care database", Scientific Data 3,
    160035 (2016); task of Georgia Tech CSE6250 HW5 Q2.
    """
    folder = Path(path).expanduser().absolute() if path is not None else installed_path("mimic3")
    table = _load(str(folder), _stamp(find_tables(folder)))
    return build_mimic3(table, str(folder), val_fraction=val_fraction, test_fraction=test_fraction,
                        split_seed=split_seed, subset=subset, max_visits=max_visits,
                        include_last_visit=include_last_visit)
