"""Typed run config: model / data / optim / train parts, loaded from YAML and overridden by dotted key=value.

    cfg = load_config("tutorial_cnn", ["optim.lr=0.01", "model.act=tanh"])

The ``model`` and ``data`` parts carry a registry name plus that builder's keyword arguments; those are checked
against the builder's signature (names and type annotations), so ``model.widht=2`` is an error that suggests
``model.width``. Every mistake is a one-line :class:`ConfigError` naming the key, what was expected and the
closest valid key.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, TypeAdapter, ValidationError

from .errors import ConfigError
from .registry import Registry, closest

__all__ = ["RunConfig", "ModelConfig", "DataConfig", "TaskConfig", "OptimConfig", "TrainConfig", "load_config",
           "apply_overrides", "resolve_builder_args", "config_to_dict"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(BaseModel):
    """A registered model name plus its builder's keyword arguments (checked against the builder)."""

    model_config = ConfigDict(extra="allow")
    name: str


class DataConfig(BaseModel):
    """A registered dataset name plus its builder's keyword arguments (checked against the builder)."""

    model_config = ConfigDict(extra="allow")
    name: str = "cifar10"


class TaskConfig(BaseModel):
    """A registered task name plus its constructor's keyword arguments (e.g. label_smoothing)."""

    model_config = ConfigDict(extra="allow")
    name: str = "classification"


class OptimConfig(_Part):
    name: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: PositiveFloat = 0.01
    momentum: float = Field(0.9, ge=0.0, lt=1.0)       # SGD only
    nesterov: bool = False                              # SGD only
    weight_decay: float = Field(0.0, ge=0.0)
    betas: tuple[float, float] = (0.9, 0.999)           # Adam/AdamW only
    schedule: Literal["none", "step", "cosine", "onecycle", "linear"] = "none"
    warmup_epochs: float = Field(0.0, ge=0.0)           # linear warm-up, in epochs (fractions allowed)
    warmup_from: float | None = Field(None, ge=0.0, le=1.0)  # lr multiplier at step 0; None: 1/25 onecycle, else ~0
    step_size: float = Field(30.0, gt=0.0)              # "step": epochs between decays
    gamma: float = Field(0.1, gt=0.0)                   # "step": factor per decay
    min_lr_ratio: float = Field(0.0, ge=0.0, le=1.0)    # "cosine"/"onecycle"/"linear": final lr as a fraction of lr
    # BatchNorm/LayerNorm parameters train at lr × this, with weight_decay / this (the same decay per step):
    # airbench's 64× for its BN shifts
    norm_lr_scale: PositiveFloat = 1.0
    lookahead: bool = False                             # airbench's lookahead averaging every 5 steps (engine/lookahead.py)


class TrainConfig(_Part):
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 128
    eval_batch_size: PositiveInt = 1000
    seed: int = 0
    device: str = "auto"                                # auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps
    threads: PositiveInt | None = None                  # torch intra-op threads; None keeps torch's default
    precision: Literal["fp32", "bf16"] = "fp32"          # bf16 = autocast on CPU and CUDA
    # NHWC tensors for conv nets; auto = on when the model has 2-D convolutions (benchmarks/training_formats.py)
    channels_last: bool | Literal["auto"] = "auto"
    checkpoint_every: float = Field(60.0, ge=0.0)       # seconds of training between mid-epoch checkpoints
    eval_every_steps: PositiveInt | None = None         # also evaluate on validation every N steps (steps.csv)
    test_every_epoch: bool = False                      # also score test after each epoch (curves only)
    eval_samples: PositiveInt | None = None             # in-training evaluations use a fixed subset this large
    # test-time augmentation of the final test (images): average the logits over flipped (and shifted) copies
    tta: Literal["none", "flip", "flip_translate"] = "none"


class RunConfig(_Part):
    name: str | None = None                             # run directory name under out_dir; None = generated
    out_dir: str = "runs"
    model: ModelConfig
    data: DataConfig = Field(default_factory=DataConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    task: TaskConfig = Field(default_factory=TaskConfig)


# --------------------------------------------------------------------------------------------------- loading

def load_config(source: str | Path | dict | None = None, overrides: list[str] | tuple[str, ...] = (),
                *, check_builders: bool = True) -> RunConfig:
    """A validated RunConfig from a YAML file, a registered model name or a dict, plus dotted overrides."""
    raw = _read_source(source)
    apply_overrides(raw, overrides)
    is_file = isinstance(source, Path) or (isinstance(source, str) and Path(source).is_file())
    cfg = _validate(raw, origin=str(source) if is_file else "config")
    if check_builders:
        from .data import DATASETS
        from .models import MODELS
        from .tasks import TASKS
        resolve_builder_args(cfg.model, MODELS, "model")
        resolve_builder_args(cfg.data, DATASETS, "data")
        resolve_builder_args(cfg.task, TASKS, "task")
    return cfg


def _read_source(source: str | Path | dict | None) -> dict:
    if source is None:
        return {}
    if isinstance(source, dict):
        return _deep_copy(source)
    text = str(source)
    path = Path(text)
    if text.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            raise ConfigError(f"{path}{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of config keys at the top level")
        return data
    return {"model": {"name": text}}   # a bare model name


def _deep_copy(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _deep_copy(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_deep_copy(v) for v in d]
    return d


def parse_value(text: str) -> Any:
    """YAML scalar semantics for an override value: 0.01 -> float, true -> bool, [1,2] -> list, null -> None."""
    try:
        return yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text


def apply_overrides(raw: dict, overrides: list[str] | tuple[str, ...]) -> dict:
    """Set dotted ``key=value`` pairs into the nested dict `raw` (in place)."""
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected key=value, e.g. optim.lr=0.01")
        node = raw
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {'.'.join(parts[:i + 1])} is a value, not a section")
            node = child
        node[parts[-1]] = parse_value(value)
    return raw


# ------------------------------------------------------------------------------------------------ validation

def _all_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys.append(prefix + name)
            keys += _all_keys(ann, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def _expected(err: dict) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "literal_error":
        return f"one of {ctx.get('expected')}"
    bounds = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
    if kind.startswith(("greater", "less")):
        return "a value " + " and ".join(f"{sym} {ctx[k]}" for k, sym in bounds.items() if k in ctx)
    names = {"float_parsing": "a number", "float_type": "a number", "int_parsing": "an integer",
             "int_type": "an integer", "int_from_float": "an integer", "bool_parsing": "true or false",
             "bool_type": "true or false", "string_type": "a string", "dict_type": "a mapping",
             "tuple_type": "a list", "missing": "a value", "too_short": "more items",
             "too_long": "fewer items"}
    return names.get(kind, err["msg"].lower())


def _validate(raw: dict, origin: str) -> RunConfig:
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            hint = closest(key, _all_keys(RunConfig))
            tip = f"; did you mean {hint!r}?" if hint else ""
            raise ConfigError(f"{origin}: unknown key {key!r}{tip}") from None
        if err["type"] == "missing" and key == "model":
            raise ConfigError(f"{origin}: no model given (set model.name, or pass a model name)") from None
        value = err.get("input")
        raise ConfigError(f"{origin}: {key}={value!r}: expected {_expected(err)}") from None


def resolve_builder_args(part: BaseModel, registry: Registry, section: str) -> dict[str, Any]:
    """Check a model/data part's extra keys against its builder's signature; coerce them to the annotated types.

    Returns the keyword arguments (coerced values written back into `part`).
    """
    entry = registry.get(part.name)
    params = _builder_params(entry.builder)
    given = dict(part.model_extra or {})
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key not in params:
            hint = closest(key, list(params))
            tip = f"; did you mean '{section}.{hint}'?" if hint else ""
            valid = ", ".join(params) or "none"
            raise ConfigError(f"unknown key '{section}.{key}' for {section} {part.name!r}{tip} "
                              f"(valid: {valid})")
        ann = params[key].annotation
        if ann is inspect.Parameter.empty:
            out[key] = value
            continue
        try:
            out[key] = TypeAdapter(ann).validate_python(value)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ConfigError(f"{section}.{key}={value!r}: expected {_type_name(ann)}"
                              f" ({_expected(err)})") from None
        setattr(part, key, out[key])
    return out


def _builder_params(fn: Callable) -> dict[str, inspect.Parameter]:
    sig = inspect.signature(fn, eval_str=True)
    return {n: p for n, p in sig.parameters.items()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def _type_name(ann: Any) -> str:
    return getattr(ann, "__name__", None) or str(ann).replace("typing.", "")


def builder_defaults(fn: Callable) -> dict[str, Any]:
    """The builder's keyword defaults (for the resolved config written into a run directory)."""
    return {n: p.default for n, p in _builder_params(fn).items() if p.default is not inspect.Parameter.empty}


def config_to_dict(cfg: RunConfig) -> dict:
    """Plain-YAML-friendly dict (tuples as lists)."""
    return _plain(cfg.model_dump(mode="python"))


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def dump_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
