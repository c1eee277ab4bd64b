"""Shared fixtures: a tiny learnable image dataset registered as 'toy-images' (Lightning's BoringModel idea)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nnstudy.data import DATASETS
from nnstudy.data.base import DataInfo, Dataset, Split

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


def _toy_split(n: int, seed: int) -> Split:
    # Class c = which of 4 quadrants is brightest: learnable by any image model within a couple of epochs.
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 100, (n, 3, 16, 16), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 4, (n,), generator=g)
    for c, (r, s) in enumerate([(0, 0), (0, 8), (8, 0), (8, 8)]):
        x[y == c, :, r:r + 8, s:s + 8] += 120
    return Split(x, y)


@DATASETS.register("toy-images")
def toy_images(*, n_train: int = 256, n_test: int = 64, val_fraction: float = 0.25) -> Dataset:
    """Synthetic 3×16×16 uint8 images, 4 classes by brightest quadrant (tests only)."""
    train = _toy_split(n_train, 0)
    n_val = int(n_train * val_fraction)
    val = Split(train.inputs[:n_val], train.targets[:n_val]) if n_val else None
    train = Split(train.inputs[n_val:], train.targets[n_val:])
    return Dataset("toy-images", train, val, _toy_split(n_test, 1),
                   DataInfo(input_shape=(3, 16, 16), num_classes=4, class_names=list("abcd")),
                   transform=lambda x, train, g: x.float() / 255.0, source="synthetic")


@pytest.fixture
def toy_overrides(tmp_path):
    """Overrides for a ~1 s run of the tutorial CNN on toy-images, written under tmp_path."""
    return ["data.name=toy-images", "train.epochs=2", "train.batch_size=16", "train.threads=1",
            "optim.lr=0.05", f"out_dir={tmp_path / 'runs'}"]


@pytest.fixture(scope="session")
def full_cifar10(tmp_path_factory) -> Path:
    """A data root holding the full CIFAR-10: $NNSTUDY_DATA if it has a verified copy, else one rebuilt from
    ../shared/data/cifar10 (~30 s) and imported with `nnstudy.data.add`. For tests marked slow."""
    from nnstudy.data import store
    from nnstudy.errors import DataError
    if os.environ.get("NNSTUDY_DATA"):
        try:
            store.verify("cifar10")
            return Path(os.environ["NNSTUDY_DATA"])
        except DataError:
            pass
    script = SHARED_DATA / "cifar10" / "build_cifar10_python.py"
    if not script.is_file():
        pytest.skip(f"no shared CIFAR-10 at {script.parent} (../shared beside the repository)")
    build = tmp_path_factory.mktemp("cifar10-build")
    subprocess.run([sys.executable, str(script), str(build)], check=True, capture_output=True)
    root = tmp_path_factory.mktemp("data-root")
    old = os.environ.get("NNSTUDY_DATA")
    os.environ["NNSTUDY_DATA"] = str(root)
    try:
        store.add("cifar10", build / "cifar-10-python.tar.gz")
    finally:
        if old is None:
            del os.environ["NNSTUDY_DATA"]
        else:
            os.environ["NNSTUDY_DATA"] = old
    return root
