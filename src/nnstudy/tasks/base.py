"""What differs between problems lives in a Task: how a batch becomes a loss, and sums become metrics.

The engine never looks inside a batch: it hands (model, inputs, targets) to the task, back-propagates the loss it
returns, and adds up the per-batch *sums* the task reports (e.g. loss × n, number correct, n). Sums, not means,
so that epochs, evaluation passes and resumed half-epochs combine exactly.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import Dataset

__all__ = ["Task", "StepResult", "VALUE_LOSSES", "value_loss"]

# Losses of tasks that predict values (forecasting, regression), by the name a config gives (task.loss).
VALUE_LOSSES = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}


def value_loss(name: str):
    """The loss function called `name` in VALUE_LOSSES; ValueError naming the choices otherwise."""
    if name not in VALUE_LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(VALUE_LOSSES)}")
    return VALUE_LOSSES[name]


class StepResult(NamedTuple):
    loss: torch.Tensor                 # mean loss of the batch, to back-propagate
    sums: dict[str, torch.Tensor]      # detached per-batch sums, including "n"
    outputs: torch.Tensor              # raw model outputs (e.g. logits), for predictions


class Task(ABC):
    """Loss and metrics for one kind of problem."""

    name: str = "task"
    monitor: str = "loss"                 # validation metric that selects the epoch used on test
    mode: Literal["min", "max"] = "min"   # whether a larger or smaller `monitor` is better

    def setup(self, data: Dataset) -> None:
        """Learn what the task needs from the data before training (e.g. scalers to report in MW, class weights
        from the training split's class counts)."""

    def fitted(self) -> dict[str, Any]:
        """What setup() learned that changes the loss or metrics, recorded in the run's summary (e.g. class
        weights); empty when nothing."""
        return {}

    @abstractmethod
    def compute(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                groups: torch.Tensor | None = None) -> StepResult:
        """Forward pass: mean loss, detached per-batch sums, raw outputs. `groups`: the split's per-sample
        group ids (e.g. regions), when it has them."""

    @abstractmethod
    def finalize(self, sums: dict[str, Any]) -> dict[str, float]:
        """Turn summed counts (numbers, or lists for per-group sums) into metrics (e.g. {'loss', 'acc'})."""

    def predictions(self, outputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-sample predictions kept in the run directory (predictions.safetensors), by name: ``pred`` (a class
        or a value, for confusion matrices and forecast plots) and anything else a report draws (e.g. ``score``
        for ROC curves)."""
        return {"pred": outputs.detach()}

    def exact_metrics(self, predictions: dict[str, torch.Tensor], targets: torch.Tensor) -> dict[str, float]:
        """Metrics computed once from a whole split's kept predictions (`predictions()` of every sample, and the
        targets), replacing those of `finalize` with the same names: for metrics that do not add up over batches
        exactly (ranking metrics such as ROC AUC). Called on the final test split; empty by default."""
        return {}

    def better(self, value: float, best: float | None) -> bool:
        if best is None:
            return True
        return value > best if self.mode == "max" else value < best
