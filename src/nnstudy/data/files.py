"""Reading a user's data files: bytes, gunzipped by their magic bytes, with one-line errors naming the file."""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from ..errors import DataError

__all__ = ["one_line", "gunzip", "read_file"]


def one_line(e: object) -> str:
    """An exception's message on one line (≤ 200 characters), for a DataError."""
    return " ".join(str(e).split())[:200] or type(e).__name__


def gunzip(raw: bytes, where: str) -> bytes:
    """`raw` decompressed when it is gzip (recognised by its magic bytes, whatever the file is called)."""
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{where}: not a readable gzip file (truncated or corrupt: {one_line(e)})") from None


def read_file(path: Path) -> bytes:
    """The bytes of `path`, gunzipped when they are gzip; DataError when it is missing or unreadable."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from None
    return gunzip(raw, str(path))
