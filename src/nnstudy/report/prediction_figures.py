"""Figures of a task's predictions on the test set, as PNG files: confusion matrices, grids of test images with
their predicted and true labels, forecasts against the actual series, ROC and precision-recall curves. Drawn as
figures.py draws (bare Agg figures, written atomically, released at once)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .figures import _new_figure, _save

__all__ = ["confusion_counts", "confusion_matrix", "prediction_grid", "forecast_plot", "roc_points", "pr_points",
           "roc_pr_curves"]


# -------------------------------------------------------------------------------------- 1. confusion matrix

def confusion_counts(pred: np.ndarray, target: np.ndarray, num_classes: int) -> np.ndarray:
    """K×K counts, rows = true class, columns = predicted class."""
    pred, target = np.asarray(pred, dtype=np.int64), np.asarray(target, dtype=np.int64)
    return np.bincount(target * num_classes + pred, minlength=num_classes * num_classes).reshape(num_classes,
                                                                                                 num_classes)


def confusion_matrix(counts: np.ndarray, class_names: Sequence[str], path: str | Path, *, title: str,
                     runs: int = 1) -> Path:
    """Row-normalised confusion matrix (each true class sums to 1) of `counts` summed over `runs` runs."""
    counts = np.asarray(counts, dtype=np.float64)
    k = counts.shape[0]
    rows = counts.sum(axis=1, keepdims=True)
    norm = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    side = max(5.0, 0.55 * k + 2.5)                  # inches: room for K cells and the class names
    fig = _new_figure(side + 0.9, side)     # + room for the colour bar
    ax = fig.subplots()
    im = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(k), [str(n) for n in class_names], rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(k), [str(n) for n in class_names])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= 15:                                        # beyond that the numbers no longer fit in the cells
        for i in range(k):
            for j in range(k):
                if counts[i, j] == 0:              # a quiet dot, so the cells that matter stand out
                    ax.text(j, i, "·", ha="center", va="center", fontsize=8, color="0.6")
                    continue
                ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.55 else "black")
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    cbar.set_label("fraction of the true class")
    n = int(counts.sum())
    acc = float(np.trace(counts) / n) if n else float("nan")
    seeds = f"{runs} seeds" if runs != 1 else "1 seed"
    ax.set_title(f"{title}\n{n:,} test predictions over {seeds}, accuracy {acc:.3f}", fontsize=11)
    return _save(fig, path)


# ------------------------------------------------------------------------------------------ 2. image grid

def prediction_grid(images: np.ndarray, pred: np.ndarray, target: np.ndarray, class_names: Sequence[str],
                    path: str | Path, *, title: str, n: int = 20, seed: int = 0, columns: int = 5) -> Path:
    """`n` test images drawn at random (generator seeded with `seed`, so every variant shows the same images)
    with predicted and true labels; wrong predictions in red.

    Args:
        images: uint8 N×C×H×W (C = 1 or 3), the stored, unnormalised pixels.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8 or images.shape[1] not in (1, 3):
        raise ValueError(f"prediction_grid needs uint8 N×C×H×W images with C = 1 or 3, got "
                         f"{images.dtype} {images.shape}")
    n = min(n, len(images))
    idx = np.sort(np.random.default_rng(seed).choice(len(images), size=n, replace=False))
    rows = math.ceil(n / columns)
    fig = _new_figure(columns * 1.9, rows * 2.15 + 0.6)
    axes = fig.subplots(rows, columns, squeeze=False)
    wrong = 0
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, i in zip(axes.flat, idx):
        img = images[i].transpose(1, 2, 0)
        ax.imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray" if img.shape[2] == 1 else None,
                  interpolation="nearest")
        ok = int(pred[i]) == int(target[i])
        wrong += not ok
        # green right, red wrong; the bold title and thick frame carry it for colour-blind readers too
        color = "#1a7f37" if ok else "#d1242f"
        ax.set_title(f"pred: {class_names[int(pred[i])]}\ntrue: {class_names[int(target[i])]}",
                     fontsize=9, color=color, fontweight="normal" if ok else "bold")
        ax.set_axis_on()
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_edgecolor(color)
            spine.set_linewidth(1.0 if ok else 2.5)
    fig.suptitle(f"{title}: {n} random test images, {wrong} wrong (red)", fontsize=12)
    return _save(fig, path)


# ----------------------------------------------------------------------------------- 3. forecast vs actual

def forecast_plot(panels: Sequence[tuple[str, np.ndarray, np.ndarray]], path: str | Path, *, title: str,
                  quantity: str = "value", unit: str | None = None, step: str = "step", color: Any = "C0") -> Path:
    """Forecast against actual values, one panel per (caption, actual, forecast) — e.g. the last 100 test hours
    of region 1 and the first 100 of region 4 (SPEC E)."""
    fig = _new_figure(6.0 * len(panels), 3.8)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (caption, actual, forecast) in zip(axes, panels):
        hours = np.arange(len(actual))
        ax.plot(hours, actual, color="0.2", lw=1.6, label="actual")
        ax.plot(hours, forecast, color=color, lw=1.4, ls="--", label="forecast")
        ax.set_xlabel(step)
        ax.set_ylabel(f"{quantity} ({unit})" if unit else quantity)
        ax.set_title(caption, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    fig.suptitle(title, fontsize=12)
    return _save(fig, path)


# ------------------------------------------------------------------------------------ 4. ROC and PR curves

def roc_points(score: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) at every distinct threshold, from (0, 0) to (1, 1): a sample is
    called positive when its score is ≥ the threshold; tied scores move together."""
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
    s, y = np.asarray(score, dtype=np.float64)[order], np.asarray(positive, dtype=bool)[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]     # the last sample of each run of tied scores
    tp, fp = np.cumsum(y)[last], np.cumsum(~y)[last]
    return np.r_[0.0, fp / max(fp[-1], 1)], np.r_[0.0, tp / max(tp[-1], 1)]


def pr_points(score: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) at every distinct threshold, highest threshold first."""
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
    s, y = np.asarray(score, dtype=np.float64)[order], np.asarray(positive, dtype=bool)[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp, called = np.cumsum(y)[last], last + 1
    return tp / max(tp[-1], 1), tp / called


def roc_pr_curves(curves: dict[str, list[tuple[np.ndarray, np.ndarray]]], path: str | Path, *, colors: dict,
                  legend: dict[str, str], title: str) -> Path:
    """ROC (left) and precision-recall (right) curves of the test split: one line per run, coloured by variant.
    `curves`: variant → [(score, is_positive) per seed]; `legend`: variant → its label (e.g. mean ± std AUC)."""
    fig = _new_figure(12.0, 5.4)
    roc_ax, pr_ax = fig.subplots(1, 2)
    prevalence = []
    for variant, runs in curves.items():
        for i, (score, positive) in enumerate(runs):
            label = legend.get(variant, variant) if i == 0 else None
            # ROC: straight lines between thresholds (a run of tied scores is a diagonal), the area the AUC measures;
            # PR: steps, precision held from one threshold's recall to the next (as average precision sums it)
            roc_ax.plot(*roc_points(score, positive), color=colors.get(variant), lw=1.3, alpha=0.85, label=label)
            recall, precision = pr_points(score, positive)
            pr_ax.plot(recall, precision, color=colors.get(variant), lw=1.3, alpha=0.85, label=label,
                       drawstyle="steps-pre")
            prevalence.append(float(np.mean(positive)))
    roc_ax.plot([0, 1], [0, 1], color="0.5", ls=":", lw=1, label="chance")
    if prevalence:
        pr_ax.axhline(float(np.mean(prevalence)), color="0.5", ls=":", lw=1,
                      label=f"chance (positive rate {np.mean(prevalence):.3f})")
    roc_ax.set(xlabel="false positive rate (1 − specificity)", ylabel="true positive rate (sensitivity)",
               xlim=(0, 1), ylim=(0, 1.01), title="ROC curve")
    pr_ax.set(xlabel="recall (sensitivity)", ylabel="precision (positive predictive value)", xlim=(0, 1),
              ylim=(0, 1.01), title="Precision-recall curve")
    for ax in (roc_ax, pr_ax):
        ax.grid(alpha=0.3)
        ax.set_aspect("equal")
    roc_ax.legend(loc="lower right", fontsize=8)
    pr_ax.legend(loc="upper right", fontsize=8)
    fig.suptitle(title, fontsize=12)
    return _save(fig, path)
