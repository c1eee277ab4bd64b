"""One owner per run or study directory: an exclusive lock held by the process working in it.

The lock is an OS file lock (``flock`` on Unix, ``msvcrt.locking`` on Windows) on ``DIR/.lock``. The OS drops it
when its process ends, however it ends, so a lock left by a killed process (kill -9, a lost machine) is simply
taken over by the next one; no PID guessing. The file holds the owner's PID, host and start time, which a second
process quotes in its one-line refusal.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

from .errors import BusyError, RunDirError
from .io import disk_full_error, is_disk_full

__all__ = ["DirLock", "LOCK_NAME"]

LOCK_NAME = ".lock"
# Windows locks byte ranges and refuses reads of a locked range: lock a byte far past the owner line instead.
_WINDOWS_LOCK_OFFSET = 1 << 20


class DirLock:
    """``with DirLock(path, "study"):`` — the directory `path` (created if needed) is this process's until the
    block ends; BusyError naming the owner if another process holds it. Re-entrant within one process (an OS
    file lock is per open file, so a second open in the same process would refuse itself)."""

    _held: dict[str, list[int]] = {}   # resolved path -> [fd, depth] of the locks this process holds

    def __init__(self, path: str | os.PathLike, what: str = "directory") -> None:
        self.path, self.what = Path(path), what
        self._key: str | None = None

    def acquire(self) -> "DirLock":
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            key = str(self.path.resolve())
            fd = None if key in DirLock._held else os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:   # out_dir under a file, on a read-only or full file system...
            if is_disk_full(e):
                raise disk_full_error(self.path) from None
            raise RunDirError(f"{self.path}: cannot create the {self.what} directory there "
                              f"({e.strerror or e}: {e.filename})") from None
        if fd is None:
            DirLock._held[key][1] += 1
        else:
            if not _try_lock(fd):
                owner = _read_owner(fd)
                os.close(fd)
                raise BusyError(f"{self.path}: in use by another nnstudy process ({owner}); wait for it to end or "
                                f"stop it (a killed process releases the {self.what} at once)")
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since "
                         f"{time.strftime('%Y-%m-%d %H:%M:%S')}".encode())
            DirLock._held[key] = [fd, 1]
        self._key = key
        return self

    def release(self) -> None:
        if self._key is None:
            return
        held = DirLock._held[self._key]
        held[1] -= 1
        if held[1] == 0:
            del DirLock._held[self._key]
            os.close(held[0])   # closing releases the OS lock; the file stays (unlinking it would race)
        self._key = None

    def __enter__(self) -> "DirLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_owner(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 200).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "owner unknown"


if sys.platform == "win32":   # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
