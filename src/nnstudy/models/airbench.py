"""A fast CIFAR-10 network in the style of Keller Jordan's airbench94 (arXiv:2404.00498), for the
``cifar-speedrun`` recipe.

Layers: block → net → named builder, as elsewhere in the zoo.

- :class:`Whitening` — a frozen 2×2 convolution whose filters are the eigenvectors of the training images' 2×2
  patch covariance, scaled by 1/√eigenvalue (and their negatives): decorrelated inputs from the first step.
  It needs data, so the engine calls the net's ``init_from_data`` with training images before the first step.
- :class:`ConvGroup` — Conv3×3 → MaxPool2 → BN → act → Conv3×3 → BN → act.
- :class:`AirbenchNet` — whitening → act → three ConvGroups → MaxPool3 → Linear → × scale.

The BatchNorms learn only their shift (the scale is fixed at 1: with the logit scale below it adds nothing but
steps), keep a fast running average (PyTorch momentum 0.4 = airbench's 0.6), and use eps 1e-12.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn

from . import register_model
from .layers import conv3x3, get_act

__all__ = ["Whitening", "ConvGroup", "AirbenchNet", "airbench"]


class Whitening(nn.Conv2d):
    """k×k convolution to 2·C·k² channels, initialised by :meth:`fit` to whiten k×k patches.

    The weights stay frozen (requires_grad False); the bias trains like any other parameter.
    """

    def __init__(self, in_channels: int = 3, kernel_size: int = 2, eps: float = 5e-4) -> None:
        patch = in_channels * kernel_size ** 2
        super().__init__(in_channels, 2 * patch, kernel_size, padding=0, bias=True)
        self.weight.requires_grad_(False)
        self.eps = eps

    @torch.no_grad()
    def fit(self, images: torch.Tensor) -> None:
        """Set the filters from normalised images (N×C×H×W): W = ±Vᵀ / √(λ + eps) over the patch covariance
        eigen-pairs (λ, V), so the 2·C·k² outputs of a patch have unit variance and no correlation."""
        c, k = self.in_channels, self.kernel_size[0]
        patches = images.float().unfold(2, k, 1).unfold(3, k, 1)           # N×C×H'×W'×k×k
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * k * k).double()
        # the second moment, not the centred covariance (airbench): inputs are normalised, and the trained bias
        # absorbs what mean is left
        cov = patches.T @ patches / len(patches)
        eigenvalues, eigenvectors = torch.linalg.eigh(cov)                  # ascending
        filters = (eigenvectors.T / torch.sqrt(eigenvalues + self.eps)[:, None]).flip(0)
        filters = filters.reshape(-1, c, k, k).to(self.weight.dtype)
        self.weight.copy_(torch.cat([filters, -filters]))
        self.bias.zero_()


def _batch_norm(channels: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels, eps=1e-12, momentum=0.4)
    bn.weight.requires_grad_(False)   # scale fixed at 1; only the shift learns
    return bn


def _dirac_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """3×3 conv whose first in_channels filters start as the identity (the rest at PyTorch's default init):
    at initialisation each block passes its input through, which lets the high learning rate start safely."""
    conv = conv3x3(in_channels, out_channels)
    with torch.no_grad():
        nn.init.dirac_(conv.weight[:min(in_channels, out_channels)])
    return conv


class ConvGroup(nn.Sequential):
    """Conv3×3 → MaxPool2 → BN → act → Conv3×3 → BN → act: halves H and W."""

    def __init__(self, in_channels: int, out_channels: int, act: str = "gelu") -> None:
        super().__init__(OrderedDict(
            conv1=_dirac_conv(in_channels, out_channels), pool=nn.MaxPool2d(2),
            norm1=_batch_norm(out_channels), act1=get_act(act),
            conv2=_dirac_conv(out_channels, out_channels), norm2=_batch_norm(out_channels), act2=get_act(act),
        ))


class AirbenchNet(nn.Module):
    """Whitening → act → ConvGroup × 3 → MaxPool3 → Linear (no bias) → × scale."""

    init_samples = 5000   # images for init_from_data (airbench: 5,000)

    def __init__(self, widths: Sequence[int] = (64, 256, 256), num_classes: int = 10, in_channels: int = 3,
                 act: str = "gelu", scale: float = 1 / 9, whiten_kernel: int = 2) -> None:
        super().__init__()
        self.whiten = Whitening(in_channels, whiten_kernel)
        self.act = get_act(act)
        groups, width = [], self.whiten.out_channels
        for out in widths:
            groups.append(ConvGroup(width, out, act))
            width = out
        self.groups = nn.Sequential(*groups)
        self.pool = nn.AdaptiveMaxPool2d(1)   # the 3×3 map left at 32×32 input: airbench's MaxPool2d(3)
        self.head = nn.Linear(width, num_classes, bias=False)
        self.scale = scale   # logits × 1/9: a temperature that suits label smoothing 0.2 (airbench)

    @torch.no_grad()
    def init_from_data(self, images: torch.Tensor) -> None:
        """Data-dependent initialisation (called by the engine once, before training, with up to
        ``init_samples`` normalised training images): fit the whitening filters."""
        self.whiten.fit(images)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.groups(self.act(self.whiten(x)))
        return self.head(self.pool(x).flatten(1)) * self.scale


@register_model(tags=("image", "cnn", "cifar"))
def airbench(*, widths: Sequence[int] = (64, 256, 256), act: str = "gelu", scale: float = 1 / 9,
             whiten_kernel: int = 2, num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32)
             ) -> AirbenchNet:
    """airbench94's network (1.97 M params at the default widths): whitening, three conv groups, linear head.

    Args:
        widths: output channels of the three conv groups (airbench94: 64, 256, 256).
        act: activation after the whitening and every BN (airbench: GELU).
        scale: multiplier of the logits (airbench: 1/9).
        whiten_kernel: size of the whitening patches (2: 2·3·2² = 24 whitened channels).
        num_classes, input_shape: filled from the dataset.

    Trained by ``nnstudy run cifar-speedrun``: SGD-Nesterov, label smoothing 0.2, high learning rate for the
    BN shifts (``optim.norm_lr_scale``), triangular schedule, flip + 2-pixel reflect translations, and test-time
    flips and translations (``train.tta``). Source: K. Jordan, "94% on CIFAR-10 in 3.29 seconds on a single
    GPU", arXiv:2404.00498, 2024 (github.com/KellerJordan/cifar10-airbench).
    """
    if len(widths) == 0 or any(int(w) < 1 for w in widths):
        raise ValueError(f"widths must be positive channel counts, got {list(widths)}")
    return AirbenchNet([int(w) for w in widths], num_classes, input_shape[0], act, scale, whiten_kernel)
