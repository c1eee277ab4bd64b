#!/usr/bin/env python3
"""Build the CIFAR-10 sample bundled with nnstudy (src/nnstudy/data/samples/cifar10-sample.npz).

    python scripts/make_cifar10_sample.py [CIFAR10_PATH] [--out FILE]

CIFAR10_PATH is a full canonical copy (cifar-10-python.tar.gz, cifar-10-batches-py/ or its parent; default
../cifar-build beside the repository, as made by ../shared/data/cifar10/build_cifar10_python.py). It is checked
against the canonical content checksums first. The sample holds, in file order:

- train: the first 200 images of each class in data_batch_1 (2,000 images),
- test: the first 50 images of each class in test_batch (500 images),

as uint8 N×3×32×32 images, int64 labels, the class names, and each image's index in its source batch.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

from nnstudy.data.cifar10 import CLASSES, read_cifar10

ROOT = Path(__file__).resolve().parents[1]
TRAIN_PER_CLASS = 200
TEST_PER_CLASS = 50
BATCH = 10_000  # images per canonical batch file


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Sorted indices of the first `per_class` images of every class, in file order."""
    picks = [np.flatnonzero(labels == c)[:per_class] for c in range(len(CLASSES))]
    if any(len(p) < per_class for p in picks):
        sys.exit(f"fewer than {per_class} images of some class")
    return np.sort(np.concatenate(picks))


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed, but byte-reproducible: fixed member timestamps, so re-running changes nothing."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=False)
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", nargs="?", default=str(ROOT.parent / "cifar-build"))
    ap.add_argument("--out", default=str(ROOT / "src/nnstudy/data/samples/cifar10-sample.npz"))
    args = ap.parse_args()

    data = read_cifar10(args.source, check=True)
    train_x = data.train_images[:BATCH].numpy()   # data_batch_1 is the first 10,000 training images
    train_y = data.train_labels[:BATCH].numpy()
    test_x, test_y = data.test_images.numpy(), data.test_labels.numpy()
    tr = first_per_class(train_y, TRAIN_PER_CLASS)
    te = first_per_class(test_y, TEST_PER_CLASS)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_npz(out, {
        "train_images": np.ascontiguousarray(train_x[tr]), "train_labels": train_y[tr].astype(np.int64),
        "test_images": np.ascontiguousarray(test_x[te]), "test_labels": test_y[te].astype(np.int64),
        "class_names": np.array(data.class_names),             # unicode array: loads with allow_pickle=False
        "train_indices": tr.astype(np.int64), "test_indices": te.astype(np.int64),  # positions in the batches
        "train_source": np.array("data_batch_1"), "test_source": np.array("test_batch"),
    })
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{out}: {len(tr)} train + {len(te)} test images, {out.stat().st_size:,} bytes, sha256 {digest}")


if __name__ == "__main__":
    main()
