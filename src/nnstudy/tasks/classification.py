"""Classification: cross-entropy on logits; loss, accuracy, optionally macro-F1, and for two classes ROC/PR AUC."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import Dataset
from . import register_task
from .base import StepResult, Task

__all__ = ["Classification", "AUC_BINS", "AUC_RANGE", "auc_from_histograms", "exact_auc"]

# Ranking metrics must add up over batches, so each batch adds histograms of the positive class's log-odds
# (one per true class) instead of keeping every score. 4,096 bins over ±16 nats: a bin is 1/128 nat wide, and
# only pairs of scores within one bin of each other are counted as ties (half a pair each) — AUC is exact up to
# those pairs. Scores beyond ±16 nats (probabilities below 1e-7 from 0 or 1) share the end bins.
AUC_BINS = 4096
AUC_RANGE = 16.0


def _log_odds(logits: torch.Tensor, positive: int) -> torch.Tensor:
    """log p(positive) − log p(not positive), in nats, from class logits (any number of classes)."""
    logits = logits.float()
    others = torch.cat([logits[:, :positive], logits[:, positive + 1:]], dim=1)
    return logits[:, positive] - torch.logsumexp(others, dim=1)


def _bins(score: torch.Tensor) -> torch.Tensor:
    scaled = (score.clamp(-AUC_RANGE, AUC_RANGE) + AUC_RANGE) * (AUC_BINS / (2 * AUC_RANGE))
    return scaled.long().clamp_(0, AUC_BINS - 1)


def auc_from_histograms(neg: Any, pos: Any) -> tuple[float, float]:
    """(ROC AUC, PR AUC) from score histograms of the negatives and positives over the same ascending bins.

    ROC AUC: the probability that a random positive outscores a random negative, ties counting half (the
    Mann-Whitney statistic). PR AUC: average precision, Σ over thresholds (high to low) of the recall gained ×
    the precision there (scikit-learn's ``average_precision_score``). NaN when a class has no samples.
    """
    neg = torch.as_tensor(neg, dtype=torch.float64).reshape(-1)
    pos = torch.as_tensor(pos, dtype=torch.float64).reshape(-1)
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan"), float("nan")
    neg_below = torch.cumsum(neg, 0) - neg
    roc = float((pos * (neg_below + 0.5 * neg)).sum()) / (n_pos * n_neg)
    tp, fp = torch.cumsum(pos.flip(0), 0), torch.cumsum(neg.flip(0), 0)   # predicted positive at ≥ each bin
    precision = tp / (tp + fp).clamp_min(1)
    pr = float((pos.flip(0) * precision).sum()) / n_pos
    return roc, pr


def exact_auc(score: Any, positive: Any) -> tuple[float, float]:
    """(ROC AUC, PR AUC) from every sample's score and whether it is positive, exactly: ROC AUC is the Mann-Whitney
    statistic with tied scores counting half (scikit-learn's ``roc_auc_score``), PR AUC the average precision with
    one threshold per distinct score (``average_precision_score``). NaN when a class has no samples."""
    score = torch.as_tensor(score, dtype=torch.float64).reshape(-1)
    positive = torch.as_tensor(positive).reshape(-1).bool()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan"), float("nan")
    # distinct scores, high to low, with the positives and negatives at each: one threshold per distinct score
    values, inverse = torch.unique(score, sorted=True, return_inverse=True)
    pos = torch.bincount(inverse[positive], minlength=len(values)).double().flip(0)
    neg = torch.bincount(inverse[~positive], minlength=len(values)).double().flip(0)
    tp, fp = torch.cumsum(pos, 0), torch.cumsum(neg, 0)
    neg_below = n_neg - fp                               # negatives strictly below each threshold
    roc = float((pos * (neg_below + 0.5 * neg)).sum()) / (n_pos * n_neg)
    pr = float((pos * tp / (tp + fp)).sum()) / n_pos
    return roc, pr


@register_task("classification")
class Classification(Task):
    """Cross-entropy on class logits; metrics loss and accuracy (fraction correct, 0-1).

    - ``macro_f1=True`` adds ``macro_f1``: the F1 score of each class (2·TP / (2·TP + FP + FN), from counts
      summed over the whole split) averaged with equal weight over the classes that occur in the targets or the
      predictions (scikit-learn's ``f1_score(average="macro")``).
    - ``auc=True`` (class ``positive`` against the rest) adds ``roc_auc``, ``pr_auc`` (average precision),
      ``sensitivity`` (recall of the positive class) and ``specificity`` (recall of the rest), selects the epoch
      on validation ROC AUC, and keeps each test sample's log-odds of the positive class for ROC curves. Per
      epoch the AUCs come from binned scores (they add up over batches); the final test AUCs are exact, from
      every test sample's kept score (`exact_metrics`).
    - ``class_weight``: ``balanced`` weighs each class's cross-entropy by n / (k · n_class) over the training
      split (scikit-learn's convention), so a rare class counts as much as a common one in the loss — and the
      arg-max decision moves towards it; or one weight per class. The reported ``loss`` is then the weighted mean.
    """

    name = "classification"
    monitor = "acc"
    mode = "max"

    def __init__(self, label_smoothing: float = 0.0, macro_f1: bool = False, auc: bool = False,
                 positive: int = 1, class_weight: str | list[float] | None = None) -> None:
        if class_weight is not None and class_weight != "balanced" and not isinstance(class_weight, list):
            raise ValueError(f"class_weight must be 'balanced' or a list of one weight per class, got {class_weight!r}")
        if isinstance(class_weight, list) and any(not float(w) > 0 for w in class_weight):
            raise ValueError(f"class_weight weights must be positive, got {class_weight}")
        if positive < 0:
            raise ValueError(f"positive must be a class index ≥ 0, got {positive}")
        self.label_smoothing = label_smoothing
        self.macro_f1 = macro_f1
        self.auc = auc
        self.positive = positive
        self.class_weight = class_weight
        self.weight: torch.Tensor | None = None   # per class, set by setup()
        self.num_classes: int | None = None        # set by setup(): the model must give one logit per class
        if auc:
            self.monitor = "roc_auc"

    def setup(self, data: Dataset) -> None:
        k = self.num_classes = data.info.num_classes
        if k is None or data.train.targets.is_floating_point():
            raise ValueError(f"dataset {data.name!r} has no classes (its targets are values, its task is "
                             f"{data.info.task!r}): set task.name={data.info.task}, or leave task.name out")
        if self.auc and k is not None and self.positive >= k:
            raise ValueError(f"positive={self.positive} is not a class of {data.name} ({k} classes)")
        if self.class_weight is None:
            return
        if k is None:
            raise ValueError(f"class_weight needs a dataset with classes; {data.name} has none")
        if self.class_weight == "balanced":
            counts = torch.bincount(data.train.targets, minlength=k).double()
            if (counts == 0).any():
                missing = [i for i in range(k) if counts[i] == 0]
                raise ValueError(f"class_weight=balanced: class(es) {missing} have no training samples")
            self.weight = (counts.sum() / (k * counts)).float()
        else:
            if len(self.class_weight) != k:
                raise ValueError(f"class_weight has {len(self.class_weight)} weights for {k} classes")
            self.weight = torch.tensor([float(w) for w in self.class_weight])

    def fitted(self) -> dict[str, Any]:
        return {"class_weight": [round(float(w), 6) for w in self.weight]} if self.weight is not None else {}

    def compute(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                groups: torch.Tensor | None = None) -> StepResult:
        logits = model(inputs)
        if self.num_classes is not None and (logits.dim() != 2 or logits.shape[1] != self.num_classes):
            raise ValueError(f"{type(model).__name__} gives outputs of shape {tuple(logits.shape[1:])} per sample; "
                             f"the data has {self.num_classes} classes (model.num_classes={self.num_classes})")
        weight = self.weight.to(logits.device) if self.weight is not None else None
        loss = F.cross_entropy(logits.float(), targets, weight=weight, label_smoothing=self.label_smoothing)
        n = targets.shape[0]
        with torch.no_grad():
            pred = logits.argmax(dim=1)
            # weighted mean loss × the batch's total weight, so that batches combine into the split's weighted mean
            size = weight[targets].sum() if weight is not None else torch.tensor(float(n), device=logits.device)
            sums = {"loss": loss.detach() * size, "weight": size, "correct": (pred == targets).sum(),
                    "n": torch.tensor(n)}
            if self.macro_f1 or self.auc:   # per-class counts, summed over batches: F1 needs the whole split's
                k = logits.shape[1]
                sums["tp"] = torch.bincount(targets[pred == targets], minlength=k)
                sums["pred"] = torch.bincount(pred, minlength=k)
                sums["true"] = torch.bincount(targets, minlength=k)
            if self.auc:
                is_pos = (targets == self.positive).long()
                sums["auc_hist"] = torch.bincount(is_pos * AUC_BINS + _bins(_log_odds(logits, self.positive)),
                                                  minlength=2 * AUC_BINS)
        return StepResult(loss, sums, logits)

    def finalize(self, sums: dict[str, Any]) -> dict[str, float]:
        n = max(sums.get("n", 0), 1)
        metrics = {"loss": sums["loss"] / max(sums.get("weight", n), 1e-12), "acc": sums["correct"] / n}
        if "tp" in sums:
            tp, pred, true = (torch.as_tensor(sums[k], dtype=torch.float64).reshape(-1) for k in ("tp", "pred", "true"))
            if self.macro_f1:
                seen = (pred + true) > 0
                metrics["macro_f1"] = float((2 * tp[seen] / (pred[seen] + true[seen])).mean()) if seen.any() else 0.0
            if self.auc:
                hist = torch.as_tensor(sums["auc_hist"], dtype=torch.float64).reshape(2, AUC_BINS)
                metrics["roc_auc"], metrics["pr_auc"] = auc_from_histograms(hist[0], hist[1])
                p = self.positive
                pos_true, neg_true = true[p], true.sum() - true[p]
                false_pos = pred[p] - tp[p]   # other classes predicted as the positive one
                metrics["sensitivity"] = float(tp[p] / pos_true) if pos_true > 0 else float("nan")
                metrics["specificity"] = float(1 - false_pos / neg_true) if neg_true > 0 else float("nan")
        return metrics

    def exact_metrics(self, predictions: dict[str, torch.Tensor], targets: torch.Tensor) -> dict[str, float]:
        """ROC and PR AUC exactly from the kept log-odds (the binned ones of `finalize` are for the epochs)."""
        if not self.auc or "score" not in predictions:
            return {}
        roc, pr = exact_auc(predictions["score"], targets == self.positive)
        return {"roc_auc": roc, "pr_auc": pr}

    def predictions(self, outputs: torch.Tensor) -> dict[str, torch.Tensor]:
        preds = {"pred": outputs.argmax(dim=1)}
        if self.auc:
            preds["score"] = _log_odds(outputs, self.positive)
        return preds
