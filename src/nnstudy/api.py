"""The Python API for notebooks and scripts: a study of your model on your data, given as Python objects.

    from nnstudy import Study
    study = Study({
        "name": "smallnet", "seeds": [0, 1],
        "base": {"model": {"name": SmallNet, "width": 16}, "data": {"name": my_data}, "train": {"epochs": 2}},
        "ablate": {"model.width": [8]},
    })
    results = study.run()      # trains the runs not finished yet; writes the tables and the report
    results.table              # one row per variant: mean ± std over seeds, the verdict against the baseline

Wherever a study names a model, dataset or task (``base.model.name``, ``base.data.name``, ``base.task.name``, and
an axis or variant over ``model.name``, ...), a Python object may stand instead of the name: a model class or a
function returning an ``nn.Module``; a dataset function or a built :class:`nnstudy.data.Dataset`; a
:class:`nnstudy.tasks.Task` subclass. An object that can be imported back from its module is recorded by its import
path (``mylab.models:SmallNet``), so worker processes and a later ``nnstudy eval RUN_DIR`` find it; one defined in
the notebook itself is registered for this session under its own name, which only this Python session knows.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ConfigError, DiskFullError, clip

__all__ = ["Study", "StudyResults", "run_study"]

_SECTIONS = ("model", "data", "task")


@dataclass(frozen=True)
class StudyResults:
    """A study directory's results, read from its run directories (as `nnstudy report` reads them)."""

    study_dir: Path
    runs: pd.DataFrame       # one row per (variant, seed): status, params, MACs, times, memory, every metric
    variants: pd.DataFrame   # one row per variant: mean and std over seeds, diff to the baseline, p, verdict
    table: pd.DataFrame      # `variants` as printed and reported: "0.512 ± 0.004", the verdict in words
    report: Path | None      # report.html, when written

    @property
    def failed(self) -> int:
        return int((self.runs["status"] == "failed").sum())


class Study:
    """A study (configs × seeds) from a dict, a YAML file or a built-in name; see the module docstring.

    `overrides` (dotted ``key=value``) apply to every run, `mode` picks a named override set (e.g. "quick"),
    `seeds` = N uses seeds 0..N-1. The study is checked at once: every variant's config, and its model built
    (shapes only)."""

    def __init__(self, study: str | Path | dict, overrides: list[str] | tuple[str, ...] = (), *,
                 mode: str | None = None, seeds: int | None = None, weights: dict[str, str] | None = None) -> None:
        from .study import load_study_spec
        self._session: list[str] = []   # names of objects registered for this Python session only
        source = self._named(study) if isinstance(study, dict) else study
        self.spec = load_study_spec(source, overrides, seeds=seeds, mode=mode, weights=weights)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def variants(self) -> list[str]:
        return [v.name for v in self.spec.expand()]

    def run(self, *, out_dir: str | Path = "studies", workers: int | None = None, resume: bool = False,
            retry_failed: bool = False, variants: list[str] | None = None, progress: bool = True,
            report: bool = True) -> StudyResults:
        """Train every run not finished yet (of `variants`, if given) and return the results; see
        ``nnstudy run`` for `resume` (keep finished runs, continue unfinished ones) and `retry_failed`."""
        from .study import run_study as execute
        workers = workers if workers is not None else self.spec.workers
        if workers > 1 and self._session:
            raise ConfigError(f"{', '.join(map(repr, self._session))}: defined in this Python session, which "
                              f"worker processes cannot see; run with workers=1, or put it in a module and import "
                              f"it from there")
        outcome = execute(self.spec, out_dir=out_dir, workers=workers, resume=resume, retry_failed=retry_failed,
                          progress=progress, variants=variants)
        if outcome.stopped:
            raise DiskFullError(f"{outcome.stopped}; the study stopped and every run is kept: free some space, "
                                f"then run it again with resume=True")
        if report:
            from .report import finish_study
            finish_study(outcome.study_dir)
            trackers = (self.spec.base.get("train") or {}).get("log") or []
            if trackers:   # the study's own part in each tracker its runs went to
                from .track.export import finish_study_trackers
                finish_study_trackers(outcome.study_dir, trackers, say=print)
        return read_results(outcome.study_dir)

    def results(self, out_dir: str | Path = "studies") -> StudyResults:
        """The results of this study as they stand in `out_dir` (nothing runs)."""
        from .study.runner import study_dir_for
        return read_results(study_dir_for(self.spec, out_dir))

    def train(self, variant: str, seed: int | None = None, *, out_dir: str | Path = "runs", resume: bool = False,
              progress: bool = True) -> Any:
        """One cell of the study, trained alone with exactly the config `run` gives it (as
        ``nnstudy train STUDY --variant NAME --seed S``); returns the run's RunResult."""
        from .engine import train
        from .resolution import load_config
        _, seed, config = self.spec.cell(variant, seed)
        config.update(name=self.spec.cell_name(variant, seed), out_dir=str(out_dir))
        return train(load_config(config), resume=resume, progress=progress)

    # -- Python objects in place of names ----------------------------------------------------------------------
    def _named(self, study: dict) -> dict:
        """`study` (a new dict) with every model, dataset or task object replaced by a name a config can carry."""
        out = {k: copy.deepcopy(v) if k not in ("base", "ablate", "grid", "zip", "variants") else v
               for k, v in study.items()}
        base = study.get("base")
        if isinstance(base, dict):
            out["base"] = {**base, **{s: {**base[s], "name": self._name(s, base[s].get("name"))}
                                      for s in _SECTIONS if isinstance(base.get(s), dict) and "name" in base[s]}}
        for axis in ("ablate", "grid", "zip"):
            if isinstance(study.get(axis), dict):
                out[axis] = {key: self._axis_values(key, values) for key, values in study[axis].items()}
        if isinstance(study.get("variants"), list):
            out["variants"] = [{**v, "overrides": {k: self._value(k, x) for k, x in v["overrides"].items()}}
                               if isinstance(v, dict) and isinstance(v.get("overrides"), dict) else v
                               for v in study["variants"]]
        return out

    def _axis_values(self, key: str, values: Any) -> Any:
        return [self._value(key, v) for v in values] if isinstance(values, list) else values

    def _value(self, key: str, value: Any) -> Any:
        section, _, rest = key.partition(".")
        return self._name(section, value) if rest == "name" and section in _SECTIONS else value

    def _name(self, section: str, obj: Any) -> Any:
        if isinstance(obj, str) or obj is None:
            return obj
        from .data import DATASETS, Dataset
        from .models import MODELS
        from .tasks import TASKS, Task
        registry = {"model": MODELS, "data": DATASETS, "task": TASKS}[section]
        what = f"{section}.name={clip(obj)}"
        if section == "data" and isinstance(obj, Dataset):
            name = DATASETS.name_of(obj, builder=lambda: obj)
        elif isinstance(obj, (Task, _module_type())) or not callable(obj):
            raise ConfigError(f"{what}: expected a name, a class or a function that builds one (not an instance:"
                              f" every run builds its own{'' if section != 'data' else ', or a built Dataset'})")
        else:
            name = registry.name_of(obj)
        if registry.get(name).how == "python object" and name not in self._session:
            self._session.append(name)
        return name


def _module_type() -> type:
    from torch import nn
    return nn.Module


def read_results(study_dir: str | Path) -> StudyResults:
    """The results of the study in `study_dir`, read from its files."""
    from .study.results import aggregate, collect_runs, read_study
    from .study.tables import summary_table
    study_dir = Path(study_dir)
    study = read_study(study_dir)
    runs = collect_runs(study_dir)
    variants = aggregate(runs, study)
    report = study_dir / "report.html"
    return StudyResults(study_dir, runs, variants, summary_table(variants, study),
                        report if report.is_file() else None)


def run_study(study: str | Path | dict, overrides: list[str] | tuple[str, ...] = (), *, mode: str | None = None,
              seeds: int | None = None, **run: Any) -> StudyResults:
    """``Study(study, overrides, mode=..., seeds=...).run(**run)`` in one call."""
    return Study(study, overrides, mode=mode, seeds=seeds).run(**run)
