"""AlexNet scaled to 32×32 inputs (SPEC D: seed 002's baseline)."""
from collections import OrderedDict

from torch import nn

from . import register_model
from .layers import feature_shape, get_act
from .mlp import MLP

__all__ = ["alexnet"]


@register_model()
def alexnet(*, act: str = "relu", dropout: float = 0.5, hidden: int = 4096, num_classes: int = 10,
            input_shape: tuple[int, ...] = (3, 32, 32)) -> nn.Sequential:
    """CIFAR-sized AlexNet: five 3×3 conv layers, three FC layers with dropout (23,272,266 params).

    Layers at the defaults (3×32×32 input, 10 classes)::

        Conv(3→64, k3, s2, p1)     32→16   act   MaxPool2 16→8
        Conv(64→192, k3, p1)        8→8    act   MaxPool2 8→4
        Conv(192→384, k3, p1)       4→4    act
        Conv(384→256, k3, p1)       4→4    act
        Conv(256→256, k3, p1)       4→4    act   MaxPool2 4→2
        FC 1024→4096 → act → Dropout(0.5) → 4096→4096 → act → Dropout(0.5) → 4096→10

    The channel plan (64-192-384-256-256) and the 4096-wide FC layers are torchvision's AlexNet; the 11×11
    stride-4 stem and 3×3 stride-2 pools, made for 224×224 images, become a 3×3 stride-2 conv and 2×2 pools
    so that a 32×32 image still leaves a 2×2 map. Dropout follows the first two FC layers as in the paper.
    The FC input size is computed from ``input_shape``.

    Args:
        act: activation after every conv and hidden FC layer.
        dropout: dropout probability after the two hidden FC layers.
        hidden: width of the two hidden FC layers.
        num_classes, input_shape: filled from the dataset.

    Source: Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep Convolutional Neural Networks",
    NeurIPS 2012; torchvision ``models/alexnet.py``.
    """
    in_channels = input_shape[0]
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, 64, kernel_size=3, stride=2, padding=1), get_act(act), nn.MaxPool2d(2),
        nn.Conv2d(64, 192, kernel_size=3, padding=1), get_act(act), nn.MaxPool2d(2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1), get_act(act),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), get_act(act),
        nn.Conv2d(256, 256, kernel_size=3, padding=1), get_act(act), nn.MaxPool2d(2),
    ]
    c, h, w = feature_shape(layers, input_shape)
    return nn.Sequential(OrderedDict(
        features=nn.Sequential(*layers),
        classifier=MLP(c * h * w, (hidden, hidden), num_classes, act=act, dropout=dropout),
    ))
