"""Classification: cross-entropy on logits; loss, accuracy and (optionally) macro-averaged F1."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import register_task
from .base import StepResult, Task

__all__ = ["Classification"]


@register_task("classification")
class Classification(Task):
    """Cross-entropy on class logits; metrics loss and accuracy (fraction correct, 0-1).

    With ``macro_f1=True`` also ``macro_f1``: the F1 score of each class (2·TP / (2·TP + FP + FN), from counts
    summed over the whole split) averaged with equal weight over the classes that occur in the targets or the
    predictions (scikit-learn's ``f1_score(average="macro")``).
    """

    name = "classification"
    monitor = "acc"
    mode = "max"

    def __init__(self, label_smoothing: float = 0.0, macro_f1: bool = False) -> None:
        self.label_smoothing = label_smoothing
        self.macro_f1 = macro_f1

    def compute(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                groups: torch.Tensor | None = None) -> StepResult:
        logits = model(inputs)
        loss = F.cross_entropy(logits.float(), targets, label_smoothing=self.label_smoothing)
        n = targets.shape[0]
        with torch.no_grad():
            pred = logits.argmax(dim=1)
            sums = {"loss": loss.detach() * n, "correct": (pred == targets).sum(), "n": torch.tensor(n)}
            if self.macro_f1:   # per-class counts, summed over batches: F1 needs the whole split's counts
                k = logits.shape[1]
                sums["tp"] = torch.bincount(targets[pred == targets], minlength=k)
                sums["pred"] = torch.bincount(pred, minlength=k)
                sums["true"] = torch.bincount(targets, minlength=k)
        return StepResult(loss, sums, logits)

    def finalize(self, sums: dict[str, float]) -> dict[str, float]:
        n = max(sums.get("n", 0), 1)
        metrics = {"loss": sums["loss"] / n, "acc": sums["correct"] / n}
        if "tp" in sums:
            tp, pred, true = (torch.as_tensor(sums[k], dtype=torch.float64).reshape(-1) for k in ("tp", "pred", "true"))
            seen = (pred + true) > 0
            metrics["macro_f1"] = float((2 * tp[seen] / (pred[seen] + true[seen])).mean()) if seen.any() else 0.0
        return metrics

    def predictions(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.argmax(dim=1)
