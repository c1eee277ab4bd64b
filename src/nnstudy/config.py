"""Typed run config: model / data / optim / train / task parts, read from YAML and overridden by dotted key=value.

    cfg = parse_config("tutorial_cnn", ["optim.lr=0.01", "model.act=tanh"])

This module is the schema, YAML reading and overrides only: it knows no registry. The ``model``, ``data`` and
``task`` parts carry a name plus that builder's keyword arguments, which :func:`nnstudy.resolution.resolve` checks
against the builder's signature (``model.widht=2`` suggests ``model.width``) and completes into a new config.
Every mistake is a one-line :class:`ConfigError` naming the key, what was expected and the closest valid key.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PrivateAttr,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError, clip, closest, expected_text
from .io import read_user_text
from .names import check_name

__all__ = ["RunConfig", "ModelConfig", "DataConfig", "TaskConfig", "OptimConfig", "TrainConfig", "parse_config",
           "apply_overrides", "config_to_dict", "read_yaml"]


# Strict where a wrong type would silently change the run: `batch_size: true` must not train at batch 1, nor
# `nesterov: 1` pass as true. (Floats still accept integers: `lr: 1` is 1.0.)
PositiveInt = Annotated[StrictInt, Field(gt=0)]
Float = Annotated[float, Field(strict=True, allow_inf_nan=False)]   # `lr: .inf` is no learning rate
Bool = StrictBool


# Frozen: a config is resolved once into a new object (nnstudy.resolution.resolve) and never changed in place.
class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(BaseModel):
    """A registered model name plus its builder's keyword arguments (checked against the builder)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str


class DataConfig(BaseModel):
    """A registered dataset name plus its builder's keyword arguments (checked against the builder)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = "cifar10"


class TaskConfig(BaseModel):
    """A registered task name plus its constructor's keyword arguments (e.g. label_smoothing)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str | None = None   # None: the task the dataset implies (DataInfo.task; classification for most)


class OptimConfig(_Part):
    name: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: Annotated[PositiveFloat, Field(strict=True, allow_inf_nan=False)] = 0.01
    momentum: Float = Field(0.9, ge=0.0, lt=1.0)       # SGD only
    nesterov: Bool = False                              # SGD only
    weight_decay: Float = Field(0.0, ge=0.0)
    betas: tuple[Float, Float] = (0.9, 0.999)           # Adam/AdamW only
    schedule: Literal["none", "step", "multistep", "cosine", "onecycle", "linear"] = "none"
    warmup_epochs: Float = Field(0.0, ge=0.0)           # linear warm-up, in epochs (fractions allowed)
    warmup_from: Float | None = Field(None, ge=0.0, le=1.0)  # lr multiplier at step 0; None: 1/25 onecycle, else ~0
    step_size: Float = Field(30.0, gt=0.0)              # "step": epochs between decays
    gamma: Float = Field(0.1, gt=0.0)                   # "step"/"multistep": factor per decay
    # "multistep": decay by gamma at each of these fractions of training (He et al.'s CIFAR ResNets: [0.5, 0.75])
    milestones: list[Annotated[Float, Field(gt=0.0, lt=1.0)]] = Field(default_factory=list)
    min_lr_ratio: Float = Field(0.0, ge=0.0, le=1.0)    # "cosine"/"onecycle"/"linear": final lr as a fraction of lr
    # BatchNorm/LayerNorm parameters train at lr × this, with weight_decay / this (the same decay per step):
    # airbench's 64× for its BN shifts
    norm_lr_scale: Annotated[PositiveFloat, Field(strict=True, allow_inf_nan=False)] = 1.0
    lookahead: Bool = False                             # airbench's lookahead averaging every 5 steps

    @model_validator(mode="after")
    def _milestones_for_multistep(self) -> "OptimConfig":
        if self.schedule == "multistep" and not self.milestones:
            raise ConfigError("optim.schedule=multistep needs optim.milestones, fractions of training in (0, 1), "
                             "e.g. [0.5, 0.75]")
        if list(self.milestones) != sorted(set(self.milestones)):
            raise ConfigError(f"optim.milestones must increase: got {list(self.milestones)}")
        return self


class TrainConfig(_Part):
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 128
    eval_batch_size: PositiveInt = 1000
    seed: Annotated[StrictInt, Field(ge=0, le=2**32 - 1)] = 0   # NumPy's range; the data generators derive from it
    device: str = "auto"                                # auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps
    threads: PositiveInt | None = None                  # torch intra-op threads; None keeps torch's default
    # processes on this machine that train the run together (DDP, docs/cluster.md); batch_size stays the global batch
    nproc: PositiveInt = 1
    # auto: decided from the hardware (bf16 where the CPU or GPU has it natively, else fp32; engine/runtime.py);
    # bf16 / fp16 = autocast on CPU and CUDA (fp16 with a gradient scaler)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    # NHWC tensors for conv nets; auto = on when the model has 2-D convolutions (benchmarks/training_formats.py)
    channels_last: Bool | Literal["auto"] = "auto"
    # torch.compile (inductor) of the model the training step runs; evaluation stays eager. Off by default: on a
    # Zen 4 CPU it made airbench94 and the small nets 17-38 % slower, ResNet-18 and the energy GRU 4-7 % faster
    # (benchmarks/compile_speed.py)
    compile: Bool = False
    # seconds of training between mid-epoch checkpoints: 0 = after every step, null = only at epoch ends
    checkpoint_every: Float | None = Field(60.0, ge=0.0)
    eval_every_steps: PositiveInt | None = None         # also evaluate on validation every N steps (steps.csv)
    # also score test after each epoch and at each eval_every_steps evaluation (curves only: selection is on val)
    test_every_epoch: Bool = False
    eval_samples: PositiveInt | None = None             # in-training evaluations use a fixed subset this large
    # test-time augmentation of the final test (images): average the logits over flipped (and shifted) copies
    tta: Literal["none", "flip", "flip_translate"] = "none"
    # experiment trackers that receive the run as it trains (docs/tracking.md); each is an optional extra
    log: list[Literal["mlflow", "tensorboard", "wandb"]] = Field(default_factory=list)

    @field_validator("log")
    @classmethod
    def _each_tracker_once(cls, log: list[str]) -> list[str]:
        return list(dict.fromkeys(log))


class RunConfig(_Part):
    name: str | None = None                             # run directory name under out_dir; None = generated
    out_dir: str = "runs"
    # modules imported before the builders are looked up (their @register_model etc. run): the user's own code
    imports: list[str] = Field(default_factory=list)
    # labels the trackers show beside the run (a study adds study= and variant=); they change nothing it computes
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name_is_one_folder(cls, name: str | None) -> str | None:
        # ConfigError is no ValueError: pydantic lets it through as it is, one line naming the name
        return None if name is None else check_name(name)
    model: ModelConfig
    data: DataConfig = Field(default_factory=DataConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    task: TaskConfig = Field(default_factory=TaskConfig)
    # how far nnstudy.resolution.resolve has taken this config: "parsed" (the schema only), "checked" (builder arguments
    # checked), "complete" (every builder default and what the dataset implies filled in)
    _stage: str = PrivateAttr("parsed")

    @property
    def stage(self) -> str:
        return self._stage

    def with_stage(self, stage: str) -> "RunConfig":
        """This config marked as resolved to `stage` (for nnstudy.resolution only)."""
        self._stage = stage   # private, not a field: the config's values stay as they were
        return self


# --------------------------------------------------------------------------------------------------- loading

def parse_config(source: str | Path | dict | None = None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """A RunConfig from a YAML file, a model name or a dict, plus dotted overrides: the schema checked, builder
    arguments not yet (nnstudy.resolution.resolve knows the registries; nnstudy.load_config does both)."""
    raw = _read_source(source)
    apply_overrides(raw, overrides)
    is_file = isinstance(source, Path) or (isinstance(source, str) and Path(source).is_file())
    return _validate(raw, origin=str(source) if is_file else "config")


def _read_source(source: str | Path | dict | None) -> dict:
    if source is None:
        return {}
    if isinstance(source, dict):
        return _deep_copy(source)
    text = str(source)
    path = Path(text)
    if text.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise ConfigError(f"{clip(str(path))}: no such config file")
        data = read_yaml(path, ConfigError)
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of config keys at the top level")
        return data
    return {"model": {"name": text}}   # a bare model name


def read_yaml(path: Path, error: type[Exception] = ConfigError) -> Any:
    """A YAML file's content (safe_load: plain data only), or `error` with one line naming the file: not text
    (binary, UTF-16), not valid YAML (with the line), or a structure that expands beyond reason (aliases)."""
    try:
        text = read_user_text(path)
    except ValueError as e:
        raise error(f"{path}: {e}") from None
    except OSError as e:
        raise error(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        data = safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise error(f"{path}{where}: not valid YAML ({clip(getattr(e, 'problem', None) or e)})") from None
    except RecursionError:
        raise error(f"{path}: nested too deeply to be a config") from None
    except ValueError as e:   # e.g. an integer of more than 4,300 digits (Python's limit for str -> int)
        why = "a number with thousands of digits" if "digits" in str(e) else clip(str(e))
        raise error(f"{path}: a value cannot be read ({why})") from None
    if expanded_size(data) > MAX_VALUES:
        raise error(f"{path}: expands to more than {MAX_VALUES:,} values (YAML aliases repeated?); "
                    f"not a config") from None
    return data


# A config or study is a few hundred values; aliases that multiply (a "billion laughs" file) are refused before
# anything walks them.
MAX_VALUES = 100_000


def expanded_size(obj: Any, limit: int = MAX_VALUES) -> int:
    """How many values `obj` holds with every shared reference counted again (stops counting past `limit`)."""
    count, stack = 0, [obj]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return count


def _deep_copy(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _deep_copy(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_deep_copy(v) for v in d]
    return d


class _SafeLoader(yaml.SafeLoader):
    """yaml.safe_load's loader (plain data only, no tags that build objects), reading 1e-3 as a number: YAML 1.1
    wants a dot (1.0e-3) and PyYAML follows it, so `lr: 1e-3` would be the string '1e-3'. A key given twice in
    one mapping is an error (PyYAML keeps the last silently, so `train:` written twice loses the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {clip(key, quote=True)} given twice", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def safe_load(text: str) -> Any:
    """YAML text as plain data (see _SafeLoader)."""
    return yaml.load(text, Loader=_SafeLoader)   # noqa: S506 - a SafeLoader subclass


def parse_value(text: str) -> Any:
    """YAML scalar semantics for an override value: 0.01 -> float, true -> bool, [1,2] -> list, null -> None."""
    try:
        return safe_load(text) if text.strip() else ""
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


def _validate(raw: dict, origin: str) -> RunConfig:
    try:
        return RunConfig.model_validate(raw)
    except ConfigError as e:   # raised by a field check itself (a run name)
        raise ConfigError(f"{origin}: {e}") from None
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
        raise ConfigError(f"{origin}: {key}={clip(value, quote=True)}: expected {expected_text(err)}") from None


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
