"""Study files: a base run config, axes that expand into named variants, seeds, a baseline, what to report.

    name: cifar-cnn-ablation
    base: {model: {name: tutorial_cnn}, data: {name: cifar10}, train: {epochs: 10, batch_size: 4}}
    seeds: [0, 1]
    ablate:                     # one axis at a time against the base (variant "base")
      model.act: [leaky_relu, tanh]
      optim.lr: [0.0005, 0.01]
    report: {metric: test_acc, mode: max, reference: {base: {test_acc: 0.593}}}
    modes:
      quick: {train.epochs: 3, data.subset: 5000}

Axes: ``variants`` (an explicit list of {name, overrides}), ``grid`` (every combination), ``zip`` (lists taken
side by side) or ``ablate`` (one axis at a time against the base). ``variants`` may be combined with one of the
others; its entries come first.
"""
from __future__ import annotations

import copy
import itertools
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator, model_validator

from ..config import apply_overrides, read_yaml
from ..errors import ConfigError, NnstudyError, clip
from ..names import check_name
from ..registry import closest
from ..resolution import load_config
from .resolved import Adaptive, ReportSpec, ResolvedStudy, Variant, run_name, yaml_scalar

__all__ = ["StudySpec", "Variant", "ReportSpec", "load_study_spec", "builtin_studies", "run_name",
           "split_variant_names"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StudySpec(_Strict):
    name: str
    description: str = ""
    base: dict[str, Any]
    seeds: list[Annotated[StrictInt, Field(ge=0, le=2**32 - 1)]] = Field(default_factory=lambda: [0, 1, 2],
                                                                          min_length=1)
    # Config keys set to each run's seed besides train.seed, e.g. [data.split_seed]: every seed then also draws
    # its own train/validation/test split (repeated hold-out), so the spread over seeds includes the split's.
    seed_keys: list[str] = Field(default_factory=list)
    baseline: str | None = None
    variants: list[Variant] = Field(default_factory=list)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    zip: dict[str, list[Any]] = Field(default_factory=dict)
    ablate: dict[str, list[Any]] = Field(default_factory=dict)
    report: ReportSpec = Field(default_factory=ReportSpec)
    modes: dict[str, dict[str, Any]] = Field(default_factory=dict)   # named override sets, e.g. quick
    mode: str = "full"
    weights: dict[str, str] = Field(default_factory=dict)   # variant -> published weights: evaluated, not trained
    # Parallel runs when `nnstudy run` is not given --workers: for studies of small models that use one core
    # no worse than two (e.g. energy-rnn: two single-thread runs side by side). Not part of the study's identity.
    workers: int = Field(1, ge=1)
    # modules to import before anything is built (the user's own models, datasets, tasks); every run imports them
    imports: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _one_folder(cls, name: str) -> str:
        return check_name(name, "study name")

    @model_validator(mode="after")
    def _one_axis_kind(self) -> "StudySpec":
        kinds = [k for k in ("grid", "zip", "ablate") if getattr(self, k)]
        if len(kinds) > 1:
            raise ValueError(f"use one of grid, zip, ablate (got {', '.join(kinds)})")
        if self.zip and len({len(v) for v in self.zip.values()}) > 1:
            raise ValueError("zip: every list must have the same length")
        return self

    def expand(self) -> list[Variant]:
        """The variants in display order, names unique."""
        out = list(self.variants)
        if self.ablate:
            out.append(Variant(name="base"))
            out += [Variant(name=_label({k: v}), overrides={k: v}) for k, values in self.ablate.items()
                    for v in values]
        if self.grid:
            keys = list(self.grid)
            out += [Variant(name=_label(dict(zip(keys, combo))), overrides=dict(zip(keys, combo)))
                    for combo in itertools.product(*self.grid.values())]
        if self.zip:
            keys = list(self.zip)
            out += [Variant(name=_label(dict(zip(keys, combo))), overrides=dict(zip(keys, combo)))
                    for combo in zip(*self.zip.values())]
        if not out:
            out = [Variant(name="base")]
        names = [v.name for v in out]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"study {self.name!r}: variant names repeat: {', '.join(dupes)}")
        return out

    def resolved(self, until_decided: int | None = None) -> ResolvedStudy:
        """The study with every choice made (explicit variants and baseline, axes expanded): what runs, what
        study.yaml holds. `until_decided` = K: start with the study's seeds and add seeds up to K in all
        (nnstudy run --until-decided --max-seeds K)."""
        variants = self.expand()
        baseline = self.baseline or variants[0].name
        if baseline not in {v.name for v in variants}:
            hint = closest(baseline, [v.name for v in variants])
            raise ConfigError(f"study {self.name!r}: baseline {baseline!r} is not a variant"
                              + (f"; did you mean {hint!r}?" if hint else ""))
        for claim in self.report.claims:
            if claim.variant not in {v.name for v in variants}:
                hint = closest(claim.variant, [v.name for v in variants])
                raise ConfigError(f"study {self.name!r}: report.claims: {claim.variant!r} is not a variant"
                                  + (f"; did you mean {hint!r}?" if hint else ""))
        unknown = sorted(set(self.weights) - {v.name for v in variants})
        if unknown:
            raise ConfigError(f"study {self.name!r}: weights for unknown variant(s) {', '.join(unknown)} "
                              f"(variants: {', '.join(v.name for v in variants)})")
        seeds, adaptive = list(self.seeds), None
        if until_decided is not None:
            if len(seeds) < 2 or until_decided <= len(seeds):
                raise ConfigError(f"--max-seeds {until_decided}: expected more than the study's {len(seeds)} seeds "
                                  f"to start from (and those at least 2)")
            seeds += [max(seeds) + 1 + i for i in range(until_decided - len(seeds))]
            adaptive = Adaptive(first=len(self.seeds))
        return ResolvedStudy(name=self.name, description=self.description, mode=self.mode, base=_copy(self.base),
                             seeds=seeds, seed_keys=list(self.seed_keys), baseline=baseline,
                             weights=dict(self.weights), variants=variants, report=self.report, adaptive=adaptive)

    def select(self, names: list[str]) -> list[Variant]:
        """The variants called `names`, in the study's order; ConfigError (with "did you mean") for any other."""
        variants = self.expand()
        known = [v.name for v in variants]
        for name in names:
            if name not in known:
                hint = closest(name, known)
                raise ConfigError(f"study {self.name!r} has no variant {clip(name, quote=True)}"
                                  + (f"; did you mean {hint!r}?" if hint else "")
                                  + f" (variants: {clip(', '.join(known), 300)})")
        return [v for v in variants if v.name in names]

    def cell(self, variant: str, seed: int | None = None) -> tuple[Variant, int, dict[str, Any]]:
        """One (variant, seed) of the study: the variant, the seed (default: the study's first) and its run
        config dict, exactly as `nnstudy run` would train it."""
        chosen = self.select([variant])[0]
        seed = self.seeds[0] if seed is None else seed
        if seed not in self.seeds:
            raise ConfigError(f"study {self.name!r} has no seed {seed} (seeds: {', '.join(map(str, self.seeds))})")
        return chosen, seed, self.run_config(chosen, seed)

    def cell_name(self, variant: str, seed: int) -> str:
        """The run name of one cell trained alone: STUDY[-MODE]-VARIANT__sSEED."""
        stem = self.name if self.mode == "full" else f"{self.name}-{self.mode}"
        return check_name(f"{stem}-{run_name(variant, seed)}"[:255])

    def run_config(self, variant: Variant, seed: int) -> dict[str, Any]:
        """The run config dict of one (variant, seed), as the study runs it."""
        return self.resolved().run_config(variant, seed)


def _copy(d: Any) -> Any:
    return yaml.safe_load(yaml.safe_dump(d))


def _label(overrides: dict[str, Any]) -> str:
    """'act=tanh', 'lr=0.01,conv_layers=3': the last part of each key with its value."""
    return ",".join(f"{k.rsplit('.', 1)[-1]}={yaml_scalar(v)}" for k, v in overrides.items())


# --------------------------------------------------------------------------------------------------- loading

def builtin_studies() -> dict[str, Path]:
    """Built-in study files shipped in nnstudy/studies/, by name."""
    folder = resources.files("nnstudy") / "studies"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".yaml")}


def load_study_spec(source: str | Path | dict, overrides: list[str] | tuple[str, ...] = (), *,
                    seeds: int | None = None, mode: str | None = None,
                    weights: dict[str, str] | None = None) -> StudySpec:
    """A study from a built-in name, a YAML file or a dict of the same content; `mode` applies a named override set
    (e.g. "quick"), `overrides` (dotted key=value) apply to the base run config, `seeds` = N uses seeds 0..N-1."""
    if isinstance(source, dict):
        raw, path = copy.deepcopy(source), "study"
    else:
        path = _study_file(source)
        raw = read_yaml(path, ConfigError)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with name, base, and axes")
    try:
        spec = StudySpec.model_validate(raw)
    except ConfigError as e:   # a name check
        raise ConfigError(f"{path}: {e}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{path}: {key or 'study'}: {clip(err['msg'], 200)}"
                          + (f" (got {clip(err['input'])})" if "input" in err else "")) from None
    if mode and mode != "full":
        if mode not in spec.modes:
            raise ConfigError(f"study {spec.name!r} has no mode {mode!r} (modes: {', '.join(spec.modes) or 'none'})")
        apply_overrides(spec.base, [f"{k}={yaml_scalar(v)}" for k, v in spec.modes[mode].items()])
        spec.mode = mode
    apply_overrides(spec.base, list(overrides))
    if spec.imports:   # carried by every run's config, so that worker processes import them too
        spec.base["imports"] = list(dict.fromkeys([*(spec.base.get("imports") or []), *spec.imports]))
    for variant, file in (weights or {}).items():
        if not Path(file).is_file():
            raise ConfigError(f"--weights {variant}={file}: no such file")
        spec.weights[variant] = str(Path(file).resolve())
    if seeds is not None:
        if seeds < 1:
            raise ConfigError(f"--seeds {seeds}: expected at least 1")
        spec.seeds = list(range(seeds))
    _check_configs(spec)
    return spec


def _study_file(source: str | Path) -> Path:
    known = builtin_studies()
    if str(source) in known:
        return known[str(source)]
    if not Path(source).is_file():
        hint = closest(str(source), list(known))
        raise ConfigError(f"unknown study {clip(str(source), quote=True)}: not a built-in study nor a file"
                          + (f"; did you mean {hint!r}?" if hint else "; see `nnstudy studies`"))
    return Path(source)


def _check_configs(spec: StudySpec) -> None:
    """Validate every variant's run config and build its model (shapes only, on the meta device) before anything
    runs: a typo fails in a second, not an hour in."""
    import torch

    from ..engine.build import build_model
    for variant in spec.expand():
        try:
            with torch.device("meta"):
                build_model(load_config(spec.run_config(variant, spec.seeds[0])))
        except NnstudyError as e:
            raise ConfigError(f"study {spec.name!r}, variant {variant.name!r}: {e}") from None



def split_variant_names(text: str, known: list[str]) -> list[str]:
    """`--variants a,b`: names joined by commas, where a name may hold commas itself (a grid's 'lr=0.1,width=2'):
    the longest known name is taken at each step; an unknown piece is kept whole for the caller's error."""
    pieces, out, i = text.split(","), [], 0
    while i < len(pieces):
        j = next((j for j in range(len(pieces), i, -1) if ",".join(pieces[i:j]) in known), i + 1)
        out.append(",".join(pieces[i:j]))
        i = j
    return [name for name in out if name]
