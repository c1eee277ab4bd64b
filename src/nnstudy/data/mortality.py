"""ICU in-hospital mortality from the PhysioNet/CinC Challenge 2012 (SPEC G): a checking reader and
variable-length sequence datasets.

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

import csv
import functools
import gzip
import hashlib
import io
import json
import math
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..errors import DataError, clip
from . import register_dataset
from .base import DataInfo, Dataset, Split
from .files import check_finite, check_text, whole_number_problem, whole_numbers
from .files import one_line as _one_line
from .files import read_text_bytes as _read_file
from .splits import stratified_take
from .store import Source, installed_path, register_source

__all__ = ["VARIABLES", "DESCRIPTORS", "UNITS", "RULES", "ICU_TYPES", "HOURS", "SINCE_CAP_HOURS", "FEATURES",
           "CLASSES", "LAYOUTS", "CONTENT", "SAMPLE_FILE", "SAMPLE_OUTCOMES", "EXPECTED", "Rule", "Rows",
           "MortalityTable", "read_mortality", "read_long", "read_records", "read_outcomes", "locate",
           "records_to_long", "split_stays", "fit_stats", "load_stats", "verify_folder", "import_copy",
           "build_mortality", "sample_files", "mortality", "mortality_sample"]

# The 37 time-series variables, in the order of the challenge's description (and of the feature channels).
VARIABLES = ("Albumin", "ALP", "ALT", "AST", "Bilirubin", "BUN", "Cholesterol", "Creatinine", "DiasABP", "FiO2",
             "GCS", "Glucose", "HCO3", "HCT", "HR", "K", "Lactate", "Mg", "MAP", "MechVent", "Na", "NIDiasABP",
             "NIMAP", "NISysABP", "PaCO2", "PaO2", "pH", "Platelets", "RespRate", "SaO2", "SysABP", "Temp",
             "TroponinI", "TroponinT", "Urine", "WBC", "Weight")
DESCRIPTORS = ("RecordID", "Age", "Gender", "Height", "ICUType", "Weight")
UNITS = {"Albumin": "g/dL", "ALP": "IU/L", "ALT": "IU/L", "AST": "IU/L", "Bilirubin": "mg/dL", "BUN": "mg/dL",
         "Cholesterol": "mg/dL", "Creatinine": "mg/dL", "DiasABP": "mmHg", "FiO2": "fraction", "GCS": "points",
         "Glucose": "mg/dL", "HCO3": "mmol/L", "HCT": "%", "HR": "bpm", "K": "mEq/L", "Lactate": "mmol/L",
         "Mg": "mmol/L", "MAP": "mmHg", "MechVent": "1 = ventilated", "Na": "mEq/L", "NIDiasABP": "mmHg",
         "NIMAP": "mmHg", "NISysABP": "mmHg", "PaCO2": "mmHg", "PaO2": "mmHg", "pH": "", "Platelets": "cells/nL",
         "RespRate": "breaths/min", "SaO2": "%", "SysABP": "mmHg", "Temp": "°C", "TroponinI": "μg/L",
         "TroponinT": "μg/L", "Urine": "mL", "WBC": "cells/nL", "Weight": "kg", "Age": "years", "Height": "cm"}


@dataclass(frozen=True)
class Rule:
    """The valid range of a measurement: low < x (low ≤ x when `closed`) and x ≤ high; anything else is dropped."""

    low: float
    high: float = math.inf
    closed: bool = False
    why: str = ""

    def valid(self, x: np.ndarray) -> np.ndarray:
        return _within(x, self.low, self.high, self.closed)

    def __str__(self) -> str:
        text = f"{self.low:g} {'≤' if self.closed else '<'} x"
        text += f" ≤ {self.high:g}" if self.high < math.inf else ""
        return f"{text} ({self.why})" if self.why else text


def _within(x: np.ndarray, low: Any, high: Any, closed: Any) -> np.ndarray:
    """low < x ≤ high (low ≤ x where `closed`), element-wise; the bounds may be arrays, one per element of x."""
    return np.where(closed, x >= low, x > low) & (x <= high)


# Every quantity here is positive in a living patient: zero and negative values are recording errors (a blood
# pressure of 0 is an arterial line being flushed or zeroed, Temp −17.8 °C is 0 °F converted). Exceptions and
# tighter bounds are listed; the bounds only drop values no patient can have, never merely abnormal ones.
_POSITIVE = Rule(0.0, why="zero or negative is impossible")
RULES: dict[str, Rule] = {
    **{v: _POSITIVE for v in VARIABLES},
    "Urine": Rule(0.0, closed=True, why="mL per interval; 0 is a real anuric interval"),
    "Temp": Rule(20.0, 45.0, closed=True, why="°C; 0.8..3.6, 0 and -17.8 occur, no patient lives outside this"),
    "pH": Rule(6.5, 8.0, closed=True, why="values like 1, 94 and 735 (pH × 100) occur"),
    "FiO2": Rule(0.21, 1.0, closed=True, why="a fraction: room air (0.21) to pure oxygen"),
    "SaO2": Rule(0.0, 100.0, why="a percentage"),
    "GCS": Rule(3.0, 15.0, closed=True, why="the Glasgow Coma Scale runs from 3 to 15"),
    "Weight": Rule(10.0, 350.0, closed=True, why="kg of patients aged 15 or more; 0, 0.6 and 3.4 occur"),
    # Descriptors (static): -1 means unknown; these rules turn impossible values into unknown as well.
    "Age": Rule(0.0, 120.0, closed=True, why="years; 90 stands for 90 or older"),
    "Height": Rule(100.0, 250.0, closed=True, why="cm; 1.8..17.8 and 365.8..431.8 (inches converted twice) occur"),
}
ICU_TYPES = {1: "coronary care unit", 2: "cardiac surgery recovery unit", 3: "medical ICU", 4: "surgical ICU"}
GENDERS = {0: "female", 1: "male"}
HOURS = 48                      # the challenge's records cover the first 48 h of the stay
SINCE_CAP_HOURS = 48            # hours since the last observation are capped here (= never observed), then / 48
_MINUTES = HOURS * 60           # 48:00, the latest time a record holds
_STATIC_CHANNELS = ("age", "gender_female", "gender_male", "height", "height_missing", "weight", "weight_missing",
                    *(f"icu_{t.replace(' ', '_').lower()}" for t in ICU_TYPES.values()))
FEATURES = ("step_present", *(f"value:{v}" for v in VARIABLES), *(f"mask:{v}" for v in VARIABLES),
            *(f"hours_since:{v}" for v in VARIABLES), *_STATIC_CHANNELS)
CLASSES = ("survived", "died")
LAYOUTS = ("auto", "long", "records")
LONG_HEADER = ("RecordID", "Time", "Parameter", "Value")
RECORD_HEADER = ("Time", "Parameter", "Value")
CONTENT = "physionet2012"                       # folder under <data root>/mortality: set-a.csv.gz + Outcomes-a.txt
INSTALLED_CSV, INSTALLED_OUTCOMES = "set-a.csv.gz", "Outcomes-a.txt"
SAMPLE_FILE = "mortality-sample.csv.gz"         # package files nnstudy/data/samples/..., long layout
SAMPLE_OUTCOMES = "mortality-sample-outcomes.csv.gz"
_V = len(VARIABLES)
_PARAMS = (*DESCRIPTORS[:5], *VARIABLES)       # every known parameter name; index = code (Weight once)
_CODE = {p: i for i, p in enumerate(_PARAMS)}
_WEIGHT = _CODE["Weight"]
_FIRST_VAR = len(DESCRIPTORS) - 1              # codes from here on are VARIABLES
_STATIC = ("Age", "Gender", "Height", "ICUType", "Weight")   # columns of MortalityTable.static


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


# ---------------------------------------------------------------------------------------------- low level

def _lines(raw: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, commas) of each line of `raw`, vectorised: `end` excludes the newline and a trailing CR."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    if not len(buf):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    nl = np.flatnonzero(buf == 10)
    end = nl if buf[-1] == 10 else np.append(nl, len(buf))
    start = np.concatenate(([0], nl + 1))[:len(end)]
    end = end - ((end > start) & (buf[np.maximum(end - 1, 0)] == 13))
    commas = np.flatnonzero(buf == 44)
    return start, end, np.searchsorted(commas, end) - np.searchsorted(commas, start)


def _table(raw: bytes, columns: tuple[str, ...], skip: np.ndarray, name: str,
           where: Callable[[int], str]) -> tuple[pd.DataFrame, np.ndarray]:
    """(string columns, 0-based line index of each row) of the CSV bytes `raw`, leaving out blank lines and the
    lines at the indices `skip` (headers, checked by the caller). Every other line must have len(columns)
    fields; `name` is the file and `where(line index)` a line, in messages."""
    start, end, commas = _lines(raw)
    skipped = np.zeros(len(start), dtype=bool)
    skipped[skip] = True
    rows = (end > start) & ~skipped
    bad = np.flatnonzero(rows & (commas != len(columns) - 1))
    if len(bad):
        i = int(bad[0])
        text = raw[start[i]:end[i]].decode("utf-8", "replace")
        raise DataError(f"{where(i)}: {commas[i] + 1} fields in {clip(text, 60)!r}, expected {len(columns)} "
                        f"({','.join(columns)})")
    try:
        # All text, no NA guessing and no quoting: every cell is checked below as what the format says it is.
        # skiprows counts physical lines, blank ones included, as the scan above does.
        df = pd.read_csv(io.BytesIO(raw), header=None, names=list(columns), dtype=str, na_filter=False,
                         quoting=csv.QUOTE_NONE, skip_blank_lines=True, skiprows=set(skip.tolist()), engine="c")
    except UnicodeDecodeError as e:
        raise DataError(f"{name}: not a UTF-8 text file ({_one_line(e)})") from None
    except (pd.errors.ParserError, ValueError) as e:
        raise DataError(f"{name}: not a readable CSV ({_one_line(e)})") from None
    line = np.flatnonzero(rows)
    if len(df) != len(line):     # pandas also ends lines at a lone CR, which the scan above does not
        raise DataError(f"{name}: {len(df):,} rows but {len(line):,} lines; a stray carriage return (\\r) inside "
                        f"a line?")
    return df, line


def _codes(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(code per row, distinct texts): the columns repeat few values, so each is parsed once."""
    codes, uniques = pd.factorize(column, sort=False)
    return codes.astype(np.int64), [str(u) for u in uniques]


_TIME_RE = re.compile(r"^(\d{1,2}):([0-5]\d)$")


def _minutes(column: pd.Series, where_row: Callable[[int], str]) -> np.ndarray:
    """Minutes since admission of each ``HH:MM`` (00:00 .. 48:00)."""
    codes, texts = _codes(column)
    out = np.empty(len(texts), dtype=np.int64)
    for k, text in enumerate(texts):
        m = _TIME_RE.match(text)
        minute = int(m.group(1)) * 60 + int(m.group(2)) if m else -1
        if not 0 <= minute <= _MINUTES:
            row = int(np.argmax(codes == k))
            why = "after 48:00 (records hold the first 48 h)" if m else "not HH:MM"
            raise DataError(f"{where_row(row)}: Time {clip(text)!r} is {why}")
        out[k] = minute
    return out[codes]


def _values(column: pd.Series, params: np.ndarray, param_names: list[str],
            where_row: Callable[[int], str]) -> np.ndarray:
    codes, texts = _codes(column)
    parsed = pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce").to_numpy(dtype=np.float64)

    def first_row(k: int) -> int:
        # texts are in order of first appearance, so the first bad text's first row is the first bad row
        return int(np.argmax(codes == k))

    bad = np.flatnonzero(np.isnan(parsed))
    if len(bad):
        row = first_row(bad[0])
        raise DataError(f"{where_row(row)}: Value {clip(texts[bad[0]])!r} of {param_names[params[row]]} is not a "
                        f"number")
    # Measurements are sparse by leaving rows out, never by an empty Value; "inf" or 1e300 would be inf in the
    # float32 inputs (or poison a training statistic).
    check_finite(parsed, lambda k: where_row(first_row(k)),
                 lambda k, _: (f"Value of {param_names[params[first_row(k)]]}", texts[k]))
    return parsed[codes]


@dataclass
class Rows:
    """Measurement rows before cleaning: one entry per non-blank data line."""

    record: np.ndarray          # int64 RecordID
    minute: np.ndarray          # int64 minutes since admission
    param: np.ndarray           # int64 index into _PARAMS; -1 for an unknown name
    value: np.ndarray           # float64
    unknown: dict[str, int]     # unknown parameter → rows
    where_row: Callable[[int], str]


def _rows(record: np.ndarray, df: pd.DataFrame, where_row: Callable[[int], str]) -> Rows:
    pcodes, pnames = _codes(df["Parameter"])
    empty = [k for k, p in enumerate(pnames) if not p.strip()]
    if empty:
        raise DataError(f"{where_row(int(np.argmax(pcodes == empty[0])))}: Parameter is empty")
    known = np.array([_CODE.get(p, -1) for p in pnames], dtype=np.int64)
    counts = np.bincount(pcodes, minlength=len(pnames))
    unknown = {p: int(counts[k]) for k, p in enumerate(pnames) if known[k] < 0}
    minute = _minutes(df["Time"], where_row)
    value = _values(df["Value"], pcodes, pnames, where_row)
    return Rows(record, minute, known[pcodes], value, unknown, where_row)


# ------------------------------------------------------------------------------------------------ reading

def _check_header(first: bytes, expected: tuple[str, ...], where: str) -> None:
    text = first.decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r")
    if text != ",".join(expected):
        raise DataError(f"{where}: line 1: header {clip(text, 60)!r}, expected {','.join(expected)}")


def _parse_long(raw: bytes, where: str) -> Rows:
    """Rows of the long CSV bytes ``RecordID,Time,Parameter,Value`` (the first line is the header; the bytes are
    text, checked by read_long)."""
    _check_header(raw.split(b"\n", 1)[0], LONG_HEADER, where)
    df, line = _table(raw, LONG_HEADER, np.zeros(1, dtype=np.int64), where, lambda i: f"{where}: line {i + 1}")

    def where_row(row: int) -> str:
        return f"{where}: line {line[row] + 1}"

    return _rows(whole_numbers(df["RecordID"], where_row, "RecordID"), df, where_row)


def read_long(path: str | Path) -> Rows:
    """Rows of one long CSV (``.csv`` or ``.csv.gz``)."""
    p = Path(path)
    return _parse_long(_read_file(p), str(p))


def _record_files(folder: Path) -> list[tuple[int, Path]]:
    """(RecordID, file) of each ``<digits>.txt`` in `folder`, by RecordID."""
    found = sorted((int(f.stem), f) for f in folder.iterdir()
                   if f.suffix.lower() == ".txt" and whole_number_problem(f.stem) is None and f.is_file())
    return found


def read_records(folder: str | Path) -> Rows:
    """Rows of the original layout: a folder of ``<RecordID>.txt`` files with ``Time,Parameter,Value`` rows.

    The files are joined into one buffer and parsed in one pass (4,000 files take about a second); a record's id
    is its file name, and its ``RecordID`` descriptor must agree.
    """
    folder = Path(folder)
    files = _record_files(folder)
    if not files:
        raise DataError(f"{folder}: holds no record files <RecordID>.txt")
    chunks, first_line = [], np.zeros(len(files) + 1, dtype=np.int64)
    for k, (_, f) in enumerate(files):
        raw = _read_file(f)
        _check_header(raw.split(b"\n", 1)[0], RECORD_HEADER, str(f))
        if not raw.endswith(b"\n"):
            raw += b"\n"
        chunks.append(raw)
        first_line[k + 1] = first_line[k] + raw.count(b"\n")
    raw = b"".join(chunks)

    def where_line(i: int) -> str:
        k = int(np.searchsorted(first_line, i, side="right")) - 1
        return f"{files[k][1]}: line {i - first_line[k] + 1}"

    df, line = _table(raw, RECORD_HEADER, first_line[:-1], str(folder), where_line)   # skip each file's header
    file_of_row = np.searchsorted(first_line, line, side="right") - 1
    ids = np.array([r for r, _ in files], dtype=np.int64)
    return _rows(ids[file_of_row], df, lambda row: where_line(int(line[row])))


def records_to_long(folder: str | Path) -> bytes:
    """The long CSV bytes of a folder of record files: the header ``RecordID,Time,Parameter,Value``, then every
    file's lines in order (its header dropped, ``<RecordID>,`` prepended, blank lines and CRs removed), files by
    ascending RecordID. For set-a this is byte for byte ``set-a.csv.gz``'s content."""
    folder = Path(folder)
    out = [",".join(LONG_HEADER).encode()]
    for rid, f in _record_files(folder):
        raw = _read_file(f)
        _check_header(raw.split(b"\n", 1)[0], RECORD_HEADER, str(f))
        prefix = str(rid).encode() + b","
        out += [prefix + ln.rstrip(b"\r") for ln in raw.split(b"\n")[1:] if ln.strip()]
    return b"\n".join(out) + b"\n"


def read_outcomes(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(RecordIDs, In-hospital_death 0/1) of an Outcomes file, in file order; DataError names file and line."""
    p = Path(path)
    lines = _read_file(p).decode("utf-8-sig").splitlines()          # text: checked by _read_file
    header = [c.strip() for c in lines[0].split(",")]
    if "RecordID" not in header or "In-hospital_death" not in header:
        raise DataError(f"{p}: line 1: header {clip(lines[0], 60)!r} lacks RecordID and In-hospital_death (expected "
                        f"RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death)")
    i_id, i_death = header.index("RecordID"), header.index("In-hospital_death")
    ids, deaths, seen = [], [], {}
    for n, ln in enumerate(lines[1:], start=2):
        if not ln.strip():
            continue
        cells = [c.strip() for c in ln.split(",")]
        if len(cells) != len(header):
            raise DataError(f"{p}: line {n}: {len(cells)} fields, expected {len(header)} "
                            f"({clip(','.join(header))})")
        problem = whole_number_problem(cells[i_id])
        if problem is not None:
            raise DataError(f"{p}: line {n}: RecordID {clip(cells[i_id])!r} is {problem}")
        if cells[i_death] not in ("0", "1"):
            raise DataError(f"{p}: line {n}: In-hospital_death {clip(cells[i_death])!r} is not 0 or 1")
        rid = int(cells[i_id])
        if rid in seen:
            raise DataError(f"{p}: line {n}: RecordID {rid} repeats line {seen[rid]}")
        seen[rid] = n
        ids.append(rid)
        deaths.append(int(cells[i_death]))
    if not ids:
        raise DataError(f"{p}: no outcome rows under the header")
    return np.array(ids, dtype=np.int64), np.array(deaths, dtype=np.int64)


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


# ------------------------------------------------------------------------------------------------ locating

def _is_long_csv(f: Path) -> bool:
    """Whether `f` is a ``.csv``/``.csv.gz`` whose first line is the long header (read lazily: a few bytes)."""
    if not (f.is_file() and f.name.lower().endswith((".csv", ".csv.gz"))):
        return False
    try:
        with open(f, "rb") as fh:
            packed = fh.read(2) == b"\x1f\x8b"          # gzip by its magic bytes, whatever the name says
        with (gzip.open(f, "rb") if packed else open(f, "rb")) as fh:
            first = fh.readline(200)
    except (OSError, EOFError, zlib.error):
        return False
    return first.decode("utf-8", "replace").lstrip("\ufeff").strip() == ",".join(LONG_HEADER)


def _outcome_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir()
                  if f.is_file() and f.name.lower().startswith("outcomes") and f.name.lower().endswith(".txt"))


def _pick_outcomes(places: list[Path], data: Path) -> Path:
    """The Outcomes file for `data` (``set-b`` → ``Outcomes-b.txt``), looked for in `places` in order."""
    m = re.match(r"^set-([a-z])", data.name.lower())
    for folder in places:
        found = _outcome_files(folder)
        if m:
            same = [f for f in found if f.name.lower() == f"outcomes-{m.group(1)}.txt"]
            if same:
                return same[0]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise DataError(f"{folder}: holds {', '.join(f.name for f in found)}; name the one for {data.name} "
                            f"with data.outcomes=FILE")
    raise DataError(f"{data}: no Outcomes*.txt beside it (looked in {', '.join(str(p) for p in places)}); "
                    f"give it with data.outcomes=FILE")


def locate(path: str | Path, layout: str = "auto", outcomes: str | Path | None = None) -> tuple[str, Path, Path]:
    """(layout, data, outcomes file) for what `path` names.

    `path` may be a long CSV, a folder holding one (its Outcomes file beside it), a folder of record files (its
    Outcomes file inside or in the parent folder), or a folder holding exactly one ``set-*`` folder of records.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    p = Path(path).expanduser().absolute()
    if not p.exists():
        raise DataError(f"{p}: no such file or folder (expected a challenge set: a folder of <RecordID>.txt files, "
                        f"or a RecordID,Time,Parameter,Value CSV, with its Outcomes file)")
    out = Path(outcomes).expanduser().absolute() if outcomes is not None else None
    if out is not None and not out.is_file():
        raise DataError(f"{out}: no such Outcomes file")
    if p.is_file():
        if layout == "records":
            raise DataError(f"{p}: is a file; layout 'records' needs the folder of <RecordID>.txt files")
        if not _is_long_csv(p):
            _read_file(p)                # says what the file is when it is not text (empty, UTF-16, binary)
            raise DataError(f"{p}: not a long CSV (first line {','.join(LONG_HEADER)}, .csv or .csv.gz)")
        return "long", p, out or _pick_outcomes([p.parent], p)
    if layout in ("auto", "long"):
        longs = sorted(f for f in p.iterdir() if _is_long_csv(f))
        if len(longs) > 1:
            raise DataError(f"{p}: holds {len(longs)} long CSVs ({', '.join(f.name for f in longs)}); name the file")
        if longs:
            return "long", longs[0], out or _pick_outcomes([p], longs[0])
        if layout == "long":
            raise DataError(f"{p}: holds no CSV with the header {','.join(LONG_HEADER)}")
    if not _record_files(p):
        sets = sorted(d for d in p.iterdir() if d.is_dir() and d.name.lower().startswith("set-")
                      and _record_files(d))
        if len(sets) == 1:
            return "records", sets[0], out or _pick_outcomes([sets[0], p], sets[0])
        if sets:
            raise DataError(f"{p}: holds {', '.join(d.name for d in sets)}; name one of them")
        raise DataError(f"{p}: holds neither <RecordID>.txt record files nor a RecordID,Time,Parameter,Value CSV")
    return "records", p, out or _pick_outcomes([p, p.parent], p)


def _stamp(files: list[Path]) -> tuple:
    """Name, size and mtime (ns) of each file: a changed or re-installed copy invalidates the cache."""
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)


@functools.lru_cache(maxsize=4)   # studies build many runs in one process; set-a: a few seconds, ~45 MB cached
def _load(layout: str, data: str, outcomes: str, stamp: tuple) -> MortalityTable:
    rows = read_long(data) if layout == "long" else read_records(data)
    return _tabulate(rows, read_outcomes(outcomes), data, outcomes)


def _load_located(layout: str, data: Path, outcomes: Path) -> MortalityTable:
    files = [data] if layout == "long" else [f for _, f in _record_files(data)]
    return _load(layout, str(data), str(outcomes), _stamp([*files, outcomes]))


def read_mortality(path: str | Path, layout: str = "auto", outcomes: str | Path | None = None) -> MortalityTable:
    """Read, check, clean and bin a challenge set (see :func:`locate` for what `path` may name); cached."""
    return _load_located(*locate(path, layout, outcomes))


# ------------------------------------------------------------------------------------------------ scaling

def _moments(x: np.ndarray) -> dict[str, float]:
    """mean, std (ddof 0) and median of the finite values of `x`; std 1 when it would be 0 or undefined, so a
    constant channel (MechVent is always 1) is centred but not divided by zero."""
    x = x[np.isfinite(x)].astype(np.float64)
    if not len(x):
        return {"mean": 0.0, "std": 1.0, "median": 0.0, "n": 0}
    std = float(x.std())
    return {"mean": float(x.mean()), "std": std if std > 0 else 1.0, "median": float(np.median(x)), "n": len(x)}


def fit_stats(table: MortalityTable, index: np.ndarray, fit_on: str) -> dict[str, Any]:
    """Normalisation statistics of the stays at `index` (the training stays): per variable, mean / std / median
    of its observed bin values; for Age, Height and admission Weight, of the known values. JSON-ready."""
    obs, last = table.observed[index], table.last[index]
    per_var = [_moments(last[:, :, v][obs[:, :, v]]) for v in range(_V)]
    static = {name.lower(): _moments(table.static[index, _STATIC.index(name)]) for name in ("Age", "Height", "Weight")}
    return {"fit_on": fit_on, "stays": len(index), "variables": list(VARIABLES),
            "mean": [s["mean"] for s in per_var], "std": [s["std"] for s in per_var],
            "median": [s["median"] for s in per_var], "observations": [s["n"] for s in per_var],
            "static": static, "hours_since_cap": SINCE_CAP_HOURS,
            "how": "value channels: (bin mean − mean) / std, before the first observation (median − mean) / std; "
                   "mean, std (ddof 0, 1 when 0) and median of the observed hourly bins of the training stays"}


def load_stats(path: str | Path) -> dict[str, Any]:
    """Normalisation statistics from a run directory (its summary.json), a summary.json, or a JSON file holding
    the ``normalization`` dict of a mortality dataset's ``info.extra``."""
    p = Path(path).expanduser().absolute()
    f = p / "summary.json" if p.is_dir() else p
    try:
        raw = f.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{f}: no such file (data.stats names a run directory, its summary.json, or a statistics "
                        f"JSON)") from None
    except OSError as e:
        raise DataError(f"{f}: cannot be read ({e.strerror or e})") from None
    try:
        doc = json.loads(check_text(raw, str(f)).decode("utf-8-sig"))   # empty, UTF-16, binary: said as such
    except ValueError as e:
        raise DataError(f"{f}: not a readable JSON file ({_one_line(e)})") from None
    for key in (("data", "info", "normalization"), ("normalization",), ()):
        found: Any = doc
        for k in key:
            found = found.get(k) if isinstance(found, dict) else None
        if isinstance(found, dict) and "variables" in found:
            break
    else:
        raise DataError(f"{f}: holds no mortality normalisation statistics (data.info.normalization of a run's "
                        f"summary.json)")
    if list(found.get("variables", [])) != list(VARIABLES) or any(
            len(found.get(k, [])) != _V for k in ("mean", "std", "median")):
        raise DataError(f"{f}: its normalisation statistics are for other variables than the challenge's 37")
    if not all(k in found.get("static", {}) for k in ("age", "height", "weight")):
        raise DataError(f"{f}: its normalisation statistics lack static age/height/weight")
    return found


def _inputs(table: MortalityTable, index: np.ndarray, stats: dict[str, Any]) -> torch.Tensor:
    """float32 (n, 48, F) inputs of the stays at `index`, scaled with `stats`; zeros after each stay's end."""
    n = len(index)
    x = np.zeros((n, HOURS, len(FEATURES)), dtype=np.float32)
    present = np.arange(HOURS)[None, :] < table.lengths[index][:, None]
    mean, std = np.asarray(stats["mean"]), np.asarray(stats["std"])
    fill = (np.asarray(stats["median"]) - mean) / std
    z = (table.last[index] - mean) / std
    x[:, :, 1:1 + _V] = np.where(np.isnan(z), fill, z)
    x[:, :, 1 + _V:1 + 2 * _V] = table.observed[index]
    x[:, :, 1 + 2 * _V:1 + 3 * _V] = table.since[index] / np.float32(SINCE_CAP_HOURS)
    x[:, :, 1 + 3 * _V:] = _statics(table.static[index], stats["static"])[:, None, :]
    x *= present[:, :, None]          # padding: every channel 0, step_present included
    x[:, :, 0] = present
    return torch.from_numpy(x)


def _statics(raw: np.ndarray, stats: dict[str, Any]) -> np.ndarray:
    """(n, 11) static channels: z-scored age, height and weight (unknown → the training median, with a flag for
    height and weight), gender and ICU type one-hot (all 0 when unknown)."""
    age, gender, height, icu, weight = raw.T

    def z(col: np.ndarray, s: dict[str, float]) -> np.ndarray:
        return (np.where(np.isnan(col), s["median"], col) - s["mean"]) / s["std"]

    out = [z(age, stats["age"]), gender == 0, gender == 1, z(height, stats["height"]), np.isnan(height),
           z(weight, stats["weight"]), np.isnan(weight), *(icu == t for t in ICU_TYPES)]
    return np.stack(out, axis=1).astype(np.float32)


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
        return Split(_inputs(table, idx.numpy(), scale), labels.index_select(0, idx))

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
