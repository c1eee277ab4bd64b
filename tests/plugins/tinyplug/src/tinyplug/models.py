"""A small conv net: a class whose keyword arguments a config can carry."""
from __future__ import annotations

from torch import nn


class TinyNet(nn.Module):
    """Two convolutions, pooled to 2×2 (where in the image matters), and a linear head."""

    def __init__(self, input_shape: tuple[int, ...] = (3, 16, 16), num_classes: int = 4, width: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(input_shape[0], width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                                  nn.Flatten(), nn.Linear(8 * width, num_classes))

    def forward(self, x):
        return self.body(x)


def not_a_module(width: int = 2):
    """Returns a number: nnstudy must refuse it."""
    return width
