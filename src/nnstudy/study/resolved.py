"""A study with every choice made: variants expanded, baseline chosen, seeds and published weights fixed.

One frozen object that the runner executes, study.yaml records, and the tables and the report read back
(:meth:`ResolvedStudy.read`), so the rules — which runs a study has, what each is called, that published weights are
evaluated once rather than once per seed — are written in one place.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..config import apply_overrides, read_yaml
from ..errors import RunDirError, clip
from ..names import check_label

__all__ = ["ResolvedStudy", "Variant", "ReportSpec", "Claim", "Adaptive", "Cell", "run_name", "quoted", "yaml_scalar"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variant(_Frozen):
    name: str
    overrides: dict[str, Any] = Field(default_factory=dict)   # dotted key -> value, applied to the base

    @field_validator("name")
    @classmethod
    def _label(cls, name: str) -> str:
        return check_label(name)


class Claim(_Frozen):
    """A published claim about one variant against the baseline, e.g. "tanh beats relu" (seed 003): the report
    tests it and says reproduced, not reproduced or inconclusive."""

    claim: str                                          # the claim in words, as the write-up makes it
    variant: str                                        # the variant it is about, compared with the baseline
    expect: Literal["better", "worse", "equivalent"]    # what the claim says the variant is
    source: str = ""                                    # where the write-up says it


class ReportSpec(_Frozen):
    metric: str = "test_acc"                    # the metric verdicts are about
    mode: Literal["max", "min"] = "max"         # whether larger is better
    metrics: list[str] = Field(default_factory=lambda: ["test_acc", "test_loss", "val_acc", "train_acc"])
    reference: dict[str, dict[str, Any] | None] = Field(default_factory=dict)   # the write-up's numbers
    reference_source: str = ""
    # what the reference numbers are, in a few words: the column header, the legend, the section's title
    # ("write-up"; "published checkpoints" for SPEC C)
    reference_label: Annotated[str, Field(min_length=1, max_length=40)] = "write-up"
    notes: str = ""
    # how the verdicts are reached (docs/verdicts.md): the paired test, the correction over the study's
    # comparisons, and, with a margin (the smallest difference that matters, in the metric's units), equivalence
    test: Literal["t", "wilcoxon"] = "t"
    correction: Literal["holm", "bh", "bonferroni", "none"] = "holm"
    margin: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    claims: list[Claim] = Field(default_factory=list)   # the write-up's claims, tested as hypotheses

    @property
    def all_metrics(self) -> list[str]:
        """The metrics the tables show: `metric` first when `metrics` leaves it out."""
        return self.metrics if self.metric in self.metrics else [self.metric, *self.metrics]


@dataclass(frozen=True)
class Cell:
    """One run of a study: a variant at a seed, and its run directory's name (under the study's runs/)."""

    variant: Variant
    seed: int
    name: str


def run_name(variant: str, seed: int) -> str:
    """Directory name of one run of a study: the variant (made file-name safe) and the seed."""
    return f"{re.sub(r'[^A-Za-z0-9._=,+-]', '_', variant)}__s{seed}"


class Adaptive(_Frozen):
    """Seeds added round by round until each comparison is decided (nnstudy run --until-decided): the study starts
    with its first `first` seeds and adds one seed per round, up to all of `seeds`, to the variants still
    undecided and to the baseline (study/sequential.py keeps the false-positive rate at α)."""

    first: int = Field(ge=2)


class ResolvedStudy(_Frozen):
    name: str
    description: str = ""
    mode: str = "full"
    base: dict[str, Any] = Field(default_factory=dict)
    seeds: list[int]
    # config keys set to each run's seed besides train.seed (e.g. data.split_seed): repeated hold-out
    seed_keys: list[str] = Field(default_factory=list)
    baseline: str
    weights: dict[str, str] = Field(default_factory=dict)   # variant -> published weights: evaluated, not trained
    variants: list[Variant]
    report: ReportSpec = Field(default_factory=ReportSpec)
    adaptive: Adaptive | None = None   # seeds added until decided; `seeds` are then the most a variant may get

    @property
    def variant_names(self) -> list[str]:
        return [v.name for v in self.variants]

    @property
    def axes(self) -> list[str]:
        """The dotted config keys the variants change (e.g. optim.lr, model.act), in order of first appearance."""
        return list(dict.fromkeys(k for v in self.variants for k in v.overrides))

    def axis_value(self, variant: Variant, key: str) -> Any:
        """What `key` is in `variant`'s runs: its override, else the base config's value (None when unset)."""
        if key in variant.overrides:
            return variant.overrides[key]
        node: Any = self.base
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    def seeds_of(self, variant: str) -> list[int]:
        """The seeds a variant runs: all of them, or the first alone for published weights (evaluated, not trained:
        no randomness, so one run is enough)."""
        return self.seeds[:1] if variant in self.weights else list(self.seeds)

    def cells(self, variants: list[str] | None = None) -> list[Cell]:
        """Every run of the study (of `variants`, if given), in study order."""
        chosen = [v for v in self.variants if variants is None or v.name in variants]
        return [Cell(v, seed, run_name(v.name, seed)) for v in chosen for seed in self.seeds_of(v.name)]

    def run_config(self, variant: Variant, seed: int) -> dict[str, Any]:
        """The run config dict of one (variant, seed): the base, the variant's overrides, the seed."""
        return apply_overrides(_copy(self.base), [f"{k}={yaml_scalar(v)}" for k, v in variant.overrides.items()]
                               + [f"{k}={seed}" for k in ("train.seed", *self.seed_keys)])

    def to_dict(self) -> dict[str, Any]:
        """What study.yaml holds (seed_keys and adaptive only when set, so study directories written before them
        still resume)."""
        out = self.model_dump(mode="python")
        for key in ("seed_keys", "adaptive"):
            if not out[key]:
                out.pop(key)
        return out

    @classmethod
    def read(cls, study_dir: str | Path) -> "ResolvedStudy":
        """The study of `study_dir` (its study.yaml); RunDirError (one line, naming the file) when study.yaml is
        missing or malformed."""
        path = Path(study_dir) / "study.yaml"
        if not path.is_file():
            raise RunDirError(f"{path}: not found ({Path(study_dir)} is not a study directory)")
        raw = read_yaml(path, RunDirError)   # one line for non-UTF-8, invalid YAML, alias bombs
        _check(raw, path)
        # written by earlier versions, or by hand: empty where a mapping or list is meant
        raw["name"] = raw.get("name") or Path(study_dir).name
        raw["base"] = raw.get("base") or {}
        raw["weights"] = raw.get("weights") or {}
        raw["description"] = raw.get("description") or ""
        report = raw["report"]
        report.update(metrics=report.get("metrics") or [], reference=report.get("reference") or {},
                      reference_source=report.get("reference_source") or "", notes=report.get("notes") or "",
                      reference_label=report.get("reference_label") or "write-up")
        try:
            return cls.model_validate(raw)
        except RunDirError:
            raise
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            raise RunDirError(f"{path}: {key or 'study'}: {clip(err['msg'], 200)}") from None
        except ValueError as e:   # a variant name that is no label
            raise RunDirError(f"{path}: {clip(str(e), 200)}") from None


def _check(study: Any, path: Path) -> None:
    """The structure study.yaml must have, each fault named in words a person can act on."""

    def bad(why: str) -> RunDirError:
        return RunDirError(f"{path}: {why}")

    if not isinstance(study, dict):
        raise bad("expected a mapping at the top level")
    variants = study.get("variants")
    if not isinstance(variants, list) or not variants:
        raise bad("'variants' must be a non-empty list")
    names = []
    for v in variants:
        if not isinstance(v, dict) or not isinstance(v.get("name"), str) or not v["name"]:
            raise bad("every variant needs a 'name'")
        names.append(v["name"])
    if len(set(names)) != len(names):
        raise bad(f"duplicate variant names: {clip(', '.join(sorted({n for n in names if names.count(n) > 1})))}")
    seeds = study.get("seeds")
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool)
                                                           for s in seeds):
        raise bad("'seeds' must be a non-empty list of integers")
    if not isinstance(study.get("baseline"), str) or study["baseline"] not in names:
        raise bad(f"baseline {quoted(study.get('baseline'))} is not one of the variants ({clip(', '.join(names))})")
    report = study.get("report")
    if not isinstance(report, dict) or not isinstance(report.get("metric"), str):
        raise bad("'report.metric' is missing")
    if report.get("mode", "max") not in ("max", "min"):
        raise bad(f"report.mode must be 'max' or 'min', not {quoted(report['mode'])}")
    metrics = report.get("metrics") or []
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise bad("'report.metrics' must be a list of metric names")
    reference = report.get("reference") or {}
    if not isinstance(reference, dict) or not all(isinstance(r, dict) or r is None for r in reference.values()):
        raise bad("'report.reference' must map variant names to {metric: value}")
    if study.get("weights") is not None and not isinstance(study["weights"], dict):
        raise bad("'weights' must map variant names to files")


def quoted(value: Any) -> str:
    """A user's value in a message: a string in quotes ('b'), anything else as its (short) repr; clipped."""
    return clip(repr(value) if isinstance(value, str) and len(value) < 200 else value)


def _copy(d: Any) -> Any:
    return yaml.safe_load(yaml.safe_dump(d))


def yaml_scalar(value: Any) -> str:
    """Inverse of config.parse_value for override strings."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
