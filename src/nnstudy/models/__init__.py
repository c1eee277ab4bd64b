"""The model zoo: one file per family, each registering small builders by name.

Every builder takes keyword arguments a config can carry (``act="tanh"``, ``blocks=10``, ``width=2``). Builders
that need to know the data accept ``input_shape`` (C, H, W) and/or ``num_classes``; the engine fills those from
the dataset unless the config sets them.
"""
from __future__ import annotations

from typing import Any, Callable

from torch import nn

from ..errors import RegistryError
from ..registry import Entry, Registry

__all__ = ["MODELS", "register_model", "build_model", "list_models", "count_params"]

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")
register_model = MODELS.register


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model `name` with builder keyword arguments."""
    return MODELS.get(name).builder(**kwargs)


def list_models(pattern: str | None = None, *, errors: dict[str, str] | None = None) -> list[Entry]:
    """The models whose names match `pattern`; an installed entry point that fails to load is left out, and its
    one-line error put in `errors` (by name) when given, so one broken package does not hide the others."""
    entries = []
    for name in MODELS.names(pattern):
        try:
            entries.append(MODELS.get(name))
        except RegistryError as e:
            if errors is None:
                raise
            errors[name] = str(e)
    return entries


def count_params(model: nn.Module) -> int:
    """Trainable parameters: sum(p.numel()) over parameters with requires_grad."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# Importing the family modules registers their builders (as timm and torchvision do).
from . import airbench, alexnet, cnn, cnn1d, mlp, recurrent, resnet, resnet_cifar  # noqa: E402,F401
