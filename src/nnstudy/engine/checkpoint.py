"""Weights (safetensors) and resumable checkpoints (torch.save, loaded with weights_only=True).

Also imports published checkpoints: a plain state_dict ``.pt``/``.pth``, with or without DataParallel's
``module.`` prefix, or wrapped as ``{'state_dict': ...}`` / ``{'net': ...}`` / ``{'model': ...}``; or a
``.safetensors`` file. Mismatched keys or shapes are reported by name.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import CheckpointError
from ..io import atomic_path

__all__ = ["save_weights", "load_weights", "read_state_dict", "save_checkpoint", "load_checkpoint"]

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "net", "model")


def save_weights(model: nn.Module, path: str | Path) -> None:
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a safetensors file or a (possibly wrapped, possibly `module.`-prefixed) torch state_dict."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such weights file")
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "unpickling failed"
        raise CheckpointError(f"{path}: refused or unreadable checkpoint ({first}); only tensors and plain "
                              f"containers load (weights_only=True)") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({str(e).splitlines()[0]})") from None
    for key in _WRAPPER_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: expected a state_dict of tensors (optionally under "
                              f"{', '.join(repr(k) for k in _WRAPPER_KEYS)})")
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def load_weights(model: nn.Module, path: str | Path) -> None:
    """Load weights strictly; any missing, unexpected or wrongly shaped tensor is a CheckpointError by name."""
    state = read_state_dict(path)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} ({_few(missing)})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} ({_few(unexpected)})")
        if shapes:
            parts.append(f"shape mismatch {len(shapes)} ({_few(shapes)})")
        raise CheckpointError(f"{path}: does not fit {type(model).__name__}: " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


def _few(items: list[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (f", … {len(items) - n} more" if len(items) > n else "")


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as e:
        raise CheckpointError(f"{path}: unreadable checkpoint ({str(e).splitlines()[0]}); "
                              f"delete it to start the run again") from None
