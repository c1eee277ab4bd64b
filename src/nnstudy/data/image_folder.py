"""Images of your own: one folder per class, PNG or JPEG.

    nnstudy train resnet18 data.name=image_folder data.path=photos/

`path` holds either ``CLASS/*.png`` (split with `val_fraction` and `test_fraction`, stratified, drawn with
`split_seed`) or ``train/CLASS/…`` and ``test/CLASS/…`` (validation carved from train). Every image must have the
same size and channels. The images are decoded once (Pillow, the optional extra ``nnstudy[images]``) and cached
as uint8 tensors under the data root, keyed by the files' names, sizes and times; the per-channel mean and
standard deviation come from the training images only.
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError, clip
from ..io import write_bytes
from . import register_dataset
from .base import DataInfo, Dataset, Split
from .splits import stratified_split
from .store import data_root
from .transforms import ImageTransform

__all__ = ["image_folder", "read_image_folder"]

SUFFIXES = (".png", ".jpg", ".jpeg")


def _files(folder: Path) -> dict[str, list[Path]]:
    """Class name -> its image files (sorted), for one folder of class folders."""
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    out = {c.name: sorted(f for f in c.rglob("*") if f.is_file() and not f.name.startswith(".")) for c in classes}
    for name, files in out.items():
        other = [f for f in files if f.suffix.lower() not in SUFFIXES]
        if other:
            raise DataError(f"{other[0]}: not a PNG or JPEG file (image_folder reads {', '.join(SUFFIXES)})")
        if not files:
            raise DataError(f"{folder / name}: a class folder without images")
    if len(out) < 2:
        raise DataError(f"{folder}: {len(out)} class folder(s); image_folder needs one folder per class, at least "
                        f"two (e.g. {folder}/cat/1.png, {folder}/dog/2.png)")
    return out


def _decode(files: list[Path], shape: list[tuple[tuple[int, ...], Path]]) -> torch.Tensor:
    """uint8 N×C×H×W of `files`; `shape` holds the first image's shape and file, to name a mismatch."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise DataError("image_folder decodes images with Pillow: pip install 'nnstudy[images]'") from None
    arrays = []
    for f in files:
        try:
            with Image.open(f) as image:
                a = np.asarray(image.convert("RGB") if image.mode not in ("L", "RGB") else image, dtype=np.uint8)
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise DataError(f"{f}: not a readable image ({clip(str(e), 120)})") from None
        a = a[:, :, None] if a.ndim == 2 else a
        if not shape:
            shape.append((a.shape, f))
        elif a.shape != shape[0][0]:
            raise DataError(f"{f}: {a.shape[1]}×{a.shape[0]} with {a.shape[2]} channel(s), but {shape[0][1]} is "
                            f"{shape[0][0][1]}×{shape[0][0][0]} with {shape[0][0][2]}; resize them to one size")
        arrays.append(a)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def read_image_folder(folder: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{'all': (images, labels)} or {'train': …, 'test': …} plus the class names, decoded or from the cache."""
    parts = {"train": folder / "train", "test": folder / "test"}
    layout = parts if all(p.is_dir() for p in parts.values()) else {"all": folder}
    files = {k: _files(p) for k, p in layout.items()}
    classes = sorted({c for f in files.values() for c in f})
    stamp = hashlib.sha256(repr([(str(f.relative_to(folder)), f.stat().st_size, f.stat().st_mtime_ns)
                                 for part in files.values() for fs in part.values() for f in fs]).encode())
    cache = data_root() / "image_folder" / f"{stamp.hexdigest()[:32]}.pt"
    if cache.is_file():
        try:
            return torch.load(cache, weights_only=True)
        except Exception:
            pass   # a damaged cache is decoded again
    shape: list = []
    out: dict = {"classes": classes}
    for k, part in files.items():
        paths = [f for c in classes for f in part.get(c, [])]
        labels = torch.tensor([classes.index(c) for c in classes for _ in part.get(c, [])])
        out[k] = (_decode(paths, shape), labels)
    buffer = io.BytesIO()
    torch.save(out, buffer)
    write_bytes(cache, buffer.getvalue())
    return out


@register_dataset("image_folder", tags=("image", "classification"))
def image_folder(*, path: str | None = None, val_fraction: float = 0.1, test_fraction: float = 0.2,
                 split_seed: int = 0, augment: str = "none") -> Dataset:
    """One folder per class of PNG/JPEG images (see the module docstring).

    Args:
        path: the folder (``CLASS/…``, or ``train/CLASS/…`` and ``test/CLASS/…``).
        val_fraction: share of the training images held out for validation, stratified (0: none).
        test_fraction: share of all images held out for test when there is no ``test/`` folder.
        split_seed: seed of the splits (independent of the run's seed).
        augment: "none", "crop", "flip" or "crop_flip" (training batches only).
    """
    if path is None:
        raise DataError("image_folder: give the folder with data.path=DIR (one sub-folder of images per class)")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise DataError(f"{clip(str(folder))}: no such folder (data.path of image_folder)")
    data = read_image_folder(folder)
    gen = torch.Generator().manual_seed(split_seed)
    if "all" in data:
        x, y = data["all"]
        rest, test_idx = stratified_split(y, test_fraction, gen)
        (train_x, train_y), test = (x[rest], y[rest]), Split(x[test_idx], y[test_idx])
    else:
        (train_x, train_y), test = data["train"], Split(*data["test"])
    train_idx, val_idx = stratified_split(train_y, val_fraction, gen)
    train = Split(train_x[train_idx], train_y[train_idx])
    pixels = train.inputs.float().div_(255).transpose(0, 1).reshape(train.inputs.shape[1], -1)
    mean, std = pixels.mean(1).tolist(), pixels.std(1).clamp_min(1e-6).tolist()   # training images only
    transform = ImageTransform(mean, std, augment)
    info = DataInfo(input_shape=tuple(train.inputs.shape[1:]), num_classes=len(data["classes"]),
                    class_names=list(data["classes"]),
                    extra={"folder": str(folder), "mean": mean, "std": std, "augment": augment,
                           "sizes": {"train": len(train), "val": len(val_idx), "test": len(test)}})
    val = Split(train_x[val_idx], train_y[val_idx]) if len(val_idx) else None
    return Dataset("image_folder", train, val, test, info, transform=transform, source=str(folder))
