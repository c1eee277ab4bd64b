"""The notebook way: importing this module registers a model by name."""
from __future__ import annotations

from nnstudy.models import register_model

from .models import TinyNet


@register_model("tiny-registered")
def tiny_registered(input_shape: tuple[int, ...] = (3, 16, 16), num_classes: int = 4, width: int = 4) -> TinyNet:
    """TinyNet, registered with the decorator."""
    return TinyNet(input_shape, num_classes, width)
