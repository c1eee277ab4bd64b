"""Regression: predict one value per sample; the loss on standardised targets, the metrics in the target's units.

The dataset standardises the target with its training split's mean and standard deviation and records them as
``info.extra["target_scale"] = [mean, std]`` (a table's ``target``, say); the task turns predictions back into the
original units for ``mae``, ``rmse`` and ``r2`` (1 − SSE/SST, SST about the test split's own mean, as
scikit-learn's ``r2_score``). Without a recorded scale the targets are taken as they are. Predictions are kept
standardised, like the targets saved beside them.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..data.base import Dataset
from . import register_task
from .base import StepResult, Task, value_loss

__all__ = ["Regression"]



@register_task("regression")
class Regression(Task):
    """One value per sample: loss mse/mae/huber on standardised targets; MAE, RMSE and R² in original units."""

    name = "regression"
    monitor = "rmse"
    mode = "min"

    def __init__(self, loss: str = "mse") -> None:
        self.loss_fn = value_loss(loss)
        self.mean, self.std = 0.0, 1.0     # original = standardised · std + mean

    def setup(self, data: Dataset) -> None:
        targets = getattr(getattr(data, "train", None), "targets", None)
        if targets is not None and not targets.is_floating_point():
            raise ValueError(f"dataset {data.name!r} has class labels, not values (its task is "
                             f"{data.info.task!r}): set task.name={data.info.task}, or leave task.name out")
        scale = data.info.extra.get("target_scale")
        if scale:
            self.mean, self.std = float(scale[0]), float(scale[1])

    def compute(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                groups: torch.Tensor | None = None) -> StepResult:
        outputs = model(inputs)
        if outputs.numel() != targets.numel():
            raise ValueError(f"{type(model).__name__} gives {tuple(outputs.shape[1:])} outputs per sample; "
                             f"regression needs one (model.num_classes=1)")
        outputs = outputs.reshape(targets.shape)
        loss = self.loss_fn(outputs.float(), targets.float())
        with torch.no_grad():
            pred = outputs.double() * self.std + self.mean   # float64: sums of squares over many samples
            actual = targets.double() * self.std + self.mean
            err = pred - actual
            sums = {"loss": loss.detach() * len(targets), "n": torch.tensor(len(targets)),
                    "abs": err.abs().sum(), "sq": (err * err).sum(), "y": actual.sum(), "yy": (actual * actual).sum()}
        return StepResult(loss, sums, outputs)

    def finalize(self, sums: dict[str, Any]) -> dict[str, float]:
        n = max(float(sums.get("n", 0)), 1.0)
        sst = float(sums["yy"]) - float(sums["y"]) ** 2 / n     # Σ(y − ȳ)²
        return {"loss": float(sums["loss"]) / n, "mae": float(sums["abs"]) / n,
                "rmse": (float(sums["sq"]) / n) ** 0.5,
                "r2": 1.0 - float(sums["sq"]) / sst if sst > 0 else float("nan")}
