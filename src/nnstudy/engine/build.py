"""Turn a validated RunConfig into its parts: dataset, model, task (registry look-ups, nothing else)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from ..config import RunConfig, builder_defaults, resolve_builder_args
from ..data import DATASETS
from ..data.base import Dataset
from ..errors import ConfigError, NnstudyError, clip
from ..models import MODELS
from ..tasks import TASKS, Task

__all__ = ["Parts", "build_parts", "build_data", "build_model_from_config", "resolve_config", "sources"]

# Builder arguments the engine fills from the dataset unless the config sets them.
_FROM_DATA = ("input_shape", "num_classes")


@dataclass
class Parts:
    data: Dataset
    model: nn.Module
    task: Task


def _fill_defaults(part: Any, registry: Any, section: str, given: dict[str, Any] | None = None) -> None:
    """Check `part`'s builder arguments, then set every builder default it leaves unset (`given` first)."""
    resolve_builder_args(part, registry, section)
    for key, value in builder_defaults(registry.get(part.name).builder).items():
        if key not in (part.model_extra or {}):
            setattr(part, key, (given or {}).get(key, value))


def resolve_config(cfg: RunConfig, data: Dataset) -> RunConfig:
    """Fill every builder default (and input_shape/num_classes from the data) into `cfg`, in place."""
    from_data = {k: getattr(data.info, k) for k in _FROM_DATA if getattr(data.info, k, None) is not None}
    if cfg.task.name is None:   # the dataset says what its targets are (energy: forecasting)
        cfg.task.name = data.info.task
    _fill_defaults(cfg.model, MODELS, "model", from_data)
    _fill_defaults(cfg.data, DATASETS, "data")
    _fill_defaults(cfg.task, TASKS, "task")
    return cfg


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
    kwargs = resolve_builder_args(cfg.data, DATASETS, "data")
    return _call("data", cfg.data.name, DATASETS.get(cfg.data.name).builder, kwargs)


def _model(cfg: RunConfig) -> nn.Module:
    model = _call("model", cfg.model.name, MODELS.get(cfg.model.name).builder, dict(cfg.model.model_extra))
    if not isinstance(model, nn.Module):   # a user's callable (import path, entry point) may return anything
        raise ConfigError(f"model {clip(cfg.model.name, quote=True)}: returned a {type(model).__name__}, "
                          f"not a torch.nn.Module")
    return model


def build_model_from_config(cfg: RunConfig) -> nn.Module:
    """The model alone (no data): builder defaults fill whatever the config leaves unset."""
    _fill_defaults(cfg.model, MODELS, "model")
    return _model(cfg)


def build_parts(cfg: RunConfig, data: Dataset | None = None) -> Parts:
    """Dataset, model and task for `cfg`; resolves `cfg` in place so it can be written to the run directory."""
    data = data if data is not None else build_data(cfg)
    resolve_config(cfg, data)
    model = _model(cfg)
    task = _call("task", cfg.task.name, TASKS.get(cfg.task.name).builder, dict(cfg.task.model_extra))
    if not isinstance(task, Task):
        raise ConfigError(f"task {clip(cfg.task.name, quote=True)}: returned a {type(task).__name__}, not a "
                          f"nnstudy.tasks.Task")
    _call("task", cfg.task.name, task.setup, {"data": data})
    return Parts(data, model, task)


def sources(cfg: RunConfig) -> dict[str, Any]:
    """Where the model, dataset and task builders come from (nnstudy's zoo, or a module, package and version):
    recorded in summary.json, so a run's code can be found again."""
    return {"model": MODELS.get(cfg.model.name).source(), "data": DATASETS.get(cfg.data.name).source(),
            "task": TASKS.get(cfg.task.name).source()}
