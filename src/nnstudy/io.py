"""Atomic file writes: a reader never sees a half-written file, a killed writer leaves none behind."""
from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import DiskFullError

__all__ = ["atomic_path", "write_text", "write_json", "write_bytes", "read_user_text", "describe_bytes", "GZIP_MAGIC",
           "is_disk_full", "disk_full_error", "TMP_GLOB"]

TMP_GLOB = ".*.tmp"   # what atomic_path's temporary files look like (a killed writer can leave one behind)
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def is_disk_full(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in _DISK_FULL


def disk_full_error(where: str | os.PathLike) -> DiskFullError:
    return DiskFullError(f"no space left on device at {where}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    A full disk becomes a DiskFullError naming the folder (the old file, if any, is left as it was)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as e:
        if is_disk_full(e):
            raise disk_full_error(path.parent) from None
        raise
    try:
        yield Path(tmp)
        # mkstemp (and some writers, e.g. safetensors) make 0600; give the file the permissions open() would
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        if is_disk_full(e):
            raise disk_full_error(path.parent) from None
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` atomically. Serialisers (torch.save, safetensors) write to memory first and then here, so
    that a full disk is an OSError with its errno, not a library's 'file write failed'."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _umask() -> int:
    mask = os.umask(0)   # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


# --------------------------------------------------------------------------------------- a user's text files

GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
_HEAD = 4096                     # bytes looked at to tell text from UTF-16/32 or binary data
# Byte-order marks, UTF-32's first: its little-endian mark begins with UTF-16's.
_BOMS = ((b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"), (b"\xfe\xff", "UTF-16"),
         (b"\xff\xfe", "UTF-16"))
# Formats a user may hand over instead of a CSV, by their first bytes (checked only once the bytes are not text).
_MAGIC = ((b"PK\x03\x04", "a zip archive"), (GZIP_MAGIC, "gzip-compressed data"), (b"BZh", "bzip2-compressed data"),
          (b"\xfd7zXZ\x00", "xz-compressed data"), (b"\xd0\xcf\x11\xe0", "an old Microsoft Office file (.xls?)"),
          (b"PAR1", "a Parquet file"))
# C0 control bytes that text does not hold (tab, LF, VT, FF, CR and DOS's end-of-file Ctrl-Z are allowed).
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13, 26)) + b"\x7f"



def _wide_text(head: bytes) -> str | None:
    """"UTF-16"/"UTF-32" for text in those encodings without a byte-order mark, else None.

    ASCII text in UTF-16 puts a NUL beside every character, in UTF-32 three: some byte positions within a code
    unit are (nearly) always NUL and the others (nearly) never, which binary data does not do.
    """
    for unit, name in ((4, "UTF-32"), (2, "UTF-16")):
        n = len(head) // unit * unit
        if n < 2 * unit:
            continue
        nul = (np.frombuffer(head[:n], dtype=np.uint8).reshape(-1, unit) == 0).mean(axis=0)
        if (nul > 0.5).sum() == unit - 1 and (nul < 0.05).sum() == 1:
            return name
    return None


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def _blank(raw: bytes) -> bool:
    """Nothing but white space (and a UTF-8 byte-order mark); a file whose head is not blank is not copied."""
    return not raw[:_HEAD].removeprefix(_UTF8_BOM).strip() and not raw.removeprefix(_UTF8_BOM).strip()


def describe_bytes(raw: bytes, *, packed: bool = False) -> str | None:
    """What `raw` is, in words for a message, when it is not UTF-8 text (a byte-order mark allowed); None when
    it is. `packed`: `raw` came out of a gzip file (an empty result is then said to be gzip-compressed).

    "empty file", "UTF-16 text (save it as UTF-8)", "binary data, not text", "a zip archive, not text",
    "not a UTF-8 text file (line 3 holds byte 0xe9; save it as UTF-8)", ...
    """
    if _blank(raw):
        empty = "gzip-compressed empty file" if packed else "empty file"
        return empty if not raw else f"{empty} (only blank lines)"
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return f"{name} text (save it as UTF-8)"
    head = raw[:_HEAD]
    nul = raw.find(b"\x00")
    if nul < 0:
        try:
            raw.decode("utf-8")        # ~1 ms per MB; the parsers decode the whole file anyway
            return None
        except UnicodeDecodeError as e:
            if len(head) - len(head.translate(None, _CONTROL)) <= 0.01 * len(head):
                # text in another encoding (Latin-1, Windows-1252): say where, so it can be found and fixed
                return (f"not a UTF-8 text file (line {_line_of(raw, e.start)} holds byte 0x{raw[e.start]:02x}; "
                        f"save it as UTF-8)")
    elif nul >= _HEAD:
        return f"line {_line_of(raw, nul)} holds a NUL byte (0x00), which text never does"
    else:
        wide = _wide_text(head)
        if wide:
            return f"{wide} text (save it as UTF-8)"
    what = next((name for magic, name in _MAGIC if raw.startswith(magic)), "binary data")
    return f"{what}, not text"


def read_user_text(path: str | os.PathLike) -> str:
    """The UTF-8 text of a file a user named (a byte-order mark dropped); ValueError saying what the file is
    when it is not such text (see describe_bytes); OSError when it cannot be read."""
    raw = Path(path).read_bytes()
    problem = describe_bytes(raw)
    if problem is not None:
        raise ValueError(problem)
    return raw.decode("utf-8").removeprefix("\ufeff")
