"""Reading the UCI Epileptic Seizure Recognition CSV (``<id>,X1,...,X178,y``; see seizure.py for the data): a
``.csv``/``.csv.gz`` file, a zip holding one, or a folder holding one, parsed and checked into a SeizureTable with
one-line errors naming file, line and column. seizure.py verifies, splits and builds datasets from it.
"""
from __future__ import annotations

import io
import math
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, clip
from .files import GZIP_MAGIC, check_finite, check_text
from .files import gunzip as _gunzip
from .files import one_line as _one_line

__all__ = ["CLASSES", "SAMPLES", "COLUMNS", "SeizureTable", "is_csv", "read_bytes", "parse", "read_seizure"]

CLASSES = ("seizure", "tumor area", "healthy area", "eyes closed", "eyes open")   # y = 1..5 → class 0..4
SAMPLES = 178                                      # EEG samples per row (one chunk of a segment)
COLUMNS = tuple(f"X{i}" for i in range(1, SAMPLES + 1))
_ID_RE = re.compile(r"^X(?P<chunk>\d+)\.(?P<segment>.+)$")


@dataclass(frozen=True)
class SeizureTable:
    """A parsed file (treat the arrays as read-only: they are cached and shared).

    ``segment``/``segment_ids`` are None when the file has no id column; otherwise ``segment_ids[segment[i]]``
    is row i's source segment (``V1.791``), the names sorted.
    """

    x: np.ndarray                   # float64 (N, 178), X1..X178
    y: np.ndarray                   # int64 (N,), 1..5 as in the file
    ids: np.ndarray | None          # str (N,), e.g. "X21.V1.791"; None without an id column
    segment: np.ndarray | None      # int64 (N,), index into segment_ids
    segment_ids: np.ndarray | None  # str (S,), sorted
    id_header: str | None           # the id column's header cell ("Unnamed", "" in UCI's copy), None if absent
    where: str                      # the file (or zip member) it came from, for messages

    @property
    def labels(self) -> np.ndarray:
        """Class ids 0..4."""
        return self.y - 1


def is_csv(name: str) -> bool:
    return name.lower().endswith((".csv", ".csv.gz"))


def read_bytes(path: str | Path) -> tuple[bytes, str]:
    """(CSV bytes, where) of what `path` names: a ``.csv`` or ``.csv.gz`` file, a zip holding one CSV (the Kaggle
    or UCI download), or a folder holding exactly one ``.csv``/``.csv.gz`` file."""
    p = Path(path).expanduser()
    if p.is_dir():
        found = sorted(f for f in p.iterdir() if f.is_file() and is_csv(f.name))
        if len(found) != 1:
            names = ", ".join(f.name for f in found[:3]) + (", …" if len(found) > 3 else "")
            what = f"{len(found)} CSV files ({names})" if found else "no .csv or .csv.gz file"
            raise DataError(f"{p}: holds {what}; name the file itself")
        p = found[0]
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{p}: no such file (expected the .csv or .csv.gz of Epileptic Seizure Recognition)") from None
    except OSError as e:
        raise DataError(f"{p}: cannot be read ({e.strerror or e})") from None
    if raw[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                members = [n for n in zf.namelist() if is_csv(n) and not n.startswith("__MACOSX/")]
                if len(members) != 1:
                    raise DataError(f"{p}: the zip holds {len(members)} CSV files, expected one")
                where = f"{p}:{members[0]}"
                return _text(zf.read(members[0]), where), where
        except (zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise DataError(f"{p}: not a readable zip ({_one_line(e)})") from None
    return _text(raw, str(p)), str(p)


def _text(raw: bytes, where: str) -> bytes:
    """`raw` gunzipped when gzip; DataError saying what it is when that is not UTF-8 text (an empty file, UTF-16,
    binary data). Checked here, before parse() checks again, because only here is it known to have been gzip."""
    return check_text(_gunzip(raw, where), where, packed=raw[:2] == GZIP_MAGIC)


def _header(first: str, where: str) -> str | None:
    """The id column's header cell ('' when empty), or None when the file has no id column."""
    cells = [c.strip().strip('"') for c in first.split(",")]
    if cells[-len(COLUMNS) - 1:] == [*COLUMNS, "y"] and len(cells) in (len(COLUMNS) + 1, len(COLUMNS) + 2):
        return cells[0] if len(cells) == len(COLUMNS) + 2 else None
    # The start and the end of a long header: where it differs from X1..X178,y is usually at one of them.
    shown = first if len(first) <= 60 else f"{first[:30]}…{first[-25:]}"
    raise DataError(f"{where}: line 1: header {clip(shown)!r}, expected [id,]X1,...,X{SAMPLES},y")


def _column(j: int) -> str:
    """The name of value column j (0: X1 .. 177: X178, 178: y)."""
    return COLUMNS[j] if j < SAMPLES else "y"


def _first_bad_cell(lines: list[str], line_no: np.ndarray, first_x: int, where: str) -> DataError:
    """The DataError for the first cell that is not a number (the slow path: only when pandas refused a cell)."""
    for text, n in zip(lines, line_no):
        for j, cell in enumerate(text.split(",")[first_x:]):
            try:
                ok = not math.isnan(float(cell))
            except ValueError:
                ok = False
            if not ok:
                return DataError(f"{where}: line {n}: {_column(j)} is {clip(cell.strip())!r}, not a number")
    return DataError(f"{where}: not a readable CSV")   # unreachable when the caller found a bad value


def parse(raw: bytes, where: str) -> SeizureTable:
    """Check and parse the CSV bytes; DataError naming `where` and the line on anything malformed.

    Checked: the header (``[id,]X1,...,X178,y``), the number of fields on every line, every X a finite number,
    every y an integer 1..5, and (when there are ids) every id ``X<chunk>.<segment>``, no id twice, and one label
    per segment. Blank lines are skipped.
    """
    all_lines = check_text(raw, where).decode("utf-8-sig").splitlines()     # neither empty nor binary now
    id_header = _header(all_lines[0], where)
    fields = SAMPLES + 1 + (id_header is not None)
    keep = [i for i in range(1, len(all_lines)) if all_lines[i].strip()]
    lines = [all_lines[i] for i in keep]
    line_no = np.asarray(keep, dtype=np.int64) + 1                      # 1-based line of each data row
    if not lines:
        raise DataError(f"{where}: no data rows under the header")
    # Count the fields ourselves: pandas pads a short row with NaN and fails on a long one without the line.
    wrong = next((k for k, ln in enumerate(lines) if ln.count(",") != fields - 1), None)
    if wrong is not None:
        layout = "id,X1..X178,y" if id_header is not None else "X1..X178,y"
        raise DataError(f"{where}: line {line_no[wrong]}: {lines[wrong].count(',') + 1} fields, expected "
                        f"{fields} ({layout}, as the header says)")
    first_x = fields - SAMPLES - 1                                      # 1 with an id column, else 0
    dtypes: dict[int, type] = {j: np.float64 for j in range(first_x, fields)}
    if first_x:
        dtypes[0] = str
    try:
        # na_filter=False: an empty cell or "nan" fails the float conversion instead of becoming NaN.
        df = pd.read_csv(io.StringIO("\n".join(lines)), header=None, dtype=dtypes, na_filter=False)
        values = df.iloc[:, first_x:].to_numpy(dtype=np.float64)
    except (ValueError, pd.errors.ParserError):
        raise _first_bad_cell(lines, line_no, first_x, where) from None
    # "inf", "nan" and 1e300 parse as floats; the inputs are float32, where 1e300 is inf too.
    check_finite(values, lambda k: f"{where}: line {line_no[k]}",
                 lambda k, j: (_column(j), lines[k].split(",")[first_x + j].strip()))
    x, y_float = values[:, :SAMPLES], values[:, SAMPLES]
    y = y_float.astype(np.int64)
    bad = (y != y_float) | (y < 1) | (y > len(CLASSES))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise DataError(f"{where}: line {line_no[k]}: y is {clip(lines[k].rsplit(',', 1)[1].strip())!r}, "
                        f"not a class label 1..{len(CLASSES)}")
    ids = segment = segment_ids = None
    if first_x:
        ids = df.iloc[:, 0].str.strip().to_numpy(dtype=str)
        segment, segment_ids = _segments(ids, y, line_no, where)
    for a in (x, y, ids, segment, segment_ids):
        if a is not None:
            a.flags.writeable = False                                   # shared through the cache
    return SeizureTable(x, y, ids, segment, segment_ids, id_header, where)


def _segments(ids: np.ndarray, y: np.ndarray, line_no: np.ndarray,
              where: str) -> tuple[np.ndarray, np.ndarray]:
    """(segment index per row, sorted segment names) from ids ``X<chunk>.<segment>``; DataError on a malformed
    id, an id seen twice, or a segment whose chunks carry different labels (one recording has one label)."""
    names = []
    for k, rid in enumerate(ids):
        m = _ID_RE.match(rid)
        if m is None:
            raise DataError(f"{where}: line {line_no[k]}: id {clip(str(rid))!r} is not X<chunk>.<segment> "
                            f"(e.g. X21.V1.791)")
        names.append(m.group("segment"))
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        rid = str(uniq[counts > 1][0])
        rows = np.flatnonzero(ids == rid)
        raise DataError(f"{where}: line {line_no[rows[1]]}: id {clip(rid)!r} repeats line {line_no[rows[0]]}")
    segment_ids, segment = np.unique(np.asarray(names, dtype=str), return_inverse=True)
    lo = np.full(len(segment_ids), len(CLASSES) + 1)
    hi = np.zeros(len(segment_ids), dtype=np.int64)
    np.minimum.at(lo, segment, y)
    np.maximum.at(hi, segment, y)
    mixed = np.flatnonzero(lo != hi)
    if len(mixed):
        s = int(mixed[0])
        rows = np.flatnonzero(segment == s)
        other = rows[np.flatnonzero(y[rows] != y[rows[0]])[0]]
        raise DataError(f"{where}: line {line_no[other]}: segment {clip(str(segment_ids[s]))!r} has y={y[other]} "
                        f"here but y={y[rows[0]]} on line {line_no[rows[0]]} (all chunks of a segment share its label)")
    return segment.astype(np.int64), segment_ids


def read_seizure(path: str | Path) -> SeizureTable:
    """Read and check an Epileptic Seizure Recognition CSV (see :func:`read_bytes` for what `path` may name)."""
    raw, where = read_bytes(path)
    return parse(raw, where)
