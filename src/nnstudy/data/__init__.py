"""Datasets: in-memory splits built by name, and the on-disk store the full copies live in.

    data = build_dataset("cifar10-sample", val_fraction=0.1, augment="crop_flip")
    data.train.inputs        # uint8 N×3×32×32; data.transform(x, train, generator) -> normalised float32

Builders are registered by name like models (``@register_dataset("name")``) and take keyword arguments a config
can carry (``data.val_fraction=0.2``). Full datasets are downloaded or imported with ``nnstudy data fetch|add``
(:mod:`nnstudy.data.store`); small real samples ship inside the package.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from ..errors import ConfigError
from ..registry import Entry, Registry
from .base import BatchTransform, DataInfo, Dataset, Split
from .store import add, data_root, dataset_dir, fetch, list_datasets, register_source, verify
from .transforms import ImageTransform

__all__ = ["DATASETS", "register_dataset", "build_dataset", "dataset_names", "Dataset", "DataInfo", "Split",
           "BatchTransform", "ImageTransform", "data_root", "dataset_dir", "fetch", "add", "verify",
           "list_datasets", "register_source"]

DATASETS: Registry[Callable[..., Dataset]] = Registry("dataset")
register_dataset = DATASETS.register


def build_dataset(name: str, **kwargs: Any) -> Dataset:
    """Build the registered dataset `name` with builder keyword arguments (ConfigError names an unknown key)."""
    entry: Entry = DATASETS.get(name)
    try:
        inspect.signature(entry.builder).bind(**kwargs)
    except TypeError as e:
        raise ConfigError(f"dataset {name!r}: {e}") from None
    return entry.builder(**kwargs)


def dataset_names(pattern: str | None = None) -> list[str]:
    return DATASETS.names(pattern)


# Importing the dataset modules registers their builders and download sources.
from . import cifar10, energy, image_folder, mimic3, mortality, seizure, series, table  # noqa: E402,F401
