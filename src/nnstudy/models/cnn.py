"""The PyTorch "Training a Classifier" tutorial CNN and its ablations (SPEC B: seed 003 §2.2)."""
from collections import OrderedDict

from torch import nn

from . import register_model
from .layers import feature_shape, get_act
from .mlp import MLP

__all__ = ["tutorial_cnn"]

CHANNELS = (6, 16, 32)  # output channels of conv 1, 2, 3 at width=1; the tutorial net uses the first two
HIDDEN = (120, 84)  # the tutorial's fully connected widths, kept fixed across the ablations
KERNEL = 5


@register_model()
def tutorial_cnn(*, act: str = "relu", conv_layers: int = 2, width: int = 1, num_classes: int = 10,
                 input_shape: tuple[int, ...] = (3, 32, 32)) -> nn.Sequential:
    """PyTorch tutorial CNN (62,006 params): 1-3 conv layers, channel width multiplier, activation by name.

    Every conv block is Conv(k5) → act → MaxPool2; the classifier is FC → act → 120 → act → 84 → classes,
    its input size computed from ``input_shape`` by N_out = ⌊(N_in + 2p − k)/s⌋ + 1. Layers at the
    defaults (3×32×32 input, width=1, 10 classes):

    conv_layers=1 (152,710 params)::

        Conv(3→6, k5)        32→28   act   MaxPool2 28→14
        FC 1176→120 → act → 84 → act → 10          (6·14·14 = 1176)

    conv_layers=2, the tutorial net (62,006 params)::

        Conv(3→6, k5)        32→28   act   MaxPool2 28→14
        Conv(6→16, k5)       14→10   act   MaxPool2 10→5
        FC 400→120 → act → 84 → act → 10           (16·5·5 = 400)

    conv_layers=3 (88,278 params)::

        Conv(3→6, k5, p2)    32→32   act   MaxPool2 32→16
        Conv(6→16, k5, p2)   16→16   act   MaxPool2 16→8
        Conv(16→32, k5, p2)   8→8    act   MaxPool2 8→4
        FC 512→120 → act → 84 → act → 10           (32·4·4 = 512)

    The 3-conv net pads by 2 ("same" convolutions) because without padding a third k5 conv and pool would
    shrink the 5×5 map of the tutorial net to nothing. ``width`` multiplies the conv channels only:
    width=2 gives Conv(3→12) → Conv(12→32) → FC 800→120..., the "channels doubled" net (117,678 params).

    Args:
        act: activation after every conv and hidden FC layer (relu, leaky_relu, tanh, ...).
        conv_layers: 1, 2 (the tutorial) or 3 conv blocks.
        width: integer multiplier of the conv channels (6, 16, 32).
        num_classes, input_shape: filled from the dataset.

    Source: pytorch.org/tutorials/beginner/blitz/cifar10_tutorial.html.
    """
    if conv_layers not in (1, 2, 3):
        raise ValueError(f"tutorial_cnn supports conv_layers 1, 2 or 3, got {conv_layers}")
    if width < 1:
        raise ValueError(f"tutorial_cnn width must be a positive integer multiplier, got {width}")
    padding = KERNEL // 2 if conv_layers == 3 else 0  # see the docstring: 3 convs need "same" padding
    layers: list[nn.Module] = []
    in_channels = input_shape[0]
    for out_channels in CHANNELS[:conv_layers]:
        out_channels *= width
        layers += [nn.Conv2d(in_channels, out_channels, KERNEL, padding=padding), get_act(act), nn.MaxPool2d(2)]
        in_channels = out_channels
    c, h, w = feature_shape(layers, input_shape)
    net = nn.Sequential(OrderedDict(
        features=nn.Sequential(*layers),
        classifier=MLP(c * h * w, HIDDEN, num_classes, act=act),
    ))
    net.fp32_reason = FP32_REASON   # train.precision auto keeps fp32 (engine/runtime.py)
    return net


# measured, benchmarks/precision_speed.py (AMD EPYC Zen 4, 2 threads, four runs): batch 4 0.70-0.94×, batch 32
# 0.86-1.01× the speed of fp32 — convolutions of 3-32 channels are too narrow for bf16's kernels to gain
FP32_REASON = ("tutorial_cnn: bf16 autocast is no faster than fp32 for convolutions this narrow "
               "(benchmarks/precision_speed.py)")
