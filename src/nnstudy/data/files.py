"""Reading a user's data files: bytes, gunzipped by their magic bytes, with one-line errors naming the file.

Also the checks every text reader shares: that the bytes are UTF-8 text at all (:func:`describe_bytes`, which
names what they are instead: an empty file, UTF-16, binary data), that parsed numbers are finite and fit
float32 (:func:`check_finite`), that ids are whole numbers that fit int64 (:func:`whole_numbers`), and what an
archive that tarfile cannot open is (:func:`describe_archive`).
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, clip
from ..io import GZIP_MAGIC, describe_bytes

__all__ = ["one_line", "gunzip", "read_file", "describe_bytes", "check_text", "read_text_bytes", "read_frame",
           "FLOAT32_MAX",
           "check_finite", "whole_number_problem", "whole_numbers", "describe_archive"]

# Inputs become float32 tensors: a larger finite value becomes inf there, and the run fails later, far from the
# file. NumPy's float32 maximum, 3.4028235e38.
FLOAT32_MAX = float(np.finfo(np.float32).max)
_MAX_DIGITS = 18                 # every 18-digit number fits int64 (2**63 ≈ 9.2e18); 19 digits may not


def one_line(e: object) -> str:
    """An exception's message on one line (≤ 200 characters), for a DataError."""
    return " ".join(str(e).split())[:200] or type(e).__name__


def gunzip(raw: bytes, where: str) -> bytes:
    """`raw` decompressed when it is gzip (recognised by its magic bytes, whatever the file is called)."""
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{where}: not a readable gzip file (truncated or corrupt: {one_line(e)})") from None


def _read_raw(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from None


def read_file(path: Path) -> bytes:
    """The bytes of `path`, gunzipped when they are gzip; DataError when it is missing or unreadable."""
    return gunzip(_read_raw(path), str(path))


# ------------------------------------------------------------------------------------------------- text

def check_text(raw: bytes, where: str, *, packed: bool = False) -> bytes:
    """`raw` unchanged when it is UTF-8 text; DataError saying what it is otherwise (see describe_bytes)."""
    problem = describe_bytes(raw, packed=packed)
    if problem is not None:
        raise DataError(f"{where}: {problem}")
    return raw


def read_text_bytes(path: Path) -> bytes:
    """The bytes of the text file `path` (gunzipped when gzip, a byte-order mark kept); DataError when it is
    missing, unreadable, or not UTF-8 text (saying what it is instead)."""
    raw = _read_raw(path)
    packed = raw[:2] == GZIP_MAGIC
    return check_text(gunzip(raw, str(path)), str(path), packed=packed)


# ----------------------------------------------------------------------------------------------- values

PARQUET_MAGIC = b"PAR1"   # the first 4 bytes of every Parquet file


def read_frame(path: Path, dataset: str, **csv_options: object) -> tuple[pd.DataFrame, bool]:
    """(rows, whether the file is Parquet) of a user's table: Parquet, or CSV (UTF-8, gzipped or not) read with
    `csv_options`. One-line DataError naming the file when it is missing or neither (`dataset`: whose data.path)."""
    if not path.is_file():
        raise DataError(f"{clip(str(path))}: no such file (data.path of the {dataset} dataset)")
    with path.open("rb") as f:
        parquet = f.read(4) == PARQUET_MAGIC
    try:
        if parquet:
            return pd.read_parquet(path), True
        return pd.read_csv(io.BytesIO(read_text_bytes(path)), skipinitialspace=True, **csv_options), False
    except DataError:
        raise
    except (ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"{path}: not a readable {'Parquet' if parquet else 'CSV'} file ({one_line(e)})") from None


def check_finite(values: np.ndarray, where_row: Callable[[int], str], cell: Callable[[int, int], tuple[str, str]],
                 *, missing_ok: bool = False) -> None:
    """DataError for the first value of `values` (rows, or rows × columns; row order, then column) that is
    ±inf or beyond float32's range, or NaN unless `missing_ok`.

    The check is vectorised; only the message looks at the file again: `where_row(row)` says where the row is
    ("file: line 7"), `cell(row, column)` gives the field's name and its text as written.
    """
    if not values.size:
        return
    table = values.reshape(len(values), -1)
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(table) <= FLOAT32_MAX)       # NaN compares False, so it is bad here ...
    if missing_ok:
        bad &= ~np.isnan(table)                     # ... unless the format has missing values
    if not bad.any():
        return
    row, column = divmod(int(np.argmax(bad)), table.shape[1])
    name, text = cell(row, column)
    why = "not a number" if np.isnan(table[row, column]) else \
        f"not a number within the float32 range (±{FLOAT32_MAX:.4g})"
    raise DataError(f"{where_row(row)}: {name} is {clip(text)!r}, {why}")


def whole_number_problem(text: str) -> str | None:
    """Why `text` is not an id (ASCII digits that fit int64), in words for a message; None when it is one."""
    if not (text.isascii() and text.isdigit()):    # str.isdigit alone takes '²' and '١٢', which int() refuses
        return "not a whole number"
    if len(text) > _MAX_DIGITS:
        return f"too large (more than {_MAX_DIGITS} digits)"
    return None


def whole_numbers(cells: Sequence[str], where_row: Callable[[int], str], name: str) -> np.ndarray:
    """int64 of each cell (ASCII digits, white space around them allowed); DataError naming the first that is
    not a whole number or has more digits than int64 holds.

    Ids repeat (one per measurement or diagnosis), so each distinct text is checked once.
    """
    codes, texts = pd.factorize(pd.Series(cells, dtype=object), sort=False)
    out = np.empty(len(texts), dtype=np.int64)
    for k, text in enumerate(texts):
        problem = whole_number_problem(str(text).strip())
        if problem is not None:
            raise DataError(f"{where_row(int(np.argmax(codes == k)))}: {name} {clip(str(text))!r} is {problem}")
        out[k] = int(text)
    return out[codes]


# ---------------------------------------------------------------------------------------------- archives

def _is_tar_header(block: bytes) -> bool:
    try:
        tarfile.TarInfo.frombuf(block[:tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
        return True
    except tarfile.HeaderError:
        return False


# Compressions tarfile reads ("r:*"), by magic bytes: what is inside must begin with a tar header.
_PACKED = ((GZIP_MAGIC, gzip.open, "gzip"), (b"BZh", bz2.open, "bzip2"), (b"\xfd7zXZ\x00", lzma.open, "xz"))


def describe_archive(path: Path) -> str | None:
    """What the file `path` is when tarfile and zipfile cannot open it, in words for a message ("gzip-compressed
    data that is not a tar archive", "empty file, not a tar or zip archive", ...); None when it begins like a
    tar or zip archive (then it is damaged further on, and the library's error says more)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)   # enough to tell a tar header (512 bytes) or text
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if not head:
        return "empty file, not a tar or zip archive"
    for magic, opener, name in _PACKED:
        if head.startswith(magic):
            try:
                with opener(path, "rb") as f:
                    inner = f.read(tarfile.BLOCKSIZE)
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError):
                return f"truncated or corrupt {name} data"
            if not inner:
                return f"{name}-compressed empty file, not a tar archive"
            return None if _is_tar_header(inner) else f"{name}-compressed data that is not a tar archive"
    if head.startswith(b"PK\x03\x04"):
        return None if zipfile.is_zipfile(path) else "truncated or corrupt zip data"
    if _is_tar_header(head):
        return None
    problem = describe_bytes(head) or ""
    text = not problem or problem.startswith("not a UTF-8")
    return "text, not a tar or zip archive" if text else "binary data that is not a tar or zip archive"
