"""The classification task's metrics against hand-computed values."""
from __future__ import annotations

import pytest
import torch

from nnstudy.tasks.classification import Classification


class _Fixed(torch.nn.Module):
    """Returns the logits it was given as 'inputs'."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _metrics(task, batches):
    total = {}
    for pred, target in batches:
        logits = torch.nn.functional.one_hot(torch.tensor(pred), 3).float() * 5
        for k, v in task.compute(_Fixed(), logits, torch.tensor(target)).sums.items():
            total[k] = total[k] + v if k in total else v
    return task.finalize({k: v.item() if v.numel() == 1 else v.tolist() for k, v in total.items()})


def test_macro_f1_by_hand_across_batches():
    # targets 0 0 1 1 2 | predictions 0 1 1 1 0: class 0: TP 1, FP 1, FN 1 → F1 1/2; class 1: TP 2, FP 1, FN 0
    # → 4/5; class 2: TP 0, FN 1 → 0. Macro: (0.5 + 0.8 + 0) / 3.
    batches = [([0, 1], [0, 0]), ([1, 1, 0], [1, 1, 2])]
    m = _metrics(Classification(macro_f1=True), batches)
    assert m["acc"] == pytest.approx(3 / 5)
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert "macro_f1" not in _metrics(Classification(), batches)   # off by default: no extra column


def test_macro_f1_skips_classes_absent_from_targets_and_predictions():
    m = _metrics(Classification(macro_f1=True), [([0, 1], [0, 1])])    # class 2 never occurs
    assert m["macro_f1"] == pytest.approx(1.0)
