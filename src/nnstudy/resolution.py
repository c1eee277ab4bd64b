"""Config resolution, in one pure step: a parsed config in, a new checked or complete config out.

    cfg = load_config("mlp", ["model.width=2"])   # parse_config + resolve: imports run, arguments checked
    full = resolve(cfg, data.info)                 # + every builder default, what the dataset implies

Two stages, because some of a run's config is known only once its dataset is built (the input shape, the number
of classes, the task its targets imply):

- **checked** — the modules in ``imports`` are imported (their ``@register_*`` decorators run); the model's, the
  dataset's and (when named) the task's arguments are bound by their registry entries (zoo name, import path or
  entry point alike): unknown keys and wrong types are one-line errors. Nothing is built.
- **complete** — given the dataset's :class:`~nnstudy.data.base.DataInfo`: the task is the one the data implies
  unless the config names one; ``input_shape`` and ``num_classes`` come from the data unless the config sets them;
  every other builder default is written out. This is the config a run directory records.

The input is never changed, and resolving a config twice to the same stage checks nothing twice.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .arguments import parameters
from .config import RunConfig, parse_config

if TYPE_CHECKING:
    from .data.base import DataInfo

__all__ = ["load_config", "resolve"]

# Builder arguments the data fills unless the config sets them.
_FROM_DATA = ("input_shape", "num_classes")
_STAGES = ("parsed", "checked", "complete")


def load_config(source: str | Path | dict | None = None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """A checked RunConfig from a YAML file, a registered model name or a dict, plus dotted ``key=value``
    overrides (see :func:`resolve`)."""
    return resolve(parse_config(source, overrides))


def _registries() -> dict[str, Any]:
    from .data import DATASETS
    from .models import MODELS
    from .tasks import TASKS
    return {"model": MODELS, "data": DATASETS, "task": TASKS}


def resolve(cfg: RunConfig, data: DataInfo | None = None) -> RunConfig:
    """`cfg` checked (without `data`) or complete (with the dataset's info), as a new config; see the module
    docstring."""
    want = "complete" if data is not None else "checked"
    if _STAGES.index(cfg.stage) >= _STAGES.index(want):
        return cfg
    if cfg.imports:
        from .plugins import import_modules  # runs the user's code: see docs/your-own-model.md
        import_modules(cfg.imports)
    registries = _registries()
    raw = cfg.model_dump()   # (not config_to_dict: the arguments keep the types their binding gave them)
    if cfg.stage == "parsed":
        for section in ("model", "data", "task"):
            if raw[section]["name"] is not None:   # a task left unnamed is bound once the data names it
                raw[section] = _bound(registries[section], raw[section], section)
    if data is not None:
        from_data = {k: getattr(data, k) for k in _FROM_DATA if getattr(data, k, None) is not None}
        if raw["task"]["name"] is None:   # the dataset says what its targets are (energy: forecasting)
            raw["task"] = _bound(registries["task"], {**raw["task"], "name": data.task}, "task")
        for section in ("model", "data", "task"):
            raw[section] = _completed(registries[section], raw[section], from_data if section == "model" else {})
    return RunConfig.model_validate(raw).with_stage(want)


def _bound(registry: Any, part: dict[str, Any], section: str) -> dict[str, Any]:
    name = part["name"]
    given = {k: v for k, v in part.items() if k != "name"}
    return {"name": name, **registry.get(name).bind(given, section)}


def _completed(registry: Any, part: dict[str, Any], from_data: dict[str, Any]) -> dict[str, Any]:
    """`part` with every builder default filled (`from_data` before the builder's own), in signature order; what
    the config sets wins."""
    entry = registry.get(part["name"])
    params = parameters(entry.builder)
    filled = {**entry.defaults(), **{k: v for k, v in from_data.items() if k in params}, **part}
    return {k: filled[k] for k in dict.fromkeys(["name", *params, *part]) if k in filled}


def sources(cfg: RunConfig) -> dict[str, Any]:
    """Where the model, dataset and task builders come from (nnstudy's zoo, or a module, package and version):
    recorded in summary.json, so a run's code can be found again."""
    registries = _registries()
    return {section: registries[section].get(getattr(cfg, section).name).source()
            for section in ("model", "data", "task")}
