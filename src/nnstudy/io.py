"""Atomic file writes: a reader never sees a half-written file, a killed writer leaves none behind."""
from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import DiskFullError

__all__ = ["atomic_path", "write_text", "write_json", "write_bytes", "read_user_text", "describe_text",
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


_BOMS = ((b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"), (b"\xfe\xff", "UTF-16"),
         (b"\xff\xfe", "UTF-16"))


def describe_text(raw: bytes) -> str:
    """`raw` as UTF-8 text (a UTF-8 byte-order mark dropped); ValueError saying what the bytes are otherwise:
    "empty file", "UTF-16 text (save it as UTF-8)", "binary data, not text", "not UTF-8 text (byte 0xff ...)"."""
    if not raw.strip():
        raise ValueError("empty file" if not raw else "holds only white space")
    for bom, name in _BOMS:
        if raw.startswith(bom):
            raise ValueError(f"{name} text; save it as UTF-8")
    if raw[:2] == b"\x1f\x8b":
        raise ValueError("gzip-compressed data, not text")
    head = raw[:4096]
    if b"\x00" in head:
        # UTF-16 without a byte-order mark puts a NUL beside every ASCII character
        ascii_utf16 = head[1::2].count(0) > len(head) // 4 or head[0::2].count(0) > len(head) // 4
        raise ValueError("UTF-16 text without a byte-order mark; save it as UTF-8" if ascii_utf16
                         else "binary data, not text")
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ValueError(f"not UTF-8 text (byte 0x{raw[e.start]:02x} on line {line}); save it as UTF-8") from None


def read_user_text(path: str | os.PathLike) -> str:
    """The UTF-8 text of a file a user named; ValueError saying what the file is when it is not such text
    (OSError when it cannot be read)."""
    return describe_text(Path(path).read_bytes())
