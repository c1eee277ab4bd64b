"""Device choice, threads, seeds and memory format: the hardware helpers engine/runtime.py puts together."""
from __future__ import annotations

import random

import torch

from ..errors import ConfigError, clip

__all__ = ["pick_device", "set_threads", "seed_everything", "to_memory_format", "use_channels_last"]


def pick_device(name: str = "auto") -> torch.device:
    """'auto' = cuda > mps > cpu; otherwise the named device, checked to exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"train.device={clip(name, quote=True)}: expected auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device={clip(name, quote=True)}: CUDA is not available on this machine "
                          f"(use auto or cpu)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"train.device={clip(name, quote=True)}: only {torch.cuda.device_count()} CUDA "
                          f"device(s) here")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"train.device={clip(name, quote=True)}: MPS is not available on this machine")
    return dev


def set_threads(threads: int | None) -> None:
    if threads:
        torch.set_num_threads(threads)


def seed_everything(seed: int) -> None:
    """Seed Python's and torch's global generators (dropout, init). Data order uses its own generators."""
    random.seed(seed)
    torch.manual_seed(seed)   # also seeds every CUDA device


def use_channels_last(setting: bool | str, model: torch.nn.Module) -> bool:
    """train.channels_last resolved for `model`: "auto" means on for models with 2-D convolutions, whose steps
    it makes faster on CPU (benchmarks/training_formats.py; docs/benchmarks.md) as on CUDA; off otherwise."""
    if setting == "auto":
        return any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    return bool(setting)


def to_memory_format(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    if channels_last and x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x
