"""Classification: cross-entropy on logits; loss and accuracy."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import register_task
from .base import StepResult, Task

__all__ = ["Classification"]


@register_task("classification")
class Classification(Task):
    """Cross-entropy on class logits; metrics loss and accuracy (fraction correct, 0-1)."""

    name = "classification"
    monitor = "acc"
    mode = "max"

    def __init__(self, label_smoothing: float = 0.0) -> None:
        self.label_smoothing = label_smoothing

    def compute(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                groups: torch.Tensor | None = None) -> StepResult:
        logits = model(inputs)
        loss = F.cross_entropy(logits.float(), targets, label_smoothing=self.label_smoothing)
        n = targets.shape[0]
        with torch.no_grad():
            correct = (logits.argmax(dim=1) == targets).sum()
        return StepResult(loss, {"loss": loss.detach() * n, "correct": correct, "n": torch.tensor(n)}, logits)

    def finalize(self, sums: dict[str, float]) -> dict[str, float]:
        n = max(sums.get("n", 0), 1)
        return {"loss": sums["loss"] / n, "acc": sums["correct"] / n}

    def predictions(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.argmax(dim=1)
