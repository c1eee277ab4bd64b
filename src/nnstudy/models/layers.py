"""Small layer factories shared by the model families.

Layers are chosen by name (``act="tanh"``) so that an ablation is a config edit, not a code edit
(as timm's ``get_act_layer``).
"""
import math
from typing import Iterable

from torch import nn

__all__ = ["ACTIVATIONS", "get_act", "conv3x3", "conv1x1", "conv_out_size", "feature_shape"]

# Classes, not instances: every call to get_act builds a fresh module, so no two layers share one.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "identity": nn.Identity,
}
_ALIASES = {"leakyrelu": "leaky_relu", "swish": "silu", "none": "identity", "linear": "identity"}


def get_act(name: str) -> nn.Module:
    """A new activation module by name (case-insensitive; ``leakyrelu`` = ``leaky_relu``).

    Raises ValueError naming the valid choices for an unknown name.
    """
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[key]()


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """3×3 convolution with padding 1: keeps H×W at stride 1, halves it at stride 2.

    No bias by default because a BatchNorm follows it in the residual nets (its shift does the bias's job).
    """
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=bias)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """1×1 convolution: changes the channel count (and with stride 2 the resolution) of a shortcut."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=bias)


def conv_out_size(n: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of a conv or pool along one axis: N_out = ⌊(N_in + 2p − k)/s⌋ + 1."""
    return math.floor((n + 2 * padding - kernel) / stride) + 1


def _pair(value: int | tuple[int, ...]) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def feature_shape(layers: Iterable[nn.Module], input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(C, H, W) after a stack of 2-D layers, by the conv/pool size rule, without running the layers.

    Conv2d changes C to its ``out_channels``; Conv2d and MaxPool2d/AvgPool2d change H and W by
    :func:`conv_out_size`; other layers (activations, BatchNorm, Dropout) keep the shape.
    Raises ValueError when the feature map would vanish (the input is too small for the stack).
    """
    if len(input_shape) != 3:
        raise ValueError(f"expected input_shape (C, H, W), got {tuple(input_shape)}")
    c, h, w = input_shape
    for layer in layers:
        if not isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            continue
        (kh, kw), (sh, sw), (ph, pw) = _pair(layer.kernel_size), _pair(layer.stride), _pair(layer.padding)
        if getattr(layer, "ceil_mode", False) or _pair(getattr(layer, "dilation", 1)) != (1, 1):
            raise ValueError(f"feature_shape supports neither ceil_mode nor dilation ({layer})")
        h, w = conv_out_size(h, kh, sh, ph), conv_out_size(w, kw, sw, pw)
        if isinstance(layer, nn.Conv2d):
            c = layer.out_channels
        if h < 1 or w < 1:
            raise ValueError(f"input {tuple(input_shape)} is too small: the feature map vanishes at {layer}")
    return c, h, w
