"""A synthetic image dataset with the dataset contract (nnstudy.data.Dataset): the class is the brightest
quadrant of a 16×16 image."""
from __future__ import annotations

import torch

from nnstudy.data import DataInfo, Dataset, Split


def _split(n: int, seed: int) -> Split:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 100, (n, 3, 16, 16), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 4, (n,), generator=g)
    for c, (r, s) in enumerate([(0, 0), (0, 8), (8, 0), (8, 8)]):
        x[y == c, :, r:r + 8, s:s + 8] += 120
    return Split(x, y)


def tiny_images(*, n_train: int = 192, n_val: int = 64, n_test: int = 64) -> Dataset:
    """Synthetic 3×16×16 images in 4 classes."""
    train, val = _split(n_train, 0), _split(n_val, 1)
    return Dataset("tiny-images", train, val, _split(n_test, 2),
                   DataInfo(input_shape=(3, 16, 16), num_classes=4, class_names=list("abcd")),
                   transform=lambda x, train, g: x.float() / 255.0, source="tinyplug (synthetic)")
