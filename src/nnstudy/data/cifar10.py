"""CIFAR-10 (Krizhevsky 2009): a safe reader of the canonical python layout, and the datasets built from it.

Registers two datasets:

- ``cifar10``: the full 50,000 train / 10,000 test images from the data root (``nnstudy data fetch cifar10`` or
  ``nnstudy data add cifar10 PATH``), or from ``path=``; checked against the canonical content checksums.
- ``cifar10-sample``: 2,000 train / 500 test real images bundled with the package (no download).

The batches are pickles, and unpickling runs code named in the file; they are read with an unpickler that
resolves only the three numpy globals a pickled array needs, so a crafted file cannot run anything.
"""
from __future__ import annotations

import functools
import hashlib
import io
import pickle
import tarfile
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

import numpy as np
import torch

from ..errors import DataError
from . import register_dataset
from .base import DataInfo, Dataset, Split
from .files import describe_archive
from .splits import stratified_split, stratified_take
from .store import Source, installed_path, register_source
from .transforms import ImageTransform, normalization

__all__ = ["CLASSES", "FOLDER", "ARCHIVE", "EXPECTED", "Cifar10Arrays", "RestrictedUnpickler", "load_pickle",
           "locate", "read_cifar10", "verify_layout", "load_sample",
           "cifar10", "cifar10_sample"]

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FOLDER = "cifar-10-batches-py"           # what the archive extracts to
ARCHIVE = "cifar-10-python.tar.gz"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
SHAPE = (3, 32, 32)                      # one image: R, G, B planes of 32×32, row-major (3,072 bytes)
SAMPLE_FILE = "cifar10-sample.npz"

# Per batch: (images, sha256 of the raw uint8 `data` array bytes N×3072, sha256 of the labels as uint8 bytes).
# Content checksums rather than file checksums: the Toronto pickles and faithful rebuilds of them (as in
# ../shared/data/cifar10) differ byte-wise but hold identical arrays, and both must pass.
EXPECTED: dict[str, tuple[int, str, str]] = {
    "data_batch_1": (10_000, "a50e8b48728e1667d682a807155c375279d5ae321fb12242c02e3104a6bc8b21",
                     "d829dbdf32167c9d7b3687cee66d92d80d46c441308b5aca0d11e8b69e27dac9"),
    "data_batch_2": (10_000, "0b825e5592c3b72ea18d6ec2ff5f5b19d33e41a75f5039054a9bb87be3cf69a0",
                     "5d18f7371ed35ea9ade77952fe958b0660a45cd6c8b8a8970030f21612cfd7e3"),
    "data_batch_3": (10_000, "c6ee1dd4601a69ec085d8ebf53ee6441775491a6839a0a9ae8fa198e88a3a429",
                     "32cf77b0ee2e790b1c4384d2d82e42dc1571b87e67f6da8f444b2725b2973f65"),
    "data_batch_4": (10_000, "1f6b6c799cff375a9f8fae2fac909d51ee09f38a6a60eebb9e8fec6f47ddc48f",
                     "d2815e3f8f656272864920fc0edde56b04ec9cf81bf397c0dd3069f4aea51aeb"),
    "data_batch_5": (10_000, "58e3bbf713e28357476a351d3a05d056372f94c681d04ca9d62a076fdf2a643b",
                     "2ddf3ab27d5d04409c94ce7b56849c243129c10de1058ae0bfe14c77e934800c"),
    "test_batch": (10_000, "177777c33ba79825320efa646ad04a94bdc3c80e4ebe3bd21724f8cdfd4b9d56",
                   "cec8a24a1e92aa2ecaa0bbd3dbfa86bf6cd8759fbd209a832824c8cf0afca9d5"),
}


# ------------------------------------------------------------------------------------------ safe unpickling

def _numpy_reconstruct() -> Any:
    try:  # numpy >= 2 moved the implementation; importing numpy.core there warns
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


# The only globals a pickled ndarray refers to (Python 2's cPickle wrote numpy.core.multiarray; numpy >= 2
# writes numpy._core.multiarray).
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
}


class ForbiddenGlobal(pickle.UnpicklingError):
    """A pickle asked for a global outside the numpy allow-list."""


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that rebuilds numpy arrays and plain containers, and refuses every other global."""

    def find_class(self, module: str, name: str) -> Any:
        make = _ALLOWED.get((module, name))
        if make is None:
            raise ForbiddenGlobal(f"{module}.{name}")
        return make()


def load_pickle(data: bytes, where: str) -> Any:
    """Unpickle `data` (a CIFAR batch, Python 2 protocol 2) safely; DataError naming `where` when it fails.

    Python 2 strings come back as bytes (``encoding="bytes"``: half the time of "latin1", which would decode
    the 30 MB pixel string to text and numpy encode it back); dict keys are turned into str.
    """
    try:
        obj = RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
        if isinstance(obj, dict):
            obj = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}
        return obj
    except ForbiddenGlobal as e:
        raise DataError(f"{where}: refused to unpickle: it references {e}, which a CIFAR-10 batch never does "
                        f"(only numpy arrays are allowed)") from None
    except Exception as e:  # a truncated or corrupt pickle can raise almost anything (EOFError, KeyError, ...)
        cause = " ".join(f"{type(e).__name__}: {e}".split())[:200]  # one line, bounded
        raise DataError(f"{where}: not a readable CIFAR-10 pickle ({cause})") from None


# ---------------------------------------------------------------------------------------------- reading

@dataclass(frozen=True)
class Batch:
    name: str                   # data_batch_1 ... test_batch
    where: str                  # file (or archive member) it came from, for messages
    images: np.ndarray          # uint8 N×3×32×32
    labels: np.ndarray          # int64 N
    data_sha256: str            # of the raw N×3072 uint8 bytes
    labels_sha256: str          # of the labels as uint8 bytes


@dataclass(frozen=True)
class Cifar10Arrays:
    """The whole dataset in memory (treat the tensors as read-only: they are cached and shared)."""

    train_images: torch.Tensor  # uint8 50,000×3×32×32, data_batch_1..5 in order
    train_labels: torch.Tensor  # int64 50,000
    test_images: torch.Tensor   # uint8 10,000×3×32×32
    test_labels: torch.Tensor   # int64 10,000
    class_names: tuple[str, ...]
    checksums: dict[str, tuple[int, str, str]]  # per batch, as in EXPECTED: (images, data sha256, labels sha256)
    source: str


def locate(path: str | Path) -> Path:
    """The archive or batches folder that `path` names: the tar.gz, ``cifar-10-batches-py``, or its parent."""
    p = Path(path).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        if (p / META).exists() or (p / TEST_BATCH).exists() or p.name == FOLDER:
            return p
        if (p / FOLDER).is_dir():
            return p / FOLDER
        if (p / ARCHIVE).is_file():
            return p / ARCHIVE
        raise DataError(f"{p}: holds neither {FOLDER}/ nor {ARCHIVE} (the canonical CIFAR-10 python layout)")
    raise DataError(f"{p}: no such file or folder (expected {ARCHIVE}, {FOLDER}/ or a folder containing one)")


def _parse_batch(name: str, raw: bytes, where: str) -> Batch:
    obj = load_pickle(raw, where)
    if not isinstance(obj, dict) or "data" not in obj or "labels" not in obj:
        keys = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise DataError(f"{where}: expected a dict with 'data' and 'labels', got {keys}")
    data, labels = obj["data"], obj["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        desc = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{where}: 'data' should be a uint8 N×3072 array, got {desc}")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        raise DataError(f"{where}: 'labels' is not a list of integers") from None
    if labels.shape != (len(data),):
        raise DataError(f"{where}: {len(data)} images but {labels.size} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise DataError(f"{where}: labels outside 0..9 (min {labels.min()}, max {labels.max()})")
    data = np.ascontiguousarray(data)
    return Batch(name, where, data.reshape(len(data), *SHAPE), labels,
                 hashlib.sha256(data).hexdigest(), hashlib.sha256(labels.astype(np.uint8)).hexdigest())


def _parse_meta(raw: bytes, where: str) -> tuple[str, ...]:
    obj = load_pickle(raw, where)
    names = obj.get("label_names") if isinstance(obj, dict) else None
    if isinstance(names, list):
        names = [n.decode("latin1") if isinstance(n, bytes) else n for n in names]
    if not isinstance(names, list) or len(names) != len(CLASSES) or not all(isinstance(n, str) for n in names):
        raise DataError(f"{where}: expected 'label_names', a list of {len(CLASSES)} class names")
    return tuple(names)


def _members(path: Path, wanted: tuple[str, ...]) -> Iterator[tuple[str, bytes, str]]:
    """(name, raw bytes, where) of each wanted file, from a batches folder or straight from the archive."""
    if path.is_dir():
        for name in wanted:
            f = path / name
            try:
                yield name, f.read_bytes(), str(f)
            except FileNotFoundError:
                raise DataError(f"{f}: missing (a complete {FOLDER} holds {', '.join(wanted)})") from None
            except OSError as e:
                raise DataError(f"{f}: cannot be read ({e.strerror or e})") from None
        return
    seen: set[str] = set()
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:  # one pass over the stream, in archive order
                p = PurePosixPath(member.name)
                if member.isfile() and p.name in wanted and p.parent.name == FOLDER and p.name not in seen:
                    fobj = tar.extractfile(member)
                    seen.add(p.name)
                    yield p.name, fobj.read(), f"{path}:{member.name}"
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        what = describe_archive(path)   # not an archive at all (a gzipped CSV, an empty file): say what it is
        if what is not None:
            raise DataError(f"{path}: {what} (expected {ARCHIVE})") from None
        cause = " ".join(f"{type(e).__name__}: {e}".split())
        raise DataError(f"{path}: not a readable {ARCHIVE} (truncated or corrupt: {cause})") from None
    missing = [n for n in wanted if n not in seen]
    if missing:
        raise DataError(f"{path}: archive has no {FOLDER}/{missing[0]}"
                        + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else ""))


def _read(path: Path) -> tuple[tuple[str, ...], dict[str, Batch]]:
    class_names: tuple[str, ...] | None = None
    batches: dict[str, Batch] = {}
    for name, raw, where in _members(path, (META, *TRAIN_BATCHES, TEST_BATCH)):
        if name == META:
            class_names = _parse_meta(raw, where)
        else:
            batches[name] = _parse_batch(name, raw, where)
        del raw  # one raw 31 MB file alive at a time
    assert class_names is not None
    return class_names, batches


def read_cifar10(path: str | Path, *, check: bool = False) -> Cifar10Arrays:
    """Read the canonical python layout from ``cifar-10-python.tar.gz``, ``cifar-10-batches-py/`` or its parent.

    Args:
        path: the archive, the batches folder, or a folder containing either.
        check: also compare every batch with the canonical counts and content checksums (``EXPECTED``).

    Returns uint8 N×3×32×32 images and int64 labels for train (data_batch_1..5 in order) and test.
    """
    where = locate(path)
    class_names, batches = _read(where)
    if check:
        for b in batches.values():
            _check_batch(b)
    train = [batches[n] for n in TRAIN_BATCHES]
    test = batches[TEST_BATCH]
    return Cifar10Arrays(
        train_images=torch.from_numpy(np.concatenate([b.images for b in train])),
        train_labels=torch.from_numpy(np.concatenate([b.labels for b in train])),
        test_images=torch.from_numpy(test.images.copy()),  # the unpickled array may be read-only
        test_labels=torch.from_numpy(test.labels),
        class_names=class_names,
        checksums={n: (len(b.labels), b.data_sha256, b.labels_sha256) for n, b in batches.items()},
        source=str(where))


def _check_batch(b: Batch) -> str:
    if b.name not in EXPECTED:
        raise DataError(f"{b.where}: no recorded checksum for {b.name}")
    count, data_sha, labels_sha = EXPECTED[b.name]
    if len(b.labels) != count:
        raise DataError(f"{b.where}: {len(b.labels):,} images, expected {count:,}")
    if b.data_sha256 != data_sha:
        raise DataError(f"{b.where}: pixel data sha256 mismatch (expected {data_sha}, got {b.data_sha256})")
    if b.labels_sha256 != labels_sha:
        raise DataError(f"{b.where}: labels sha256 mismatch (expected {labels_sha}, got {b.labels_sha256})")
    counts = np.bincount(b.labels, minlength=len(CLASSES))
    return (f"{b.name}: {count:,} images ({counts.min()}-{counts.max()} per class), "
            f"data sha256 {data_sha[:16]}… ok, labels sha256 {labels_sha[:16]}… ok")


def verify_layout(path: str | Path) -> list[str]:
    """Read every file of a CIFAR-10 copy and check it against ``EXPECTED``; lines of what was checked."""
    where = locate(path)
    class_names, batches = _read(where)
    if class_names != CLASSES:
        raise DataError(f"{where}/{META}: class names {list(class_names)}, expected {list(CLASSES)}")
    lines = [f"{where}", f"{META}: {len(class_names)} classes ({', '.join(class_names)}) ok"]
    lines += [_check_batch(batches[n]) for n in (*TRAIN_BATCHES, TEST_BATCH)]
    return lines


SOURCE = register_source(Source(
    name="cifar10",
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    filename=ARCHIVE,
    sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",  # md5 c58f30108f718f92721af3b95e74349a
    size=170_498_071,
    folder="cifar10",
    content=FOLDER,
    verify=lambda folder: verify_layout(Path(folder) / FOLDER),
    sample="cifar10-sample",
    description="CIFAR-10: 60,000 32×32 RGB images, 10 classes, 50k train / 10k test (Krizhevsky 2009)",
))


# --------------------------------------------------------------------------------------- in-process cache

def _stamp(path: Path) -> tuple:
    """Size and mtime (ns) of the files behind `path`: a re-installed copy invalidates the cache."""
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    return tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files)


@functools.lru_cache(maxsize=2)  # studies build many runs in one process; each full copy is ~185 MB
def _load_full(path: str, stamp: tuple) -> Cifar10Arrays:
    return read_cifar10(path, check=True)


@dataclass(frozen=True)
class _Sample:
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    class_names: tuple[str, ...]
    source: str


@functools.lru_cache(maxsize=1)
def load_sample() -> _Sample:
    """The bundled sample: 2,000 train images (data_batch_1) and 500 test images (test_batch), 10 classes."""
    ref = resources.files("nnstudy.data") / "samples" / SAMPLE_FILE
    try:
        with ref.open("rb") as f, np.load(f, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("train_images", "train_labels", "test_images", "test_labels",
                                        "class_names")}
    except (OSError, KeyError, ValueError, zlib.error) as e:
        raise DataError(f"{ref}: bundled CIFAR-10 sample is missing or damaged ({e}); reinstall nnstudy") from None
    return _Sample(torch.from_numpy(arrays["train_images"]), torch.from_numpy(arrays["train_labels"]),
                   torch.from_numpy(arrays["test_images"]), torch.from_numpy(arrays["test_labels"]),
                   tuple(str(n) for n in arrays["class_names"]), f"bundled sample {SAMPLE_FILE}")


def _check_args(val_fraction: float, subset: int | None) -> None:
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if subset is not None and subset < 1:
        raise ValueError(f"subset must be a positive number of training images (or null for all), got {subset}")


def _make_dataset(name: str, train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                  test_y: torch.Tensor, class_names: tuple[str, ...], source: str, *, val_fraction: float,
                  split_seed: int, transform: ImageTransform, normalize: str, subset: int | None) -> Dataset:
    # One CPU generator drives both draws (validation, then subset): the split depends on split_seed only,
    # not on the run's seed, so every seed of a study sees the same validation images.
    gen = torch.Generator().manual_seed(split_seed)
    train_idx, val_idx = stratified_split(train_y, val_fraction, gen)
    if subset is not None:
        if subset > len(train_idx):
            raise ValueError(f"subset={subset} exceeds the {len(train_idx):,} training images left after "
                             f"the validation split (data.subset=null keeps them all)")
        keep, _ = stratified_take(train_y[train_idx], subset, gen)
        train_idx = train_idx[keep]
    def take(idx: torch.Tensor) -> Split:  # index_select: about twice as fast as x[idx] for 45k images
        return Split(train_x.index_select(0, idx), train_y.index_select(0, idx))

    val = take(val_idx) if len(val_idx) else None
    info = DataInfo(input_shape=SHAPE, num_classes=len(class_names), class_names=list(class_names),
                    extra={"normalize": normalize, "mean": transform.mean, "std": transform.std,
                           "augment": transform.augment, "crop_padding": transform.padding,
                           "crop_fill": transform.fill,
                           "val_fraction": val_fraction, "split_seed": split_seed, "subset": subset,
                           "sizes": {"train": len(train_idx), "val": len(val_idx), "test": len(test_y)}})
    return Dataset(name=name, train=take(train_idx), val=val,
                   test=Split(test_x, test_y), info=info, transform=transform, source=source)


# ------------------------------------------------------------------------------------------------ builders

@register_dataset("cifar10", tags=("image", "classification"))
def cifar10(*, path: str | None = None, val_fraction: float = 0.1, split_seed: int = 0,
            normalize: str = "cifar10", augment: str = "none", crop_padding: int = 4,
            crop_fill: str = "zeros", subset: int | None = None) -> Dataset:
    """CIFAR-10, full: 50,000 train (less the validation split) / 10,000 test 32×32 RGB images, 10 classes.

    Args:
        path: a CIFAR-10 copy to read instead of the data root's (the tar.gz, ``cifar-10-batches-py/`` or
            its parent); it must match the canonical content checksums.
        val_fraction: share of the training images held out for validation, stratified by class (0: none).
        split_seed: seed of the validation split and the subset (independent of the run's seed).
        normalize: "cifar10" (huyvnphan's mean/std, SPEC C), "half" (0.5/0.5, the PyTorch tutorial), "imagenet"
            (ImageNet's mean/std, which pytorch_resnet_cifar10's checkpoints expect) or "none".
        augment: "none", "crop", "flip" or "crop_flip" (training batches only).
        crop_padding: padding in pixels for the random crop: the largest shift of an image.
        crop_fill: what the shifted-in edge holds: "zeros" (black) or "reflect" (mirrored, airbench's translate).
        subset: keep only this many of the remaining training images (stratified), for quick runs.

    Source: Krizhevsky, Learning Multiple Layers of Features from Tiny Images, 2009 (cs.toronto.edu/~kriz).
    """
    _check_args(val_fraction, subset)
    transform = ImageTransform(*normalization(normalize), augment, crop_padding, crop_fill)
    where = locate(path) if path is not None else installed_path("cifar10")
    arrays = _load_full(str(where.absolute()), _stamp(where))
    return _make_dataset("cifar10", arrays.train_images, arrays.train_labels, arrays.test_images,
                         arrays.test_labels, arrays.class_names, arrays.source, val_fraction=val_fraction,
                         split_seed=split_seed, transform=transform, normalize=normalize, subset=subset)


@register_dataset("cifar10-sample", tags=("image", "classification", "bundled"))
def cifar10_sample(*, val_fraction: float = 0.1, split_seed: int = 0, normalize: str = "cifar10",
                   augment: str = "none", crop_padding: int = 4, crop_fill: str = "zeros",
                   subset: int | None = None) -> Dataset:
    """CIFAR-10 sample bundled with nnstudy: 2,000 train / 500 test real images, balanced, no download.

    The first 200 images of each class in data_batch_1 and the first 50 of each class in test_batch, in
    file order. Arguments as for ``cifar10``.
    """
    _check_args(val_fraction, subset)
    transform = ImageTransform(*normalization(normalize), augment, crop_padding, crop_fill)
    s = load_sample()
    return _make_dataset("cifar10-sample", s.train_images, s.train_labels, s.test_images, s.test_labels,
                         s.class_names, s.source, val_fraction=val_fraction, split_seed=split_seed,
                         transform=transform, normalize=normalize, subset=subset)
