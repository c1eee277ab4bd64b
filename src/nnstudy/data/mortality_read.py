"""Reading PhysioNet 2012 files: the long CSV (RecordID,Time,Parameter,Value), the original per-record layout
(one ``<RecordID>.txt`` per stay) and the outcomes file, into flat rows; one-line errors naming file and line.
mortality.py cleans, bins and splits what this returns.
"""
from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, clip
from .files import check_finite, whole_number_problem, whole_numbers
from .files import one_line as _one_line
from .files import read_text_bytes as _read_file
from .mortality_schema import _CODE, _MINUTES, LAYOUTS, LONG_HEADER, RECORD_HEADER

__all__ = ["Rows", "read_long", "read_records", "records_to_long", "read_outcomes", "record_files", "locate"]

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


def record_files(folder: Path) -> list[tuple[int, Path]]:
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
    files = record_files(folder)
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
    for rid, f in record_files(folder):
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
    if not record_files(p):
        sets = sorted(d for d in p.iterdir() if d.is_dir() and d.name.lower().startswith("set-")
                      and record_files(d))
        if len(sets) == 1:
            return "records", sets[0], out or _pick_outcomes([sets[0], p], sets[0])
        if sets:
            raise DataError(f"{p}: holds {', '.join(d.name for d in sets)}; name one of them")
        raise DataError(f"{p}: holds neither <RecordID>.txt record files nor a RecordID,Time,Parameter,Value CSV")
    return "records", p, out or _pick_outcomes([p, p.parent], p)
