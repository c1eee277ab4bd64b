"""Turn a validated RunConfig into its parts: dataset, model, task (registry look-ups, nothing else)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from ..config import RunConfig, builder_defaults, resolve_builder_args
from ..data import DATASETS
from ..data.base import Dataset
from ..errors import ConfigError, NnstudyError
from ..models import MODELS
from ..tasks import TASKS, Task

__all__ = ["Parts", "build_parts", "build_data", "build_model_from_config", "resolve_config"]

# Builder arguments the engine fills from the dataset unless the config sets them.
_FROM_DATA = ("input_shape", "num_classes")


@dataclass
class Parts:
    data: Dataset
    model: nn.Module
    task: Task


def resolve_config(cfg: RunConfig, data: Dataset) -> RunConfig:
    """Fill every builder default (and input_shape/num_classes from the data) into `cfg`, in place."""
    for part, registry, section in ((cfg.model, MODELS, "model"), (cfg.data, DATASETS, "data"),
                                    (cfg.task, TASKS, "task")):
        resolve_builder_args(part, registry, section)
        fn = registry.get(part.name).builder
        for key, value in builder_defaults(fn).items():
            if key not in (part.model_extra or {}):
                if part is cfg.model and key in _FROM_DATA and getattr(data.info, key, None) is not None:
                    value = getattr(data.info, key)
                setattr(part, key, value)
    return cfg


def _call(section: str, name: str, fn: Any, kwargs: dict[str, Any]) -> Any:
    try:
        return fn(**kwargs)
    except NnstudyError:
        raise
    except (ValueError, TypeError) as e:   # builders reject bad combinations with ValueError
        raise ConfigError(f"{section} {name!r}: {e}") from None


def build_data(cfg: RunConfig) -> Dataset:
    kwargs = resolve_builder_args(cfg.data, DATASETS, "data")
    return _call("data", cfg.data.name, DATASETS.get(cfg.data.name).builder, kwargs)


def build_model_from_config(cfg: RunConfig) -> nn.Module:
    """The model alone (no data): builder defaults fill whatever the config leaves unset."""
    kwargs = resolve_builder_args(cfg.model, MODELS, "model")
    fn = MODELS.get(cfg.model.name).builder
    for key, value in builder_defaults(fn).items():
        if key not in kwargs:
            setattr(cfg.model, key, value)
    return _call("model", cfg.model.name, fn, dict(cfg.model.model_extra))


def build_parts(cfg: RunConfig, data: Dataset | None = None) -> Parts:
    """Dataset, model and task for `cfg`; resolves `cfg` in place so it can be written to the run directory."""
    data = data if data is not None else build_data(cfg)
    resolve_config(cfg, data)
    model = _call("model", cfg.model.name, MODELS.get(cfg.model.name).builder, dict(cfg.model.model_extra))
    task = _call("task", cfg.task.name, TASKS.get(cfg.task.name).builder, dict(cfg.task.model_extra))
    task.setup(data.info)
    return Parts(data, model, task)
