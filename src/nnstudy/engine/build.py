"""Turn a config into its parts: dataset, model, task (registry look-ups and builder calls, nothing else).

The config is resolved first (:func:`nnstudy.resolution.resolve`, a no-op for one already resolved); the parts come
with the complete config they were built from, the one a run directory records.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..config import RunConfig
from ..data import DATASETS
from ..data.base import Dataset
from ..errors import ConfigError, NnstudyError, clip
from ..models import MODELS
from ..resolution import resolve
from ..tasks import TASKS, Task
from .runtime import Runtime

__all__ = ["Parts", "build_parts", "build_data", "build_model", "check_fit"]


@dataclass(frozen=True)
class Parts:
    data: Dataset
    model: nn.Module
    task: Task
    config: RunConfig   # complete: every builder default, and what the data implied, filled in


def _call(section: str, name: str, fn: Any, kwargs: dict[str, Any]) -> Any:
    try:
        return fn(**kwargs)
    except NnstudyError:
        raise
    except (ValueError, TypeError) as e:   # builders reject bad combinations with ValueError
        raise ConfigError(f"{section} {name!r}: {clip(str(e), 200)}") from None
    except (MemoryError, RuntimeError) as e:   # e.g. model.width=1000000: terabytes of weights
        if not isinstance(e, MemoryError) and "alloc" not in str(e):
            raise
        raise ConfigError(f"{section} {name!r}: does not fit in memory with these arguments "
                          f"({clip(str(e), 120)})") from None


def build_data(cfg: RunConfig) -> Dataset:
    """The dataset `cfg` names, built with its arguments."""
    cfg = resolve(cfg)
    return _call("data", cfg.data.name, DATASETS.get(cfg.data.name).builder, dict(cfg.data.model_extra))


def build_model(cfg: RunConfig) -> nn.Module:
    """The model `cfg` names, built with its arguments (the builder's defaults for those it leaves unset; no data
    is read, so a model that needs input_shape or num_classes from the data needs them in `cfg` too)."""
    cfg = resolve(cfg)
    model = _call("model", cfg.model.name, MODELS.get(cfg.model.name).builder, dict(cfg.model.model_extra))
    if not isinstance(model, nn.Module):   # a user's callable (import path, entry point) may return anything
        raise ConfigError(f"model {clip(cfg.model.name, quote=True)}: returned a {type(model).__name__}, "
                          f"not a torch.nn.Module")
    return model


def build_parts(cfg: RunConfig, data: Dataset | None = None) -> Parts:
    """Dataset (`data` if given), model and task for `cfg`, with the complete config they were built from."""
    data = data if data is not None else build_data(cfg)
    cfg = resolve(cfg, data.info)
    model = build_model(cfg)
    task = _call("task", cfg.task.name, TASKS.get(cfg.task.name).builder, dict(cfg.task.model_extra))
    if not isinstance(task, Task):
        raise ConfigError(f"task {clip(cfg.task.name, quote=True)}: returned a {type(task).__name__}, not a "
                          f"nnstudy.tasks.Task")
    _call("task", cfg.task.name, task.setup, {"data": data})
    return Parts(data, model, task, cfg)


@torch.no_grad()
def check_fit(model: nn.Module, task: Task, data: Dataset, runtime: Runtime, cfg: RunConfig) -> None:
    """Two training samples through the model and the task's loss before anything is written: a model whose
    input or output does not fit the data (another image size, too few classes) is one line, not a traceback an
    epoch in. In eval mode: no dropout, no batch statistics, no random numbers drawn."""
    split = data.train
    x, y = split.inputs[:2].to(runtime.device), split.targets[:2].to(runtime.device)
    g = split.groups[:2].to(runtime.device) if split.groups is not None else None
    was_training = model.training
    model.eval()
    try:
        task.compute(model, runtime.inputs(data.transform(x, False, None)), y, g)
    except (RuntimeError, IndexError, ValueError) as e:
        raise ConfigError(f"model {clip(cfg.model.name, quote=True)} does not fit dataset {cfg.data.name!r} "
                          f"(inputs {tuple(x.shape[1:])}, {data.info.num_classes or 'no'} classes) for task "
                          f"{cfg.task.name!r}: {clip(' '.join(str(e).split()), 200)}") from None
    finally:
        model.train(was_training)
