"""The summary of a finished run (summary.json): one typed object, assembled once, written as JSON.

Studies and reports read the JSON (run directories are all they read); its keys are those of earlier versions,
with ``runtime`` added (device, precision and why, memory format, threads).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ..config import RunConfig
from ..data.base import Dataset
from ..measure import environment, forward_cost, peak_memory_mb
from ..models import count_params
from ..resolution import sources
from .runtime import Runtime

__all__ = ["RunSummary", "Timing", "compute_cost"]


@dataclass(frozen=True)
class Timing:
    """Wall seconds of training (steps only), of every evaluation (per-epoch and final test) and of the final test;
    training throughput in samples per second (None: evaluated, not trained)."""

    train_seconds: float
    eval_seconds: float
    test_seconds: float
    train_samples_per_second: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"train_seconds": round(self.train_seconds, 3), "eval_seconds": round(self.eval_seconds, 3),
                "test_seconds": round(self.test_seconds, 3),
                "train_samples_per_second": None if self.train_samples_per_second is None
                else round(self.train_samples_per_second, 1)}


def compute_cost(model: nn.Module, data: Dataset, runtime: Runtime | None = None) -> dict[str, Any]:
    """Params, MACs, FLOPs (2×MACs) and detailed FLOPs per sample, forward pass (docs/measurement.md): the count
    the runtime made deciding precision, else one made now."""
    if runtime is not None and runtime.cost is not None:
        return runtime.cost
    return forward_cost(model, data.info.input_shape)


@dataclass(frozen=True)
class RunSummary:
    """What a finished run (trained, or published weights evaluated) records about itself."""

    name: str
    model: str
    dataset: str
    task: str
    seed: int
    selected_epoch: int | None          # the epoch whose weights were tested (None: not trained here)
    selected_by: str                    # "val_acc", "last epoch", "published weights …"
    metrics: dict[str, float]           # train/val of the selected epoch, test of its weights
    params: int
    compute: dict[str, Any]             # compute_cost
    time: Timing
    memory: dict[str, Any]              # peak memory (MB)
    data: dict[str, Any]                # split sizes, source, what the report needs of the data
    attempts: int                       # 1 + the number of resumes
    environment: dict[str, Any]         # versions, CPU, code version
    sources: dict[str, Any]             # where the model, data and task code came from
    runtime: dict[str, Any]             # Runtime.describe()
    finished_at: str
    in_training_eval: dict[str, int] = field(default_factory=dict)
    task_fitted: dict[str, Any] = field(default_factory=dict)
    distributed: dict[str, Any] | None = None
    weights: str | None = None          # published weights evaluated instead of trained

    @classmethod
    def of(cls, cfg: RunConfig, model: nn.Module, data: Dataset, runtime: Runtime, *, metrics: dict[str, float],
           selected_epoch: int | None, selected_by: str, attempts: int, time: Timing, **optional: Any
           ) -> "RunSummary":
        return cls(
            name=str(cfg.name), model=cfg.model.name, dataset=cfg.data.name, task=str(cfg.task.name),
            seed=cfg.train.seed, selected_epoch=selected_epoch, selected_by=selected_by, metrics=metrics,
            params=count_params(model), compute=compute_cost(model, data, runtime), time=time,
            memory=peak_memory_mb(runtime.device), data=_data(data), attempts=attempts,
            environment=environment(runtime.device), sources=sources(cfg), runtime=runtime.describe(),
            finished_at=_now(), **optional)

    def to_dict(self) -> dict[str, Any]:
        """summary.json, keys in the order earlier versions wrote them."""
        out: dict[str, Any] = {"status": "finished", "name": self.name, "model": self.model, "dataset": self.dataset,
                               "task": self.task, "seed": self.seed, "selected_epoch": self.selected_epoch,
                               "selected_by": self.selected_by}
        if self.weights is not None:
            out["weights"] = self.weights
        if self.in_training_eval:
            out["in_training_eval"] = self.in_training_eval
        out["task_fitted"] = self.task_fitted
        out["memory_format"] = self.runtime.get("memory_format")
        if self.distributed is not None:
            out["distributed"] = self.distributed
        out.update(runtime=self.runtime, metrics=self.metrics, params=self.params, compute=self.compute,
                   time=self.time.to_dict(), memory=self.memory, data=self.data, attempts=self.attempts,
                   environment=self.environment, sources=self.sources, finished_at=self.finished_at)
        return out


def _data(data: Dataset) -> dict[str, Any]:
    return {"train": len(data.train), "val": len(data.val) if data.val else 0, "test": len(data.test),
            "source": data.source, "info": data.info.extra,   # e.g. normalisation, scalers, cleaning
            # what the report needs to know of the data without rebuilding it
            "input_shape": list(data.info.input_shape), "num_classes": data.info.num_classes,
            "class_names": list(data.info.class_names) if data.info.class_names else None}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
