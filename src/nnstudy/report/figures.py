"""Study figures as PNG files: each function takes plain data (DataFrames, arrays, dicts) and an output path,
writes the figure atomically and returns the path.

Figures are drawn on a bare ``matplotlib.figure.Figure`` with the Agg canvas: no pyplot state, no GUI backend,
nothing set at import, and each figure is released (``_save``) as soon as it is written, so building a report
inside a notebook or a worker process neither opens windows nor leaks figures.

Colours: ``variant_colors(names)`` gives every variant one colour, used by every figure of a report.
The figures of a task's test predictions (confusion matrices, image grids, forecasts, ROC/PR) are in
prediction_figures.py.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..io import atomic_path

__all__ = ["variant_colors", "metric_label", "learning_curves", "seed_curves", "tradeoff_scatter", "metric_bars",
           "DPI"]

ERROR_BARS = "error bars: ± std over seeds"
ONE_SEED = "one seed per variant: no error bars"
DPI = 120                       # dots per inch: a 10-inch-wide figure is 1,200 px, sharp on a laptop screen

# What a metric is and in which unit; anything else is shown by its own name.
_METRIC_LABELS = {
    "acc": "accuracy (fraction correct)",
    "loss": "loss",
    "smape": "sMAPE (%)",
    "smape_legacy": "legacy sMAPE (%, blog formula = standard / 4)",
    "mae": "MAE ({unit})",
    "rmse": "RMSE ({unit})",
    "auc": "ROC AUC",
    "roc_auc": "ROC AUC (0.5 = chance)",
    "pr_auc": "PR AUC (average precision)",
    "macro_f1": "macro-F1 (mean of per-class F1)",
    "sensitivity": "sensitivity (recall of the positive class)",
    "specificity": "specificity (recall of the negative class)",
    "params": "trainable parameters",
    "macs": "MACs per sample",
    "flops": "FLOPs per sample (2 × MACs)",
    "train_seconds": "training time (s, wall clock)",
    "eval_seconds": "evaluation time (s, wall clock)",
}
_SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}


def metric_label(name: str, loss_name: str | None = None, unit: str | None = None) -> str:
    """Axis label with unit: 'test_acc' -> 'test accuracy (fraction correct)'; `loss_name` names the loss
    (e.g. 'cross-entropy, nats') where the task is known; `unit` the target's unit for errors in its units (MAE:
    'MW' for energy, as the run recorded it)."""
    split, _, base = name.partition("_")
    if split not in _SPLIT_NAMES or not base:
        split, base = "", name
    label = _METRIC_LABELS.get(base, base.replace("_", " ")).replace("{unit}", unit or "target's units")
    if base == "loss" and loss_name:
        label = f"loss ({loss_name})"
    return f"{_SPLIT_NAMES[split]} {label}" if split else label


def variant_colors(names: Sequence[str]) -> dict[str, Any]:
    """One colour per variant, in display order: tab10 up to 10 variants, tab20 up to 20, then a hue wheel."""
    from matplotlib import colormaps
    n = len(names)
    if n <= 10:
        cmap, count = colormaps["tab10"], 10
    elif n <= 20:
        cmap, count = colormaps["tab20"], 20
    else:
        cmap, count = colormaps["hsv"], n + 1
    return {name: cmap(i % count) for i, name in enumerate(names)}


# ----------------------------------------------------------------------------------------------------- helpers

def _new_figure(width: float, height: float):
    """A Figure on the Agg canvas (sizes in inches), independent of pyplot's global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=DPI, facecolor="white")
    finally:
        fig.clear()             # drop artists and their arrays now rather than at garbage collection
    return path


def _metric_names(histories: Sequence[pd.DataFrame]) -> list[str]:
    """Metrics with train_/val_/test_ columns, loss first then accuracy then the rest (train_seconds excluded)."""
    found: list[str] = []
    for df in histories:
        for col in df.columns:
            split, _, base = col.partition("_")
            if split in ("train", "val", "test") and base and base != "seconds" and base not in found:
                found.append(base)
    order = {"loss": 0, "acc": 1}
    return sorted(found, key=lambda m: (order.get(m, 2), found.index(m)))


def _band(histories: Sequence[pd.DataFrame], column: str, x: str = "epoch") -> pd.DataFrame:
    """Mean, std and count of `column` per `x` (epoch or step) over seeds (seeds may have run different lengths)."""
    parts = [df[[x, column]] for df in histories if column in df.columns and x in df.columns]
    if not parts:
        return pd.DataFrame(columns=["mean", "std", "n"])
    stacked = pd.concat(parts).dropna()
    stats = stacked.groupby(x)[column].agg(["mean", "std", "count"]).rename(columns={"count": "n"})
    stats["std"] = stats["std"].fillna(0.0)      # one seed at an epoch: no spread to show
    return stats


def _shade(color: Any, k: int, n: int) -> tuple[float, ...]:
    """The k-th of n shades of `color`, darker to lighter, so the seeds of one variant stay recognisable."""
    from matplotlib.colors import to_rgb
    rgb = np.array(to_rgb(color))
    f = -0.35 + 0.8 * k / (n - 1) if n > 1 else 0.0   # < 0 mixes in black, > 0 mixes in white
    mixed = rgb * (1 + f) if f < 0 else rgb + (1 - rgb) * f
    return tuple(np.clip(mixed, 0, 1))


def _epoch_axis(ax, label: str = "epoch") -> None:
    """Whole epochs (or steps) on the x axis, with room around a lone one (matplotlib would tick 0.96, 0.98, ...)."""
    from matplotlib.ticker import MaxNLocator
    ax.set_xlabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    lo, hi = ax.get_xlim()
    if hi - lo < 2:
        mid = round((lo + hi) / 2)
        ax.set_xlim(mid - 1, mid + 1)


def _clip_outliers(ax, values: Sequence[float]) -> None:
    """Keep far-off values from flattening every other curve. Up to 1,000× the median (e.g. a first epoch's loss
    far above the later ones) a log y axis shows everything. Beyond that (a diverging run's loss of 1e26), the y
    axis stops just above the largest value within 3× the median, and a note says so."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    if len(v) < 3:
        return
    med = float(np.median(np.abs(v)))
    if med <= 0 or v.max() <= 10 * med:
        return
    if v.min() > 0 and v.max() <= 1000 * med:
        ax.set_yscale("log")
        return
    kept = v[v <= 3 * med]
    top = float(kept.max()) if len(kept) else 3 * med
    lo = float(v.min())
    pad = 0.06 * (top - lo) if top > lo else 0.1 * abs(top)
    ax.set_ylim(lo - pad, top + pad)
    ax.text(0.98, 0.97, f"off scale: values up to {v.max():.3g}\n(a diverging run?)", transform=ax.transAxes,
            ha="right", va="top", fontsize=8, color="#d1242f",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8})


def _legend_below(fig, handles, labels, ncol: int) -> None:
    fig.legend(handles, labels, loc="outside lower center", ncol=max(1, ncol), frameon=False, fontsize=9)


# ------------------------------------------------------------------------------------------ 1. learning curves

_SPLIT_STYLES = {"train": "--", "val": "-", "test": ":"}
_CURVE_LEGEND = {"train": "train", "val": "validation", "test": "test (not used for selection)"}


def learning_curves(histories: Mapping[str, Sequence[pd.DataFrame]], path: str | Path, *,
                    colors: Mapping[str, Any] | None = None, title: str = "Learning curves",
                    loss_name: str | None = None, x_axis: str = "epoch", unit: str | None = None) -> Path:
    """Every variant's curves overlaid: one panel per metric (loss, accuracy, ...), train dashed, validation
    solid and — where runs scored test every epoch (train.test_every_epoch) — test dotted; line = mean over
    seeds, band = mean ± std over seeds.

    Args:
        histories: variant -> the metrics.csv DataFrames of its runs (columns epoch, train_loss, val_acc, ...),
            or their steps.csv DataFrames with x_axis="step" (train = running mean over the epoch so far).
    """
    from matplotlib.lines import Line2D
    colors = dict(colors or variant_colors(list(histories)))
    metrics = _metric_names([df for dfs in histories.values() for df in dfs]) or ["loss"]
    fig = _new_figure(6.0 * len(metrics), 4.8)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    max_seeds, splits_seen = 1, set()
    for ax, metric in zip(axes, metrics):
        plotted: list[float] = []
        for variant, dfs in histories.items():
            for split, style in _SPLIT_STYLES.items():
                stats = _band(dfs, f"{split}_{metric}", x_axis)
                if stats.empty:
                    continue
                splits_seen.add(split)
                max_seeds = max(max_seeds, int(stats["n"].max()))
                x = stats.index.to_numpy(dtype=float)
                plotted += list(stats["mean"])
                ax.plot(x, stats["mean"], style, color=colors[variant], lw=1.6,
                        marker="o" if len(x) == 1 else None)
                if stats["n"].max() > 1:
                    ax.fill_between(x, stats["mean"] - stats["std"], stats["mean"] + stats["std"],
                                    color=colors[variant], alpha=0.15, lw=0)
        _epoch_axis(ax, "optimiser step" if x_axis == "step" else x_axis)
        _clip_outliers(ax, plotted)
        ax.set_ylabel(metric_label(metric, loss_name, unit))
        ax.set_title(metric_label(metric, loss_name, unit).split(" (")[0])
        ax.grid(alpha=0.3)
    band = "band = mean ± std over seeds" if max_seeds > 1 else "one seed per variant"
    fig.suptitle(f"{title}  ({band})", fontsize=12)
    handles = [Line2D([], [], color=colors[v], lw=2.5) for v in histories]
    labels = list(histories)
    for split, style in _SPLIT_STYLES.items():
        if split in splits_seen or split != "test":
            handles.append(Line2D([], [], color="0.3", ls=style))
            labels.append(_CURVE_LEGEND[split])
    _legend_below(fig, handles, labels, ncol=min(len(labels), 6))
    return _save(fig, path)


# ---------------------------------------------------------------------------------- 2. per-variant 2×2 panel

def seed_curves(variant: str, histories: Mapping[int, pd.DataFrame], path: str | Path, *,
                color: Any = "tab:blue", status: Mapping[int, str] | None = None,
                selected_epochs: Mapping[int, int] | None = None, loss_name: str | None = None,
                unit: str | None = None) -> Path:
    """One variant's runs, one line per seed: a row per metric (loss, accuracy), train left and validation right
    (the 2×2 of the seizure write-up). Seeds whose status is not "finished" are dotted and labelled with it; a
    star marks the epoch selected on validation.

    Args:
        histories: seed -> that run's metrics.csv as a DataFrame.
        status: seed -> run status ("finished", "failed", "running"); missing = finished.
    """
    metrics = _metric_names(list(histories.values())) or ["loss"]
    fig = _new_figure(10.0, 3.4 * len(metrics) + 0.8)
    axes = fig.subplots(len(metrics), 2, squeeze=False)
    seeds = list(histories)
    selected_epochs, status = selected_epochs or {}, status or {}
    for r, metric in enumerate(metrics):
        for c, split in enumerate(("train", "val")):
            ax = axes[r][c]
            col = f"{split}_{metric}"
            plotted: list[float] = []
            for k, seed in enumerate(seeds):
                df = histories[seed]
                if col not in df.columns:
                    continue
                shade = _shade(color, k, len(seeds))
                plotted += list(pd.to_numeric(df[col], errors="coerce"))
                state = status.get(seed, "finished")
                ax.plot(df["epoch"], df[col], "-" if state == "finished" else ":", color=shade, lw=1.6,
                        marker="o" if len(df) == 1 else None,
                        label=f"seed {seed}" + ("" if state == "finished" else f" ({state})"))
                epoch = selected_epochs.get(seed)
                if split == "val" and epoch is not None and (df["epoch"] == epoch).any():
                    ax.plot([epoch], df.loc[df["epoch"] == epoch, col].iloc[:1], "*", color=shade, ms=11,
                            mec="black", mew=0.6)
            label = metric_label(col, loss_name, unit)
            ax.set_title(label.split(" (")[0])
            _epoch_axis(ax)
            _clip_outliers(ax, plotted)
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if selected_epochs:
        from matplotlib.lines import Line2D
        handles.append(Line2D([], [], ls="", marker="*", color="0.5", mec="black", ms=11))
        labels.append("epoch selected on validation")
    _legend_below(fig, handles, labels, ncol=min(len(labels), 6))
    fig.suptitle(f"{variant}: per-seed learning curves", fontsize=12)
    return _save(fig, path)


# ------------------------------------------------------------------------------------- 3. trade-off scatter

def tradeoff_scatter(points: pd.DataFrame, path: str | Path, *, xlabel: str, ylabel: str, title: str,
                     colors: Mapping[str, Any] | None = None, log_x: bool | None = None) -> Path:
    """One point per variant with error bars over seeds, labelled with the variant's name.

    Args:
        points: columns variant, x, x_err, y, y_err (errors: std over seeds, 0 or NaN for none).
        log_x: logarithmic x axis; by default when x spans more than a factor of 20.
    """
    points = points.dropna(subset=["x", "y"])
    # std over one seed is NaN: then no point has an error bar, and the title says why instead of promising them
    spread = bool(np.isfinite(points[["x_err", "y_err"]].to_numpy(dtype=float)).any())
    colors = dict(colors or variant_colors(list(points["variant"])))
    fig = _new_figure(6.2, 4.5)   # inches: shown two abreast in the HTML report
    ax = fig.subplots()
    labels = []
    for row in points.itertuples(index=False):
        xerr = None if not np.isfinite(row.x_err) or row.x_err == 0 else row.x_err
        yerr = None if not np.isfinite(row.y_err) or row.y_err == 0 else row.y_err
        ax.errorbar(row.x, row.y, xerr=xerr, yerr=yerr, fmt="o", ms=7, color=colors.get(row.variant, "0.3"),
                    ecolor=colors.get(row.variant, "0.3"), elinewidth=1.4, capsize=4)
        labels.append(ax.text(row.x, row.y, str(row.variant), fontsize=9, color="0.15"))
    xs = points["x"].to_numpy(dtype=float)
    if log_x is None:
        log_x = len(xs) > 1 and xs.min() > 0 and xs.max() / xs.min() > 20
    if log_x:
        ax.set_xscale("log")
    if np.nanmax(np.abs(xs), initial=0) >= 10_000:     # 62,006 params reads better as 62k, 11.2M as 11.2M
        from matplotlib.ticker import EngFormatter
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.xaxis.set_minor_formatter(EngFormatter(sep="") if log_x else ax.xaxis.get_minor_formatter())
    ax.margins(x=0.15, y=0.15)                      # room for the labels beside the outermost points
    ax.set_xlabel(xlabel + (" (log scale)" if log_x else ""))
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\n({ERROR_BARS if spread else ONE_SEED})", fontsize=11)
    ax.grid(alpha=0.3, which="both" if log_x else "major")
    if points.empty:
        ax.text(0.5, 0.5, "no finished runs", ha="center", va="center", transform=ax.transAxes)
    elif len(labels) > 1:
        # labels moved apart (adjustText), inside the axes, with a thin line to their point when moved far
        from adjustText import adjust_text
        adjust_text(labels, ax=ax, x=points["x"].to_numpy(float), y=points["y"].to_numpy(float),
                    expand=(1.15, 1.4), arrowprops={"arrowstyle": "-", "color": "0.55", "lw": 0.6})
    return _save(fig, path)


# ------------------------------------------------------------------------------------------ 4. metric bars

def metric_bars(bars: pd.DataFrame, path: str | Path, *, ylabel: str, title: str,
                colors: Mapping[str, Any] | None = None, baseline: str | None = None,
                reference: Mapping[str, float] | None = None, reference_label: str = "write-up") -> Path:
    """The report metric per variant: bar = mean over seeds, error bar = std, text = mean and n; a black dashed
    line across the bar marks the reference value (labelled reference_label in the legend) where there is one.

    Args:
        bars: columns variant, mean, std, n (rows in display order; mean NaN = no finished run).
    """
    from matplotlib.lines import Line2D
    colors = dict(colors or variant_colors(list(bars["variant"])))
    reference = dict(reference or {})
    k = len(bars)
    fig = _new_figure(max(6.0, 0.9 * k + 2.5), 5.2)
    ax = fig.subplots()
    x = np.arange(k)
    means = bars["mean"].to_numpy(dtype=float)
    spread = bool(np.isfinite(bars["std"].to_numpy(dtype=float)).any())     # NaN std: one seed per variant
    stds = np.nan_to_num(bars["std"].to_numpy(dtype=float))
    ok = np.isfinite(means)                        # variants without a finished run get a note, not a bar
    ax.bar(x[ok], means[ok], yerr=stds[ok] if spread else None, capsize=5, width=0.65,
           color=[colors.get(v, "0.5") for v, k in zip(bars["variant"], ok) if k], edgecolor="black",
           linewidth=0.6, error_kw={"elinewidth": 1.3})
    top = np.nanmax(np.concatenate([means + stds, list(reference.values()) or [0.0], [0.0]]))
    top = top if np.isfinite(top) and top > 0 else 1.0
    for xi, (variant, mean, std, n) in enumerate(zip(bars["variant"], means, stds, bars["n"])):
        if not np.isfinite(mean):
            ax.text(xi, top * 0.05, "no finished\nrun", ha="center", va="bottom", fontsize=9, color="#d1242f")
            continue
        ax.text(xi, mean + std + top * 0.015, f"{mean:.3f}\nn={int(n)}", ha="center", va="bottom", fontsize=8)
    has_ref = False
    for xi, variant in enumerate(bars["variant"]):
        if variant in reference and reference[variant] is not None:
            ax.plot([xi - 0.4, xi + 0.4], [reference[variant]] * 2, "--", color="black", lw=2, zorder=5)
            has_ref = True
    ax.set_ylim(0, top * 1.18)                      # headroom for the value labels above the error bars
    labels = [f"{v}\n(baseline)" if v == baseline else str(v) for v in bars["variant"]]
    ax.set_xticks(x, labels, rotation=30 if k > 5 else 0, ha="right" if k > 5 else "center",
                  rotation_mode="anchor")
    ax.set_ylabel(ylabel)
    ax.set_xlabel("variant")
    ax.set_title(f"{title}\n(" + ("bar: mean over seeds, error bar: ± std" if spread else ONE_SEED) + ")",
                 fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    if has_ref:
        _legend_below(fig, [Line2D([], [], ls="--", color="black", lw=2)], [reference_label], 1)
    return _save(fig, path)
