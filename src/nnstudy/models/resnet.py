"""Residual networks: CIFAR ResNet-18/34/50 (SPEC C) and the d2l residual net (SPEC D).

The CIFAR ResNets keep torchvision's module names (``conv1``, ``layer1.0.downsample.0``, ``fc``, ...) so that the
published huyvnphan/PyTorch_CIFAR10 state_dicts load without renaming; only the stem differs from torchvision,
and it is an argument (``stem="cifar"`` or ``"imagenet"``), not a copy of the class.
"""
from collections import OrderedDict

import torch
from torch import Tensor, nn

from . import register_model
from .layers import conv1x1, conv3x3

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "Residual", "resnet18", "resnet34", "resnet50", "d2l_resnet"]

# First convolution of each stem: (kernel, stride, padding). Both are followed by BN → ReLU → MaxPool(3, s2, p1).
STEMS: dict[str, tuple[int, int, int]] = {
    "cifar": (3, 1, 1),  # huyvnphan/PyTorch_CIFAR10: keeps 32×32 until the max-pool
    "imagenet": (7, 2, 3),  # torchvision and d2l: made for 224×224 (or d2l's 96×96) inputs
}


def _stem_conv(stem: str, in_channels: int, out_channels: int) -> nn.Conv2d:
    if stem not in STEMS:
        raise ValueError(f"unknown stem {stem!r}; choose one of {', '.join(STEMS)}")
    kernel, stride, padding = STEMS[stem]
    # No bias: the BatchNorm right after it has its own shift.
    return nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding, bias=False)


def _stem_pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(kernel_size=3, stride=2, padding=1)


# --- torchvision-layout ResNet ----------------------------------------------------------------------------------

class BasicBlock(nn.Module):
    """Two 3×3 convs with BN; the shortcut adds the input (through ``downsample`` when the shape changes)."""

    expansion = 1  # output channels = channels × expansion

    def __init__(self, in_channels: int, channels: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, channels, stride)  # the stride sits here, as in torchvision
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1×1 reduce → 3×3 (carries the stride, "ResNet v1.5") → 1×1 expand ×4, each with BN, plus the shortcut."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = conv1x1(in_channels, channels)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels, stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = conv1x1(channels, out_channels)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


Block = type[BasicBlock] | type[Bottleneck]


class ResNet(nn.Module):
    """torchvision's ResNet: stem → layer1..layer4 (64, 128, 256, 512 channels × expansion) → avgpool → fc.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: number of blocks in layer1..layer4, e.g. [2, 2, 2, 2] for ResNet-18.
        num_classes: outputs of ``fc``.
        stem: "cifar" (Conv 3×3 s1 p1) or "imagenet" (Conv 7×7 s2 p3); both then BN → ReLU → MaxPool 3×3 s2 p1.
        in_channels: image channels.
        zero_init_residual: start each residual branch's last BN at zero, so every block begins as the identity
            (Goyal et al. 2017, +0.2-0.3% on ImageNet).
    """

    def __init__(self, block: Block, layers: list[int], num_classes: int = 10, stem: str = "cifar",
                 in_channels: int = 3, zero_init_residual: bool = False) -> None:
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"ResNet takes the block counts of its 4 stages, got {list(layers)}")
        self.conv1 = _stem_conv(stem, in_channels, 64)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = _stem_pool()
        self._channels = 64  # channels entering the next stage, advanced by _make_layer
        self.layer1 = self._make_layer(block, 64, layers[0], stride=1)
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        self._init_weights(zero_init_residual)

    def _make_layer(self, block: Block, channels: int, blocks: int, stride: int) -> nn.Sequential:
        out_channels = channels * block.expansion
        downsample = None
        if stride != 1 or self._channels != out_channels:
            # The shortcut must match the branch's shape to be added to it.
            downsample = nn.Sequential(conv1x1(self._channels, out_channels, stride), nn.BatchNorm2d(out_channels))
        stage = [block(self._channels, channels, stride, downsample)]
        stage += [block(out_channels, channels) for _ in range(1, blocks)]
        self._channels = out_channels
        return nn.Sequential(*stage)

    def _init_weights(self, zero_init_residual: bool) -> None:
        # He init for ReLU nets (fan_out, as torchvision); BN starts as the identity map.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _resnet(block: Block, layers: list[int], *, stem: str, zero_init_residual: bool, num_classes: int,
            input_shape: tuple[int, ...]) -> ResNet:
    return ResNet(block, layers, num_classes=num_classes, stem=stem, in_channels=input_shape[0],
                  zero_init_residual=zero_init_residual)


@register_model()
def resnet18(*, stem: str = "cifar", zero_init_residual: bool = False, num_classes: int = 10,
             input_shape: tuple[int, ...] = (3, 32, 32)) -> ResNet:
    """ResNet-18, CIFAR stem (11,173,962 params; huyvnphan/PyTorch_CIFAR10 layout, torchvision names).

    BasicBlock × [2, 2, 2, 2]. ``stem="imagenet"`` gives torchvision's 7×7 stride-2 stem instead.
    Source: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016.
    """
    return _resnet(BasicBlock, [2, 2, 2, 2], stem=stem, zero_init_residual=zero_init_residual,
                   num_classes=num_classes, input_shape=input_shape)


@register_model()
def resnet34(*, stem: str = "cifar", zero_init_residual: bool = False, num_classes: int = 10,
             input_shape: tuple[int, ...] = (3, 32, 32)) -> ResNet:
    """ResNet-34, CIFAR stem (21,282,122 params; huyvnphan/PyTorch_CIFAR10 layout, torchvision names).

    BasicBlock × [3, 4, 6, 3]. ``stem="imagenet"`` gives torchvision's 7×7 stride-2 stem instead.
    Source: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016.
    """
    return _resnet(BasicBlock, [3, 4, 6, 3], stem=stem, zero_init_residual=zero_init_residual,
                   num_classes=num_classes, input_shape=input_shape)


@register_model()
def resnet50(*, stem: str = "cifar", zero_init_residual: bool = False, num_classes: int = 10,
             input_shape: tuple[int, ...] = (3, 32, 32)) -> ResNet:
    """ResNet-50, CIFAR stem (23,520,842 params; huyvnphan/PyTorch_CIFAR10 layout, torchvision names).

    Bottleneck × [3, 4, 6, 3]. ``stem="imagenet"`` gives torchvision's 7×7 stride-2 stem instead.
    Source: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016.
    """
    return _resnet(Bottleneck, [3, 4, 6, 3], stem=stem, zero_init_residual=zero_init_residual,
                   num_classes=num_classes, input_shape=input_shape)


# --- d2l residual net -------------------------------------------------------------------------------------------

class Residual(nn.Module):
    """d2l's residual block: conv3×3 → BN → ReLU → conv3×3 → BN, plus the input, then ReLU.

    With ``use_1x1conv`` the input goes through a 1×1 conv (with the block's stride) before the addition, so
    channels and resolution may change. The convs keep their bias, as in d2l (``nn.LazyConv2d`` defaults).
    Same computation as ``BasicBlock``; the names differ so that each follows its source.
    """

    def __init__(self, in_channels: int, out_channels: int, use_1x1conv: bool = False, stride: int = 1) -> None:
        super().__init__()
        if not use_1x1conv and (stride != 1 or in_channels != out_channels):
            raise ValueError(f"Residual({in_channels}→{out_channels}, stride={stride}) changes the shape: "
                             "it needs use_1x1conv=True")
        self.conv1 = conv3x3(in_channels, out_channels, stride, bias=True)
        self.conv2 = conv3x3(out_channels, out_channels, bias=True)
        self.conv3 = conv1x1(in_channels, out_channels, stride, bias=True) if use_1x1conv else None
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.conv3 is not None:
            x = self.conv3(x)
        return self.relu(y + x)


def stage_blocks(blocks: int, stages: int) -> list[int]:
    """Spread `blocks` residual blocks over at most `stages` stages, earlier stages taking the remainder.

    >>> stage_blocks(5, 4), stage_blocks(8, 4), stage_blocks(10, 4), stage_blocks(2, 4)
    ([2, 1, 1, 1], [2, 2, 2, 2], [3, 3, 2, 2], [1, 1])
    """
    if blocks < 1 or stages < 1:
        raise ValueError(f"need at least one residual block and one stage, got blocks={blocks}, stages={stages}")
    used = min(blocks, stages)
    base, extra = divmod(blocks, used)
    return [base + (i < extra) for i in range(used)]


@register_model()
def d2l_resnet(*, blocks: int = 5, channels: tuple[int, ...] = (64, 128, 256, 512), stem: str = "cifar",
               num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32)) -> nn.Sequential:
    """d2l-style ResNet with a configurable number of residual blocks (seed 002 used 5 and 10).

    Layout: stem → stage1..stageN → global average pool → FC. The stem is that of the CIFAR ResNets
    (``"cifar"``: Conv 3×3 s1 → BN → ReLU → MaxPool 3×3 s2; ``"imagenet"``: d2l's own 7×7 s2 first conv).
    The ``blocks`` Residual blocks are spread over the stages (one per entry of ``channels``) as evenly as
    possible, earlier stages taking the remainder: 5 → [2, 1, 1, 1], 8 → [2, 2, 2, 2] (d2l's ResNet-18),
    10 → [3, 3, 2, 2]; fewer blocks than stages use only the first stages, one block each. The first block of
    every stage after the first halves the resolution and changes channels (stride 2, 1×1 conv shortcut),
    as d2l's ``resnet_block``.

    Args:
        blocks: total number of Residual blocks.
        channels: output channels of each stage.
        stem: "cifar" or "imagenet".
        num_classes, input_shape: filled from the dataset.

    Source: d2l.ai §8.6 "Residual Networks (ResNet) and ResNeXt".
    """
    if not channels:
        raise ValueError("d2l_resnet needs at least one stage in channels")
    body: list[tuple[str, nn.Module]] = [("stem", nn.Sequential(
        _stem_conv(stem, input_shape[0], channels[0]), nn.BatchNorm2d(channels[0]), nn.ReLU(), _stem_pool()))]
    in_channels = channels[0]
    for i, count in enumerate(stage_blocks(blocks, len(channels))):
        out_channels, stride = channels[i], (1 if i == 0 else 2)
        first = Residual(in_channels, out_channels, use_1x1conv=stride != 1 or in_channels != out_channels,
                         stride=stride)
        rest = [Residual(out_channels, out_channels) for _ in range(1, count)]
        body.append((f"stage{i + 1}", nn.Sequential(first, *rest)))
        in_channels = out_channels
    body += [("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(in_channels, num_classes))]
    return nn.Sequential(OrderedDict(body))
