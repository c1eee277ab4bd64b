"""Batch transforms for images stored as uint8: augment whole batches at once, then normalise to float32.

Augmentation runs on the batch's device with no per-sample Python loop (airbench style); its random numbers
are drawn on the generator's device (the engine passes a CPU generator) and then moved, so a seeded run
augments identically on CPU and CUDA.
"""
from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["NORMALIZE", "AUGMENT", "CROP_FILLS", "normalization", "ImageTransform", "random_crop", "random_flip",
           "TTA", "tta_views"]

# Per-channel (mean, std) of pixel values scaled to [0, 1].
NORMALIZE: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    # CIFAR-10 train-set statistics as used by huyvnphan/PyTorch_CIFAR10 (SPEC C), so its checkpoints see
    # the inputs they were trained on.
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2471, 0.2435, 0.2616)),
    # The PyTorch tutorial's Normalize((0.5,)*3, (0.5,)*3): maps [0, 1] to [-1, 1] (SPEC A and B).
    "half": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    # ImageNet statistics (torchvision's models), which akamaster/pytorch_resnet_cifar10 also trained its CIFAR
    # ResNets with: its published checkpoints expect them.
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    # Only the uint8 -> [0, 1] scaling.
    "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
}

AUGMENT = ("none", "crop", "flip", "crop_flip")
# What comes in at the edges of a shifted crop: black (torchvision's RandomCrop default) or the image mirrored
# (airbench's translations).
CROP_FILLS = ("zeros", "reflect")


def normalization(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) of the normalisation preset `name`; ValueError listing the presets otherwise."""
    try:
        return NORMALIZE[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown normalize preset {name!r}; valid: {', '.join(NORMALIZE)}") from None


def _draw_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator | None = None,
                fill: str = "zeros") -> torch.Tensor:
    """Random H×W crops of the padded batch, one offset per image (torchvision RandomCrop(padding=p)).

    Pads once, views every H×W window of each padded image (no copy), and picks each image's window, at an
    offset drawn in [0, 2p] for rows and columns, with one indexing call: each output image is its input
    shifted by at most `padding` pixels, with zeros (fill="zeros") or the mirrored image (fill="reflect")
    coming in at the edges.
    """
    if padding <= 0:
        return x
    b, c, h, w = x.shape
    dev = _draw_device(generator)
    dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator, device=dev).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator, device=dev).to(x.device)
    mode = "constant" if fill == "zeros" else "reflect"   # zeros: black, as torchvision
    padded = torch.nn.functional.pad(x, (padding, padding, padding, padding), mode=mode)
    windows = padded.unfold(2, h, 1).unfold(3, w, 1)        # B×C×(2p+1)×(2p+1)×H×W view
    return windows[torch.arange(b, device=x.device), :, dy, dx]  # B×C×H×W


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability `p`."""
    dev = _draw_device(generator)
    flip = (torch.rand(x.shape[0], generator=generator, device=dev) < p).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


class ImageTransform:
    """uint8 B×C×H×W (0..255, any device) -> float32 (x/255 - mean) / std on the same device.

    Args:
        mean, std: per-channel statistics of pixels scaled to [0, 1] (see ``NORMALIZE``).
        augment: "none", "crop", "flip" or "crop_flip"; applied only when ``train`` is true.
        padding: pixels of padding for the random crop (CIFAR convention: 4), i.e. the largest shift.
        fill: what the padding holds: "zeros" (black, the CIFAR convention) or "reflect" (mirrored edges).

    Matches ``nnstudy.data.base.BatchTransform``: ``transform(x, train, generator)``.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], augment: str = "none",
                 padding: int = 4, fill: str = "zeros") -> None:
        if augment not in AUGMENT:
            raise ValueError(f"unknown augment {augment!r}; valid: {', '.join(AUGMENT)}")
        if fill not in CROP_FILLS:
            raise ValueError(f"unknown crop fill {fill!r}; valid: {', '.join(CROP_FILLS)}")
        if len(mean) != len(std):
            raise ValueError(f"mean has {len(mean)} channels but std has {len(std)}")
        if any(s <= 0 for s in std):
            raise ValueError(f"std must be positive, got {tuple(std)}")
        if int(padding) != padding or padding < 0:
            raise ValueError(f"crop padding must be a non-negative integer (pixels), got {padding!r}")
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.augment = augment
        self.padding = int(padding)
        self.fill = fill
        # One fused multiply-add: x * scale + shift == (x / 255 - mean) / std.
        self._scale = torch.tensor([1.0 / (255.0 * s) for s in self.std]).view(1, -1, 1, 1)
        self._shift = torch.tensor([-m / s for m, s in zip(self.mean, self.std)]).view(1, -1, 1, 1)
        self._on_device: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def preset(cls, normalize: str = "none", augment: str = "none", padding: int = 4,
               fill: str = "zeros") -> "ImageTransform":
        """A transform from a normalisation preset name (``NORMALIZE``)."""
        mean, std = normalization(normalize)
        return cls(mean, std, augment, padding, fill)

    def _constants(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        # Copied to each device once, not per batch (a host-to-device copy per step would cost a sync).
        if device not in self._on_device:
            self._on_device[device] = (self._scale.to(device), self._shift.to(device))
        return self._on_device[device]

    def __call__(self, x: torch.Tensor, train: bool = False,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != len(self.mean):
            raise ValueError(f"expected a B×{len(self.mean)}×H×W batch, got shape {tuple(x.shape)}")
        if train and self.augment != "none":
            # Augment the uint8 batch: a quarter of the bytes of float32 to move around.
            if self.augment in ("crop", "crop_flip"):
                x = random_crop(x, self.padding, generator, self.fill)
            if self.augment in ("flip", "crop_flip"):
                x = random_flip(x, generator)
        scale, shift = self._constants(x.device)
        return torch.addcmul(shift, x.to(torch.float32), scale)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_on_device"] = {}  # device copies do not travel to other processes
        return state

    def __repr__(self) -> str:
        return (f"ImageTransform(mean={self.mean}, std={self.std}, augment={self.augment!r}, "
                f"padding={self.padding}, fill={self.fill!r})")


# ----------------------------------------------------------------------------------- test-time augmentation

TTA = ("none", "flip", "flip_translate")


def tta_views(x: torch.Tensor, mode: str) -> list[tuple[float, torch.Tensor]]:
    """(weight, view) pairs of a normalised image batch whose weighted logits make the test-time prediction.

    - "none": the batch itself;
    - "flip": the batch and its mirror image, ½ each;
    - "flip_translate" (airbench's TTA level 2): ½ for the flip pair, ½ for the flip pairs of the batch shifted
      one pixel up-left and one pixel down-right (mirrored edges): 6 forward passes.
    """
    if mode not in TTA:
        raise ValueError(f"unknown tta {mode!r}; valid: {', '.join(TTA)}")
    if mode == "none":
        return [(1.0, x)]
    views = [(0.5, x), (0.5, x.flip(3))]
    if mode == "flip":
        return views
    h, w = x.shape[2:]
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    shifted = [padded[:, :, :h, :w], padded[:, :, 2:, 2:]]
    return ([(0.5 * weight, view) for weight, view in views]
            + [(0.125, v) for s in shifted for v in (s, s.flip(3))])
