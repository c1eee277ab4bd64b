"""A study's report from its directory alone: figures/*.png, report.md (GitHub) and report.html (one file that
opens offline: figures embedded as data URIs, inline CSS, no external resource).

    paths = build_report("studies/cifar-cnn-ablation")   # {"report.md": ..., "report.html": ..., "figures/...": ...}

The report reads study.yaml and the run directories alone (through :mod:`nnstudy.study.results`): each run keeps
what its figures need (class names in summary.json; its test predictions and a fixed sample of test images in
predictions.safetensors), so no dataset is rebuilt and no model registry imported. Failed, running and missing runs
are listed, never hidden, so a report can be built at any time during a sweep.

Both documents are rendered from one list of blocks (headings, paragraphs, tables, figures), so they say the same:
document.py holds the blocks, render.py turns them into Markdown and HTML, context.py reads the study and its
runs once, sections.py writes the text; this module draws the figures.
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Callable

import pandas as pd

from ..errors import clip
from ..io import write_text
from . import figures as F
from . import prediction_figures as P
from .context import (
    Context,
    agg_value,
    class_names,
    file_slug,
    number,
    read_forecasts,
    read_predictions,
    read_sample_images,
    read_scores,
    recorded,
    whole,
)
from .document import Block, Gallery, Heading, Image, Para
from .render import render_html, render_markdown
from .sections import document

__all__ = ["build_report"]


# ---------------------------------------------------------------------------------------------- entry point

def build_report(study_dir: str | Path, *, progress: bool = False) -> dict[str, Path]:
    """Write figures/*.png, report.md and report.html into `study_dir`, from its study.yaml and run directories.

    Returns {path relative to study_dir: absolute path} of every file written. Raises RunDirError (one line) when
    `study_dir` is not a study directory; anything wrong with single runs is shown in the report instead.
    """
    from ..study.results import aggregate, collect_runs, read_study
    from ..study.tables import summary_table

    study_dir = Path(study_dir)
    say: Callable[[str], None] = (lambda m: print(f"report: {m}", file=sys.stderr, flush=True)) if progress \
        else (lambda m: None)
    study = read_study(study_dir)
    runs = collect_runs(study_dir)
    agg = aggregate(runs, study)
    ctx = Context(study_dir, study, runs, agg, summary_table(agg, study), say)
    ctx.load_runs()
    written: dict[str, Path] = {}
    figures = _make_figures(ctx)
    for fig in figures:
        for img in fig.images if isinstance(fig, Gallery) else [fig] if isinstance(fig, Image) else []:
            written[img.href] = img.path
    blocks = document(ctx, figures)
    md_path, html_path = study_dir / "report.md", study_dir / "report.html"
    write_text(md_path, render_markdown(blocks))
    mode = "" if study.mode == "full" else f" ({study.mode.upper()} MODE)"
    write_text(html_path, render_html(blocks, title=f"{study.name}{mode} — nnstudy report"))
    written["report.md"], written["report.html"] = md_path, html_path
    say(f"wrote {md_path} and {html_path} ({len(written) - 2} figures)")
    return written


# -------------------------------------------------------------------------------------------------- figures

def _make_figures(ctx: Context) -> list[Block]:
    """Draw every figure; return the blocks of the report's figure section (images, sub-headings, notes)."""
    from matplotlib import rc_context
    fig_dir = ctx.study_dir / "figures"
    out: list[Block] = []
    unit = recorded(ctx, "unit")   # the target's unit, as the runs recorded it (energy: MW)
    metric_label = F.metric_label(ctx.metric, unit=unit)
    loss_name = ctx.loss_name()

    def image(name: str, draw: Callable[[Path], Path], caption: str, into: list[Block] = out) -> None:
        path = fig_dir / f"{name}.png"
        ctx.say(f"figure {path.name}")
        try:
            # names are text, never mathtext: a variant named '$\\frac$' must not break (or format) a figure
            with rc_context({"text.parse_math": False}):
                draw(path)
        except Exception as e:              # one broken figure must not cost the whole report
            why = f"{type(e).__name__}: {clip(str(e), 300)}"
            ctx.notes.append(f"{path.name} was not drawn: {why}")
            into.append(Para([f"{path.name}: not drawn ({why})."]))
            return
        into.append(Image(path, f"figures/{path.name}", caption))

    # -- study-level figures -------------------------------------------------------------------------------------
    bars = pd.DataFrame({
        "variant": ctx.variants,
        "mean": [agg_value(ctx, v, f"{ctx.metric}_mean") for v in ctx.variants],
        "std": [agg_value(ctx, v, f"{ctx.metric}_std") for v in ctx.variants],
        "n": [agg_value(ctx, v, "n", 0) for v in ctx.variants]})
    reference = {v: (ctx.report.reference.get(v) or {}).get(ctx.metric) for v in ctx.variants}
    reference = {v: number(x) for v, x in reference.items() if number(x) is not None}   # no line for a non-number
    better = "higher is better" if ctx.report.mode == "max" else "lower is better"
    spread = bool(bars["std"].notna().any())           # std over one seed is NaN
    bands = "line = mean over seeds, band = mean ± std" if spread else "one seed per variant"
    out.append(Heading(3, "Overview"))
    image("metric_bars", lambda p: F.metric_bars(
        bars, p, ylabel=metric_label, title=f"{metric_label.split(' (')[0]} per variant ({better})",
        colors=ctx.colors, baseline=ctx.baseline, reference=reference, reference_label=ctx.report.reference_label),
        f"{metric_label} per variant: " + ("mean ± std over seeds" if spread else "one seed per variant")
        + (f"; dashed black lines: the reference value ({ctx.report.reference_label})" if reference else "") + ".")

    histories = {v: [r.history for r in ctx.finished(v) if r.history is not None] for v in ctx.variants}
    histories = {v: h for v, h in histories.items() if h}
    if histories:
        image("learning_curves", lambda p: F.learning_curves(histories, p, colors=ctx.colors, loss_name=loss_name,
                                                              unit=unit, title="Learning curves of every variant"),
              "Per-epoch learning curves of every variant (finished runs): train dashed, validation solid"
              + _test_curve_text(ctx) + f"; {bands}.")
    else:
        ctx.notes.append("learning curves: no finished run has a metrics.csv yet")
    steps = {v: [r.steps for r in ctx.finished(v) if r.steps is not None] for v in ctx.variants}
    steps = {v: h for v, h in steps.items() if h}
    if steps:
        tested = any(c.startswith("test_") for dfs in steps.values() for df in dfs for c in df.columns)
        scored = f"Validation and test {_every(steps)}" if tested else f"Validation {_every(steps)}"
        image("step_curves", lambda p: F.learning_curves(steps, p, colors=ctx.colors, loss_name=loss_name, unit=unit,
                                                          x_axis="step", title=scored),
              f"{scored} (train.eval_every_steps; train = running mean of the "
              "epoch so far" + (", test dotted: curves only, the epoch is selected on validation" if tested else "")
              + f"): {bands}.")

    pair: list[Block] = []
    for key, xlabel, stem, what in (("params", "trainable parameters", "tradeoff_params", "model size"),
                                    ("train_seconds", "training time per run (s, wall clock)", "tradeoff_time",
                                     "training time")):
        points = pd.DataFrame({
            "variant": ctx.variants,
            "x": [agg_value(ctx, v, f"{key}_mean") for v in ctx.variants],
            "x_err": [agg_value(ctx, v, f"{key}_std") for v in ctx.variants],
            "y": bars["mean"], "y_err": bars["std"]})
        if points[["x", "y"]].notna().all(axis=1).any():
            image(stem, lambda p, pts=points, xl=xlabel, w=what: F.tradeoff_scatter(
                pts, p, xlabel=xl, ylabel=metric_label, colors=ctx.colors,
                title=f"{metric_label.split(' (')[0]} vs {w}"),
                f"{metric_label} against {xlabel}, one point per variant "
                f"({F.ERROR_BARS if spread else 'one seed each'}).", pair)
        else:
            ctx.notes.append(f"{stem}.png: no finished run reports {key}")
    images = [b for b in pair if isinstance(b, Image)]
    out += [Gallery(images)] if images else []
    out += [b for b in pair if not isinstance(b, Image)]

    scores = {v: [sc for r in ctx.finished(v) if (sc := read_scores(r)) is not None] for v in ctx.variants}
    scores = {v: runs for v, runs in scores.items() if runs}
    if scores:
        def auc_text(v: str, m: str) -> str:
            mean, std = agg_value(ctx, v, f"test_{m}_mean"), agg_value(ctx, v, f"test_{m}_std")
            return "—" if pd.isna(mean) else f"{mean:.3f}" + ("" if pd.isna(std) else f" ± {std:.3f}")

        legend = {v: f"{v}: ROC AUC {auc_text(v, 'roc_auc')}, PR AUC {auc_text(v, 'pr_auc')}" for v in scores}
        image("roc_pr", lambda p: P.roc_pr_curves(scores, p, colors=ctx.colors, legend=legend,
                                                  title="Test split: ROC and precision-recall curves"),
              "ROC (left) and precision-recall (right) curves on the test split, one line per seed; the legend "
              "gives each variant's mean ± std over seeds. Dotted: a classifier that guesses.")

    # -- per-variant figures -------------------------------------------------------------------------------------
    taken: set[str] = set()
    grid_reason: str | None = None
    for variant in ctx.variants:
        slug = file_slug(variant, taken)
        runs = ctx.by_variant.get(variant, [])
        with_history = {r.seed: r.history for r in runs if r.history is not None}
        out.append(Heading(3, f"Variant {variant}"))
        if not with_history:
            out.append(Para([f"No run of {variant} has recorded an epoch yet."]))
            continue
        status = {r.seed: r.status for r in runs}
        selected = {r.seed: e for r in runs
                    if r.summary and (e := whole(r.summary.get("selected_epoch"))) is not None}
        image(f"curves_{slug}", lambda p, v=variant, h=with_history, s=status, e=selected: F.seed_curves(
            v, h, p, color=ctx.colors[v], status=s, selected_epochs=e, loss_name=loss_name, unit=unit),
            f"{variant}: learning curves, one line per seed (dotted: unfinished runs; star: the epoch selected "
            f"on validation, whose weights give the test metrics).")

        forecasts = [(r, f) for r in ctx.finished(variant) if (f := read_forecasts(r)) is not None]
        if forecasts:
            run, panels = forecasts[0]
            quantity, unit, step = recorded(ctx, "quantity") or "value", recorded(ctx, "unit"), \
                recorded(ctx, "step") or "step"
            image(f"forecast_{slug}", lambda p, v=variant, pn=panels, s=run.seed: P.forecast_plot(
                pn, p, title=f"{v} (seed {s}): forecast vs actual on the test split", quantity=quantity, unit=unit,
                step=step, color=ctx.colors[v]),
                f"{variant}: forecasts against the actual {quantity} on the test split (seed {run.seed}).")

        preds = [(r, read_predictions(r)) for r in ctx.finished(variant)]
        preds = [(r, p) for r, p in preds if p is not None]
        if not preds:
            continue
        first = preds[0][0]
        k = max(int(max(p.max(), t.max())) + 1 for _, (p, t) in preds)
        names = class_names(first, k)
        counts = sum(P.confusion_counts(p, t, len(names)) for _, (p, t) in preds)
        image(f"confusion_{slug}", lambda p, v=variant, c=counts, n=len(preds): P.confusion_matrix(
            c, names, p, title=f"{v}: normalised confusion matrix", runs=n),
            f"{variant}: confusion matrix of the test predictions summed over {len(preds)} seed(s); each row (true "
            f"class) sums to 1.")

        pred, target = preds[0][1]
        sample = read_sample_images(first)
        if sample is None:
            grid_reason = grid_reason or "the runs kept no test images (not image data, or trained before runs " \
                                         "kept them: `nnstudy eval` does not add them)"
            continue
        index, images = sample
        image(f"predictions_{slug}", lambda p, v=variant, s=first.seed, x=images, i=index: P.prediction_grid(
            x, pred[i], target[i], names, p, title=f"{v} (seed {s})", n=len(i)),
            f"{variant}: {len(index)} random test images (the same for every variant) with the predicted and true "
            f"class of seed {first.seed}'s model; wrong predictions in red.")
    if grid_reason:
        ctx.notes.append(f"test-image grids not drawn: {grid_reason}")
    return out


def _every(steps: dict[str, list[pd.DataFrame]]) -> str:
    """"every 250 optimiser steps": the usual gap of the step column the runs logged ("every N …" when none)."""
    gaps = Counter(int(g) for dfs in steps.values() for df in dfs if "step" in df
                   for g in pd.to_numeric(df["step"], errors="coerce").dropna().diff().dropna() if g > 0)
    return f"every {gaps.most_common(1)[0][0]:,} optimiser steps" if gaps else "every N optimiser steps"


def _test_curve_text(ctx) -> str:
    """How the per-epoch test curve (train.test_every_epoch) and validation were scored, if there is one."""
    runs = [r for v in ctx.variants for r in ctx.finished(v)
            if r.history is not None and any(c.startswith("test_") for c in r.history.columns)]
    if not runs:
        return ""
    summary = runs[0].summary or {}
    sizes = summary.get("in_training_eval") or {}
    curve, val = whole(sizes.get("test_curve_samples")), whole(sizes.get("val_samples"))
    total = whole((summary.get("data") or {}).get("test"))
    text = ", test after each epoch dotted (curves only: the epoch is selected on validation"
    if curve and total and curve < total:
        text += f"; each point scores a fixed random {curve:,} of the {total:,} test samples, validation " \
                f"{val or 0:,} samples; the table's test metrics score all of them"
    return text + ")"
