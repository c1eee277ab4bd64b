"""The paper's CIFAR ResNets: ResNet-20/32/44/56/110 (He et al. 2016, §4.2), 6n+2 layers.

Layout: conv 3×3 (16) → BN → ReLU → three stages of n basic blocks at 16 / 32 / 64 channels (the first block of
stages 2 and 3 has stride 2) → global average pool → linear. Where a block changes the shape, the shortcut is
option A of the paper (subsample by 2 and pad the new channels with zeros: no parameters) or option B (a 1×1
projection with BN).

The blocks are ``resnet.BasicBlock`` with the shortcut as its ``downsample``, and the module names are those of
akamaster/pytorch_resnet_cifar10 (``conv1``, ``bn1``, ``layer1.0.conv1``, ..., ``linear``), so that its published
``.th`` checkpoints load without renaming (option A: the shortcut holds no tensors).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from . import register_model
from .layers import conv1x1, conv3x3
from .resnet import BasicBlock

__all__ = ["SHORTCUTS", "ZeroPadShortcut", "CifarResNet", "resnet20", "resnet32", "resnet44", "resnet56",
           "resnet110"]

SHORTCUTS = ("A", "B")   # the paper's options for a shortcut that changes shape (option C projects every one)
WIDTHS = (16, 32, 64)    # channels of the three stages


class ZeroPadShortcut(nn.Module):
    """Option A: keep every `stride`-th pixel, then pad the new channels with zeros (as many before as after the
    input's, as pytorch_resnet_cifar10 does: its checkpoints were trained with the input channels in the middle)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"a zero-padding shortcut cannot reduce channels ({in_channels}→{out_channels})")
        self.stride = stride
        extra = out_channels - in_channels
        self.pad = (extra // 2, extra - extra // 2)

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        # F.pad pads the last dimensions first: (W left, W right, H top, H bottom, C before, C after)
        return F.pad(x, (0, 0, 0, 0, *self.pad))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, pad_channels={self.pad}"


def _shortcut(kind: str, in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    """The shortcut of a block: None (the identity) when the shape stays, else option A or B."""
    if stride == 1 and in_channels == out_channels:
        return None
    if kind == "A":
        return ZeroPadShortcut(in_channels, out_channels, stride)
    return nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))


class CifarResNet(nn.Module):
    """He et al.'s CIFAR ResNet: conv1 → bn1 → layer1..layer3 (n blocks each at 16, 32, 64 channels) → linear.

    Args:
        blocks: n, the number of basic blocks per stage (depth 6n + 2).
        num_classes: outputs of ``linear``.
        shortcut: "A" (zero padding, no parameters; the paper's CIFAR choice) or "B" (1×1 conv + BN) for the
            shortcuts that change shape; the others are the identity.
        in_channels: image channels.
    """

    def __init__(self, blocks: int, num_classes: int = 10, shortcut: str = "A", in_channels: int = 3) -> None:
        super().__init__()
        if blocks < 1:
            raise ValueError(f"CifarResNet needs at least one block per stage, got {blocks}")
        kind = str(shortcut).upper()
        if kind not in SHORTCUTS:
            raise ValueError(f"unknown shortcut {shortcut!r}; choose one of {', '.join(SHORTCUTS)}")
        self.conv1 = conv3x3(in_channels, WIDTHS[0])
        self.bn1 = nn.BatchNorm2d(WIDTHS[0])
        self.relu = nn.ReLU()
        self._channels = WIDTHS[0]   # channels entering the next stage, advanced by _make_layer
        self.layer1 = self._make_layer(kind, WIDTHS[0], blocks, stride=1)
        self.layer2 = self._make_layer(kind, WIDTHS[1], blocks, stride=2)
        self.layer3 = self._make_layer(kind, WIDTHS[2], blocks, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.linear = nn.Linear(WIDTHS[2], num_classes)
        self._init_weights()

    def _make_layer(self, kind: str, channels: int, blocks: int, stride: int) -> nn.Sequential:
        stage = [BasicBlock(self._channels, channels, stride, _shortcut(kind, self._channels, channels, stride))]
        stage += [BasicBlock(channels, channels) for _ in range(1, blocks)]
        self._channels = channels
        return nn.Sequential(*stage)

    def _init_weights(self) -> None:
        # He init (fan_in, gain √2) of conv and linear weights, as pytorch_resnet_cifar10; the linear bias and BN
        # keep PyTorch's defaults (BN: the identity map).
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(torch.flatten(self.avgpool(x), 1))


def _cifar_resnet(depth: int, *, shortcut: str, num_classes: int, input_shape: tuple[int, ...]) -> CifarResNet:
    if (depth - 2) % 6:
        raise ValueError(f"a CIFAR ResNet has 6n + 2 layers, not {depth}")
    return CifarResNet((depth - 2) // 6, num_classes=num_classes, shortcut=shortcut, in_channels=input_shape[0])


@register_model()
def resnet20(*, shortcut: str = "A", num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32)
             ) -> CifarResNet:
    """ResNet-20 of He et al. for CIFAR (269,722 params; 3 blocks per stage, pytorch_resnet_cifar10 names).

    ``shortcut="B"`` projects the two shortcuts that change shape (1×1 conv + BN): 272,474 params.
    Source: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, §4.2.
    """
    return _cifar_resnet(20, shortcut=shortcut, num_classes=num_classes, input_shape=input_shape)


@register_model()
def resnet32(*, shortcut: str = "A", num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32)
             ) -> CifarResNet:
    """ResNet-32 of He et al. for CIFAR (464,154 params; 5 blocks per stage, pytorch_resnet_cifar10 names).

    ``shortcut="B"``: 1×1 conv + BN projections where the shape changes.
    Source: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, §4.2.
    """
    return _cifar_resnet(32, shortcut=shortcut, num_classes=num_classes, input_shape=input_shape)


@register_model()
def resnet44(*, shortcut: str = "A", num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32)
             ) -> CifarResNet:
    """ResNet-44 of He et al. for CIFAR (658,586 params; 7 blocks per stage, pytorch_resnet_cifar10 names).

    ``shortcut="B"``: 1×1 conv + BN projections where the shape changes.
    Source: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, §4.2.
    """
    return _cifar_resnet(44, shortcut=shortcut, num_classes=num_classes, input_shape=input_shape)


@register_model()
def resnet56(*, shortcut: str = "A", num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32)
             ) -> CifarResNet:
    """ResNet-56 of He et al. for CIFAR (853,018 params; 9 blocks per stage, pytorch_resnet_cifar10 names).

    ``shortcut="B"``: 1×1 conv + BN projections where the shape changes.
    Source: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, §4.2.
    """
    return _cifar_resnet(56, shortcut=shortcut, num_classes=num_classes, input_shape=input_shape)


@register_model()
def resnet110(*, shortcut: str = "A", num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32)
              ) -> CifarResNet:
    """ResNet-110 of He et al. for CIFAR (1,727,962 params; 18 blocks per stage, pytorch_resnet_cifar10 names).

    ``shortcut="B"``: 1×1 conv + BN projections where the shape changes. The paper warms up at lr 0.01 for
    about 400 iterations before its lr 0.1.
    Source: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, §4.2.
    """
    return _cifar_resnet(110, shortcut=shortcut, num_classes=num_classes, input_shape=input_shape)
