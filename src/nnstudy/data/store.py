"""Where full datasets live on disk and how they get there: download with checksum, or import a local copy.

    data_root()                     $NNSTUDY_DATA, else <user cache dir>/nnstudy/data
    dataset_dir("cifar10")          <data root>/cifar10
    fetch("cifar10")                download (resumable), sha256, extract, verify the content, install
    add("cifar10", "~/cifar-10-python.tar.gz")   the same from a local archive or folder (offline machines)
    verify("cifar10")               re-check what is installed
    list_datasets()                 what is known and what is present

Each dataset module describes its download with :func:`register_source`. Nothing is ever half-installed: a
download grows in ``<file>.part`` (resumed with an HTTP Range request after an interruption) and is renamed
only once its sha256 matches; archives are extracted and verified in a staging folder beside the destination,
which then replaces the installed copy with a rename.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import DataError, clip
from ..registry import closest
from .files import describe_archive

__all__ = ["Source", "register_source", "get_source", "sources", "data_root", "dataset_dir", "installed_path",
           "fetch", "add", "verify", "list_datasets", "sha256_file"]

ENV_VAR = "NNSTUDY_DATA"
_CHUNK = 1 << 20                 # bytes per read/write while downloading and hashing (1 MiB)
_TIMEOUT_S = 30.0                # seconds a stalled connection may stay silent before we give up
_ATTEMPTS = 3                    # tries per fetch; each later one resumes where the previous one stopped
_BACKOFF_S = (2.0, 8.0)          # seconds to wait before the 2nd and 3rd try
_USER_AGENT = "nnstudy (dataset fetch; python urllib)"


@dataclass(frozen=True)
class Source:
    """A downloadable dataset: where to get it, how to check it, and what it installs.

    Attributes:
        name: dataset name as the CLI spells it (``nnstudy data fetch NAME``).
        url: canonical public download address.
        filename: name of the downloaded file.
        sha256: hex sha256 of that file.
        size: its size in bytes (for the progress bar when the server sends no length), or None.
        folder: folder under the data root that holds the installed copy.
        content: path, relative to `folder`, of what is installed (the extracted folder, or the file itself
            when it is not an archive); present means installed.
        verify: checks an installed copy (called with the folder holding `content`, which may be a staging
            folder); returns lines describing what was checked, raises DataError when it is wrong.
        sample: name of the bundled sample dataset that stands in without the download, if any.
        description: one line for ``nnstudy data list``.
        stage: for ``nnstudy data add``, copies what the user points at (in whatever layout the dataset's own
            code accepts: a folder of any name, a zip) to the given path, which becomes `content`; None: the
            path must be `content`, its parent, the downloaded file or the file itself.
    """

    name: str
    url: str
    filename: str
    sha256: str
    size: int | None
    folder: str
    content: str
    verify: Callable[[Path], list[str]]
    sample: str | None = None
    description: str = ""
    stage: Callable[[Path, Path], object] | None = None

    @property
    def is_archive(self) -> bool:
        return self.filename.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz", ".zip"))


_SOURCES: dict[str, Source] = {}


def register_source(source: Source) -> Source:
    """Make `source` known to fetch/add/verify/list (dataset modules call this at import)."""
    if source.name in _SOURCES:
        raise DataError(f"data source {source.name!r} is registered twice")
    _SOURCES[source.name] = source
    return source


def get_source(name: str) -> Source:
    try:
        return _SOURCES[name]
    except KeyError:
        hint = closest(name, list(_SOURCES))
        tip = f"; did you mean {hint!r}?" if hint else ""
        known = ", ".join(sorted(_SOURCES)) or "none"
        raise DataError(f"no downloadable dataset {name!r}{tip} (known: {known})") from None


def sources() -> list[Source]:
    return [_SOURCES[n] for n in sorted(_SOURCES)]


# ---------------------------------------------------------------------------------------------- locations

def data_root() -> Path:
    """``$NNSTUDY_DATA`` when set, else ``<user cache dir>/nnstudy/data`` (not created here)."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser().absolute()
    import platformdirs  # only needed when no root is configured
    return Path(platformdirs.user_cache_dir("nnstudy")) / "data"


def dataset_dir(name: str) -> Path:
    """The folder of dataset `name` under the data root (it may not exist yet)."""
    return data_root() / get_source(name).folder


def installed_path(name: str) -> Path:
    """The installed content of `name` (e.g. ``<root>/cifar10/cifar-10-batches-py``); DataError when absent."""
    src = get_source(name)
    path = dataset_dir(name) / src.content
    if not path.exists():
        raise DataError(_missing_message(src, path))
    return path


def _missing_message(src: Source, path: Path) -> str:
    sample = f", or use the bundled sample {src.sample!r}" if src.sample else ""
    return (f"{src.name} is not installed (expected {path}): run `nnstudy data fetch {src.name}` "
            f"or `nnstudy data add {src.name} PATH`{sample}")


# ----------------------------------------------------------------------------------------------- checksums

def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _check_sha256(path: Path, expected: str, shown: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        path.unlink(missing_ok=True)
        raise DataError(f"{shown}: sha256 mismatch (expected {expected}, got {actual}); the file was removed")


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{path}: cannot create the data folder ({e.strerror or e}); "
                        f"set {ENV_VAR} to a writable folder") from None


# ------------------------------------------------------------------------------------------------- fetch

def _tidy(folder: Path) -> None:
    """Remove `folder` when a failed fetch/add left it empty (it was created for the copy)."""
    try:
        folder.rmdir()  # only succeeds when empty
    except OSError:
        pass


def fetch(name: str, *, url: str | None = None, sha256: str | None = None, progress: bool = True) -> Path:
    """Download dataset `name`, check its sha256, extract and verify it; return its dataset folder.

    An interrupted download is resumed (HTTP Range) on the next try, within this call and in a later one.
    `url` overrides the canonical address (a mirror) and `sha256` the expected checksum. When the dataset is
    already installed and passes :func:`verify`, nothing is downloaded.
    """
    src = get_source(name)
    if not src.url and not url:
        raise DataError(f"{name}: has no public download address; get the files yourself (see `nnstudy data "
                        f"list`) and run `nnstudy data add {name} PATH`")
    url = url or src.url
    expected = (sha256 or src.sha256).strip().lower()
    if len(expected) != 64 or any(ch not in "0123456789abcdef" for ch in expected):
        raise DataError(f"sha256 {expected!r}: expected 64 hexadecimal digits")
    dest = dataset_dir(name)
    if (dest / src.content).exists():
        try:
            src.verify(dest)
            return dest
        except DataError:
            pass  # a broken copy: download a fresh one, which replaces it
    _mkdir(dest)
    try:
        return _fetch_into(src, dest, url, expected, progress)
    except BaseException:
        _tidy(dest)  # a kept .part (for resuming) or archive keeps the folder
        raise


def _fetch_into(src: Source, dest: Path, url: str, expected: str, progress: bool) -> Path:
    name = src.name
    download = dest / src.filename
    part = download.with_name(download.name + ".part")
    if src.is_archive and download.is_file():
        # Kept by an earlier fetch whose extraction failed after the checksum passed: reuse it if it still matches.
        if sha256_file(download) != expected:
            download.unlink()
    if not (src.is_archive and download.is_file()):
        for attempt in range(_ATTEMPTS):
            try:
                _download(url, part, size_hint=src.size, progress=progress, label=src.filename)
                break
            except _Interrupted as e:
                if attempt + 1 == _ATTEMPTS:
                    raise DataError(f"{e}; run `nnstudy data fetch {name}` again to resume") from None
                time.sleep(_BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)])
        _check_sha256(part, expected, shown=f"{download} (from {url})")
        if not src.is_archive:
            _install(src, lambda staging: os.replace(part, staging / src.content), origin=download)
            return dest
        os.replace(part, download)
    _install(src, lambda staging: _extract(download, staging), origin=download)
    download.unlink()  # the verified, extracted copy is what we keep (the archive would double the disk use)
    return dest


class _Interrupted(Exception):
    """A transfer that stopped part-way; what was received is kept in the .part file."""


def _download(url: str, part: Path, *, size_hint: int | None, progress: bool, label: str) -> None:
    """Append the rest of `url` to `part` (starting over when the server ignores the Range request)."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": _USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:
            # Range not satisfiable: the .part already holds the whole file (the sha256 check decides),
            # or it is longer than the file; in that case start over.
            if size_hint is not None and have == size_hint:
                return
            part.unlink()
            raise _Interrupted(f"{url}: partial download did not fit the file on the server (restarting)") from None
        raise DataError(f"{url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise DataError(f"{url}: cannot connect ({_reason(e.reason)}){_kept(have)}") from None
    except (TimeoutError, ConnectionError, OSError, http.client.HTTPException) as e:
        raise DataError(f"{url}: cannot connect ({_reason(e)}){_kept(have)}") from None
    with resp:
        status = getattr(resp, "status", 200)
        resumed = status == 206
        if have and resumed:
            first = _content_range_start(resp.headers.get("Content-Range", ""))
            if first != have:
                resp.close()
                part.unlink()
                raise _Interrupted(f"{url}: server resumed at byte {first}, not {have} (restarting)")
        elif status != 200:
            raise DataError(f"{url}: unexpected HTTP {status}")
        start = have if resumed else 0
        length = resp.headers.get("Content-Length")
        remaining = int(length) if length and length.isdigit() else None
        total = start + remaining if remaining is not None else size_hint
        received = 0
        with open(part, "ab" if resumed else "wb") as f, _Progress(progress, label, total, start) as advance:
            while True:
                try:
                    chunk = resp.read(_CHUNK)
                except (OSError, ValueError, http.client.HTTPException) as e:  # reset, timeout, short read
                    raise _Interrupted(f"{label}: download interrupted after {start + received:,} of "
                                       f"{_size(total)} bytes ({_reason(e)})") from None
                if not chunk:
                    break
                try:
                    f.write(chunk)
                except OSError as e:  # disk full: retrying would not help
                    raise DataError(f"{part}: cannot write ({e.strerror or e})") from None
                received += len(chunk)
                advance(len(chunk))
        if remaining is not None and received < remaining:
            # http.client returns a short read, not an error, when the server closes the connection early.
            raise _Interrupted(f"{label}: download interrupted after {start + received:,} of {_size(total)} "
                               f"bytes (connection closed by the server)")


def _kept(have: int) -> str:
    return f"; {have:,} bytes already received are kept for the next try" if have else ""


def _content_range_start(value: str) -> int | None:
    # "bytes 100-199/200" -> 100
    try:
        unit, _, rest = value.partition(" ")
        return int(rest.split("-", 1)[0]) if unit == "bytes" else None
    except ValueError:
        return None


def _reason(e: object) -> str:
    text = str(e).strip() or type(e).__name__
    return " ".join(text.split())  # one line


def _size(n: int | None) -> str:
    return f"{n:,}" if n is not None else "?"


class _Progress:
    """A rich progress bar (bytes, speed, ETA) on stderr, or nothing; yields an ``advance(nbytes)`` callable."""

    def __init__(self, enabled: bool, label: str, total: int | None, done: int) -> None:
        self.enabled, self.label, self.total, self.done = enabled, label, total, done
        self.bar = None

    def __enter__(self) -> Callable[[int], None]:
        if not self.enabled:
            return lambda n: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                            TransferSpeedColumn(), TimeRemainingColumn(), console=Console(stderr=True))
        self.bar.__enter__()
        task = self.bar.add_task(self.label, total=self.total, completed=self.done)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


# ------------------------------------------------------------------------------------------- installing

def _extract(archive: Path, into: Path) -> None:
    """Unpack a tar (any compression) or zip archive into `into`, refusing members that would land outside it."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                members = zf.infolist()
                for member in members:
                    target = (into / member.filename).resolve()
                    if not target.is_relative_to(into.resolve()):
                        raise DataError(f"{archive}: member {clip(member.filename)!r} would be written outside "
                                        f"the folder")
                for member in members:   # checked above; zipfile also strips absolute paths and ".."
                    zf.extract(member, into)
            return
        with tarfile.open(archive, "r:*") as tar:
            # filter="data" refuses absolute paths, "..", links out of the tree, devices and odd permissions.
            tar.extractall(into, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError, ValueError) as e:
        # tarfile's own words ("file could not be opened successfully: - method gz: ReadError('invalid header')
        # - method bz2: ...") do not say what the file is; a file that begins like an archive keeps them.
        what = describe_archive(archive)
        why = what or f"not a readable tar or zip archive ({clip(_reason(e), 200)})"   # it may quote a member name
        raise DataError(f"{archive}: {why}") from None


def _install(src: Source, stage: Callable[[Path], object], *, origin: Path) -> Path:
    """Fill a staging folder beside the destination with `stage`, verify it, then swap it in by renames.

    Errors name `origin` (the user's file or folder), not the staging folder, which is removed either way.
    """
    dest = dataset_dir(src.name)
    _mkdir(dest)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=dest))
    old = None
    try:
        try:
            stage(staging)
            if not (staging / src.content).exists():
                raise DataError(f"{origin}: holds no {src.content} (expected the layout of {src.filename})")
            src.verify(staging)
        except DataError as e:
            raise DataError(str(e).replace(str(staging), str(origin))) from None
        except OSError as e:  # disk full, permissions, ...
            raise DataError(f"{origin}: could not be copied into {dest} ({_reason(e)})") from None
        target = dest / src.content
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=".old-", dir=dest))
            os.replace(target, old / src.content)
        os.replace(staging / src.content, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return dest


def add(name: str, path: str | os.PathLike) -> Path:
    """Import a local copy of `name` into the data root, verified first; return the dataset folder.

    `path` is the downloaded file (e.g. ``cifar-10-python.tar.gz``), the extracted folder
    (``cifar-10-batches-py``), or a folder that contains either. Nothing is left in the data root when the
    copy fails its checks.
    """
    src = get_source(name)
    path = Path(path).expanduser().absolute()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder (expected {src.filename} or its extracted {src.content})")
    try:
        return _add_from(src, path)
    except BaseException:
        _tidy(dataset_dir(name))
        raise


def _add_from(src: Source, path: Path) -> Path:
    if src.stage is not None:
        _install(src, lambda staging: src.stage(path, staging / src.content), origin=path)
        return dataset_dir(src.name)
    found = path
    if path.is_dir() and path.name != Path(src.content).name:
        if (path / src.content).exists():
            found = path / src.content
        elif (path / src.filename).is_file():
            found = path / src.filename
        else:
            raise DataError(f"{path}: contains neither {src.content} nor {src.filename}")
    if found.is_dir():
        _install(src, lambda staging: shutil.copytree(found, staging / src.content), origin=found.parent)
    elif src.is_archive:
        _install(src, lambda staging: _extract(found, staging), origin=found)
    else:
        _install(src, lambda staging: shutil.copy2(found, staging / src.content), origin=found.parent)
    return dataset_dir(src.name)


# ------------------------------------------------------------------------------------------ verify, list

def verify(name: str) -> list[str]:
    """Check the installed copy of `name`; lines of what was checked, DataError when missing or corrupt."""
    src = get_source(name)
    dest = dataset_dir(name)
    if not (dest / src.content).exists():
        raise DataError(_missing_message(src, dest / src.content))
    return src.verify(dest)


def list_datasets() -> list[dict]:
    """One entry per downloadable dataset: name, status ("present"/"missing"), path, sample, description."""
    out = []
    for src in sources():
        path = dataset_dir(src.name) / src.content
        out.append({"name": src.name, "status": "present" if path.exists() else "missing", "path": str(path),
                    "sample": src.sample, "description": src.description})
    return out
