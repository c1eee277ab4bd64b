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


def _data_root_with(name: str, tmp_path_factory, source: Path, build=None) -> Path:
    """$NNSTUDY_DATA if it has a verified copy of `name`, else a fresh data root where `name` is imported with
    `nnstudy.data.add` from `source` (or from what `build(folder)` makes there)."""
    from nnstudy.data import store
    from nnstudy.errors import DataError
    if os.environ.get("NNSTUDY_DATA"):
        try:
            store.verify(name)
            return Path(os.environ["NNSTUDY_DATA"])
        except DataError:
            pass
    if not source.exists():
        pytest.skip(f"no shared {name} at {source} (../shared beside the repository)")
    if build is not None:
        source = build(tmp_path_factory.mktemp(f"{name}-build"))
    root = tmp_path_factory.mktemp("data-root")
    old = os.environ.get("NNSTUDY_DATA")
    os.environ["NNSTUDY_DATA"] = str(root)
    try:
        store.add(name, source)
    finally:
        if old is None:
            del os.environ["NNSTUDY_DATA"]
        else:
            os.environ["NNSTUDY_DATA"] = old
    return root


@pytest.fixture(scope="session")
def full_cifar10(tmp_path_factory) -> Path:
    """A data root holding the full CIFAR-10: $NNSTUDY_DATA if it has a verified copy, else one rebuilt from
    ../shared/data/cifar10 (~30 s) and imported with `nnstudy.data.add`. For tests marked slow."""
    script = SHARED_DATA / "cifar10" / "build_cifar10_python.py"

    def build(folder: Path) -> Path:
        subprocess.run([sys.executable, str(script), str(folder)], check=True, capture_output=True)
        return folder / "cifar-10-python.tar.gz"
    return _data_root_with("cifar10", tmp_path_factory, script, build)


@pytest.fixture(scope="session")
def full_energy(tmp_path_factory) -> Path:
    """A data root holding the full PJM hourly load (the energy studies' data): $NNSTUDY_DATA if it has a verified
    copy, else one imported from ../shared/data/pjm_hourly. For tests marked slow."""
    return _data_root_with("energy", tmp_path_factory, SHARED_DATA / "pjm_hourly")
