"""The classification task's metrics against hand-computed values."""
from __future__ import annotations

import math

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


# ------------------------------------------------------------------------------ two classes: AUC, weights

def _exact_auc(score: torch.Tensor, positive: torch.Tensor) -> float:
    """Mann-Whitney by brute force: P(positive's score > negative's), ties half."""
    p, n = score[positive], score[~positive]
    diff = p[:, None] - n[None, :]
    return float(((diff > 0).double() + 0.5 * (diff == 0).double()).mean())


def _exact_ap(score: torch.Tensor, positive: torch.Tensor) -> float:
    """Average precision over distinct scores: mean over positives of the precision at their rank."""
    order = torch.argsort(score, descending=True)
    hits = positive[order].double()
    precision = torch.cumsum(hits, 0) / torch.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def _run_batches(task, logits, targets, size=37):
    total = {}
    for i in range(0, len(targets), size):
        for k, v in task.compute(_Fixed(), logits[i:i + size], targets[i:i + size]).sums.items():
            total[k] = total[k] + v if k in total else v
    return task.finalize({k: v.item() if v.numel() == 1 else v.tolist() for k, v in total.items()})


def test_auc_metrics_match_brute_force_across_batches():
    g = torch.Generator().manual_seed(0)
    targets = (torch.rand(500, generator=g) < 0.2).long()        # 20 % positives, like an imbalanced outcome
    logits = torch.randn(500, 2, generator=g) * 1.5
    logits[:, 1] += targets * 1.2                                  # informative but far from perfect
    m = _run_batches(Classification(auc=True), logits, targets)
    score, positive = logits[:, 1] - logits[:, 0], targets == 1
    assert m["roc_auc"] == pytest.approx(_exact_auc(score, positive), abs=2e-4)
    assert 0.6 < m["roc_auc"] < 0.9
    assert m["pr_auc"] == pytest.approx(_exact_ap(score, positive), abs=2e-3)
    pred = logits.argmax(1)
    assert m["sensitivity"] == pytest.approx(float((pred[positive] == 1).double().mean()))
    assert m["specificity"] == pytest.approx(float((pred[~positive] == 0).double().mean()))
    assert Classification(auc=True).monitor == "roc_auc" and Classification().monitor == "acc"


def test_auc_of_perfect_reversed_and_constant_scores():
    targets = torch.tensor([0, 0, 1, 1])
    ranked = torch.tensor([[0.0, -3.0], [0.0, -1.0], [0.0, 1.0], [0.0, 3.0]])
    assert _run_batches(Classification(auc=True), ranked, targets)["roc_auc"] == pytest.approx(1.0)
    assert _run_batches(Classification(auc=True), -ranked, targets)["roc_auc"] == pytest.approx(0.0)
    flat = _run_batches(Classification(auc=True), torch.zeros(4, 2), targets)
    assert flat["roc_auc"] == pytest.approx(0.5) and flat["pr_auc"] == pytest.approx(0.5)
    one_class = _run_batches(Classification(auc=True), ranked, torch.ones(4, dtype=torch.long))
    assert math.isnan(one_class["roc_auc"])


def test_positive_class_is_one_against_the_rest():
    logits = torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.0, 3.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0]])
    targets = torch.tensor([0, 2, 1, 2])
    task = Classification(auc=True, positive=2)
    m = _run_batches(task, logits, targets)
    assert m["roc_auc"] == pytest.approx(1.0) and m["sensitivity"] == pytest.approx(1.0)
    score = task.predictions(logits)["score"]      # log-odds of class 2 against classes 0 and 1
    assert score[1] == pytest.approx(3.0 - math.log(2.0), abs=1e-5)


def _data(targets, k=2):
    from nnstudy.data.base import DataInfo, Dataset, Split
    split = Split(torch.zeros(len(targets), 1), torch.tensor(targets))
    return Dataset("toy", split, None, split, DataInfo((1,), num_classes=k))


def test_balanced_class_weights_follow_training_counts_and_weight_the_loss():
    task = Classification(class_weight="balanced")
    task.setup(_data([0] * 6 + [1] * 2))                 # n / (k · n_c): 8 / 12 and 8 / 4
    assert task.weight.tolist() == pytest.approx([2 / 3, 2.0])
    assert task.fitted() == {"class_weight": pytest.approx([2 / 3, 2.0])}
    g = torch.Generator().manual_seed(1)
    logits, targets = torch.randn(50, 2, generator=g), (torch.rand(50, generator=g) < 0.3).long()
    m = _run_batches(task, logits, targets, size=7)      # batches combine into the split's weighted mean
    expected = torch.nn.functional.cross_entropy(logits, targets, weight=task.weight)
    assert m["loss"] == pytest.approx(float(expected), rel=1e-5)
    assert Classification().fitted() == {}


@pytest.mark.parametrize("kwargs, data, match", [
    ({"class_weight": "inverse"}, None, "class_weight must be 'balanced' or a list"),
    ({"class_weight": [1.0, 0.0]}, None, "must be positive"),
    ({"class_weight": [1.0, 2.0, 3.0]}, [0, 1], "3 weights for 2 classes"),
    ({"class_weight": "balanced"}, [0, 0], r"class\(es\) \[1\] have no training samples"),
    ({"auc": True, "positive": 2}, [0, 1], "positive=2 is not a class of toy"),
])
def test_bad_options_say_what_is_wrong(kwargs, data, match):
    with pytest.raises(ValueError, match=match):
        Classification(**kwargs).setup(_data(data if data is not None else [0, 1]))


def test_final_test_auc_is_exact_from_the_kept_scores(toy_overrides):
    """Per epoch the AUC is binned (it must add up over batches); the test AUC in the summary is exact."""
    import json

    from safetensors.numpy import load_file
    metrics = pytest.importorskip("sklearn.metrics")
    from nnstudy import load_config
    from nnstudy.engine import evaluate_run, train
    result = train(load_config("mlp", [*toy_overrides, "task.name=classification", "task.auc=true",
                                       "task.positive=1", "train.epochs=1", "name=auc"]), progress=False)
    saved = load_file(str(result.run_dir / "predictions.safetensors"))
    positive = saved["target"] == 1
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["metrics"]["test_roc_auc"] == pytest.approx(metrics.roc_auc_score(positive, saved["score"]),
                                                               abs=1e-12)
    assert summary["metrics"]["test_pr_auc"] == pytest.approx(
        metrics.average_precision_score(positive, saved["score"]), abs=1e-12)
    again = evaluate_run(result.run_dir)   # `nnstudy eval RUN_DIR` scores it the same way
    assert again["metrics"]["test_roc_auc"] == pytest.approx(summary["metrics"]["test_roc_auc"], abs=1e-12)
