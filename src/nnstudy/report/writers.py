"""A study's report from its directory alone: figures/*.png, report.md (GitHub) and report.html (one file that
opens offline: figures embedded as data URIs, inline CSS, no external resource).

    paths = build_report("studies/cifar-cnn-ablation")   # {"report.md": ..., "report.html": ..., "figures/...": ...}

The report reads study.yaml and the run directories (through :mod:`nnstudy.study.results`); the only other input
is the dataset, rebuilt from a run's config to draw test images with their predicted labels, and skipped with a note
when it is not available. Failed, running and missing runs are listed, never hidden, so a report can be built at any
time during a sweep.

Both documents are rendered from one list of blocks (headings, paragraphs, tables, figures), so they say the same:
document.py holds the blocks, render.py turns them into Markdown and HTML, context.py reads the study and its
runs once; this module draws the figures and writes the text.
"""
from __future__ import annotations

import math
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import yaml

from ..errors import clip
from ..io import write_text
from . import figures as F
from .context import Context, file_slug, read_forecasts, read_predictions, read_scores
from .document import Banner, Block, Bold, Bullets, Code, CodeBlock, Gallery, Heading, Image, Inline, Link, Para, Table
from .render import render_html, render_markdown

__all__ = ["build_report"]


# ---------------------------------------------------------------------------------------------- entry point

def build_report(study_dir: str | Path, *, progress: bool = False) -> dict[str, Path]:
    """Write figures/*.png, report.md and report.html into `study_dir`, from its study.yaml and run directories.

    Returns {path relative to study_dir: absolute path} of every file written. Raises RunDirError (one line) when
    `study_dir` is not a study directory; anything wrong with single runs is shown in the report instead.
    """
    from ..study.results import aggregate, collect_runs, read_study, summary_table

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
    blocks = _document(ctx, figures)
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
    metric_label = F.metric_label(ctx.metric)
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
        "mean": [_agg(ctx, v, f"{ctx.metric}_mean") for v in ctx.variants],
        "std": [_agg(ctx, v, f"{ctx.metric}_std") for v in ctx.variants],
        "n": [_agg(ctx, v, "n", 0) for v in ctx.variants]})
    reference = {v: (ctx.report.reference.get(v) or {}).get(ctx.metric) for v in ctx.variants}
    reference = {v: _number(x) for v, x in reference.items() if _number(x) is not None}   # no line for a non-number
    better = "higher is better" if ctx.report.mode == "max" else "lower is better"
    out.append(Heading(3, "Overview"))
    image("metric_bars", lambda p: F.metric_bars(
        bars, p, ylabel=metric_label, title=f"{metric_label.split(' (')[0]} per variant ({better})",
        colors=ctx.colors, baseline=ctx.baseline, reference=reference),
        f"{metric_label} per variant: mean ± std over seeds"
        + ("; dashed black lines: the write-up's reported value (one run)" if reference else "") + ".")

    histories = {v: [r.history for r in ctx.finished(v) if r.history is not None] for v in ctx.variants}
    histories = {v: h for v, h in histories.items() if h}
    if histories:
        image("learning_curves", lambda p: F.learning_curves(histories, p, colors=ctx.colors, loss_name=loss_name,
                                                              title="Learning curves of every variant"),
              "Per-epoch learning curves of every variant (finished runs): train dashed, validation solid"
              + _test_curve_text(ctx) + "; line = mean over seeds, band = mean ± std.")
    else:
        ctx.notes.append("learning curves: no finished run has a metrics.csv yet")
    steps = {v: [r.steps for r in ctx.finished(v) if r.steps is not None] for v in ctx.variants}
    steps = {v: h for v, h in steps.items() if h}
    if steps:
        image("step_curves", lambda p: F.learning_curves(steps, p, colors=ctx.colors, loss_name=loss_name,
                                                          x_axis="step", title="Validation every N optimiser steps"),
              "Validation metrics every N optimiser steps (train.eval_every_steps; train = running mean of the "
              "epoch so far): line = mean over seeds, band = mean ± std.")

    pair: list[Block] = []
    for key, xlabel, stem, what in (("params", "trainable parameters", "tradeoff_params", "model size"),
                                    ("train_seconds", "training time per run (s, wall clock)", "tradeoff_time",
                                     "training time")):
        points = pd.DataFrame({
            "variant": ctx.variants,
            "x": [_agg(ctx, v, f"{key}_mean") for v in ctx.variants],
            "x_err": [_agg(ctx, v, f"{key}_std") for v in ctx.variants],
            "y": bars["mean"], "y_err": bars["std"]})
        if points[["x", "y"]].notna().all(axis=1).any():
            image(stem, lambda p, pts=points, xl=xlabel, w=what: F.tradeoff_scatter(
                pts, p, xlabel=xl, ylabel=metric_label, colors=ctx.colors,
                title=f"{metric_label.split(' (')[0]} vs {w}"),
                f"{metric_label} against {xlabel}, one point per variant (error bars: ± std over seeds).", pair)
        else:
            ctx.notes.append(f"{stem}.png: no finished run reports {key}")
    images = [b for b in pair if isinstance(b, Image)]
    out += [Gallery(images)] if images else []
    out += [b for b in pair if not isinstance(b, Image)]

    scores = {v: [sc for r in ctx.finished(v) if (sc := read_scores(r)) is not None] for v in ctx.variants}
    scores = {v: runs for v, runs in scores.items() if runs}
    if scores:
        def auc_text(v: str, m: str) -> str:
            mean, std = _agg(ctx, v, f"test_{m}_mean"), _agg(ctx, v, f"test_{m}_std")
            return "—" if pd.isna(mean) else f"{mean:.3f}" + ("" if pd.isna(std) else f" ± {std:.3f}")

        legend = {v: f"{v}: ROC AUC {auc_text(v, 'roc_auc')}, PR AUC {auc_text(v, 'pr_auc')}" for v in scores}
        image("roc_pr", lambda p: F.roc_pr_curves(scores, p, colors=ctx.colors, legend=legend,
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
                    if r.summary and (e := _whole(r.summary.get("selected_epoch"))) is not None}
        image(f"curves_{slug}", lambda p, v=variant, h=with_history, s=status, e=selected: F.seed_curves(
            v, h, p, color=ctx.colors[v], status=s, selected_epochs=e, loss_name=loss_name),
            f"{variant}: learning curves, one line per seed (dotted: unfinished runs; star: the epoch selected "
            f"on validation, whose weights give the test metrics).")

        forecasts = [(r, f) for r in ctx.finished(variant) if (f := read_forecasts(r)) is not None]
        if forecasts:
            run, panels = forecasts[0]
            image(f"forecast_{slug}", lambda p, v=variant, pn=panels, s=run.seed: F.forecast_plot(
                pn, p, title=f"{v} (seed {s}): forecast vs actual on the test split", color=ctx.colors[v]),
                f"{variant}: next-hour forecasts against the actual load on the test split (seed {run.seed}).")

        preds = [(r, read_predictions(r)) for r in ctx.finished(variant)]
        preds = [(r, p) for r, p in preds if p is not None]
        if not preds:
            continue
        first = preds[0][0]
        data, why = ctx.dataset(first)
        info = getattr(data, "info", None)
        k = max(int(max(p.max(), t.max())) + 1 for _, (p, t) in preds)
        names = list(info.class_names) if info is not None and info.class_names else None
        if names is None or len(names) < k:
            num = getattr(info, "num_classes", None) or k
            names = [str(i) for i in range(max(num, k))]
        counts = sum(F.confusion_counts(p, t, len(names)) for _, (p, t) in preds)
        image(f"confusion_{slug}", lambda p, v=variant, c=counts, n=len(preds): F.confusion_matrix(
            c, names, p, title=f"{v}: normalised confusion matrix", runs=n),
            f"{variant}: confusion matrix of the test predictions summed over {len(preds)} seed(s); each row (true "
            f"class) sums to 1.")

        pred, target = preds[0][1]
        if data is None:
            grid_reason = grid_reason or f"the dataset could not be rebuilt from the runs' config ({why})"
            continue
        inputs = data.test.inputs
        if inputs.ndim != 4 or str(inputs.dtype) != "torch.uint8":
            grid_reason = grid_reason or f"the dataset's inputs are not images ({tuple(inputs.shape)[1:]}, " \
                                         f"{str(inputs.dtype).removeprefix('torch.')})"
            continue
        if len(data.test) != len(target) or not np.array_equal(data.test.targets.numpy(), target):
            ctx.notes.append(f"{variant}: test images not shown, the rebuilt test split does not match the run's "
                             f"predictions ({len(data.test)} vs {len(target)} samples)")
            continue
        image(f"predictions_{slug}", lambda p, v=variant, s=first.seed: F.prediction_grid(
            inputs.numpy(), pred, target, names, p, title=f"{v} (seed {s})", seed=0),
            f"{variant}: 20 random test images (the same for every variant) with the predicted and true class of "
            f"seed {first.seed}'s model; wrong predictions in red.")
    if grid_reason:
        ctx.notes.append(f"test-image grids not drawn: {grid_reason}")
    return out


def _agg(ctx: Context, variant: str, column: str, default: Any = float("nan")) -> Any:
    row = ctx.agg_row(variant)
    if row is None or column not in row.index or pd.isna(row[column]):
        return default
    return row[column]


# ------------------------------------------------------------------------------------------------- the text

def _document(ctx: Context, figure_blocks: list[Block]) -> list[Block]:
    study, report, metric = ctx.study, ctx.report, ctx.metric
    name, mode = study.name, study.mode
    counts = Counter(str(s) for s in ctx.runs["status"])
    total = len(ctx.runs)
    blocks: list[Block] = [Heading(1, f"Study: {name}" + ("" if mode == "full" else f" ({mode.upper()} MODE)"))]
    blocks.append(Para([Bold("Mode: "), Code(mode), f" · {len(ctx.variants)} variants × {len(study.seeds)} "
                        f"seeds = {total} runs · {counts.get('finished', 0)} finished · baseline ",
                        Code(ctx.baseline), " · report metric ", Code(metric),
                        f" ({'higher' if report.mode == 'max' else 'lower'} is better) · built "
                        f"{time.strftime('%Y-%m-%d %H:%M %Z')}"]))
    if mode != "full":
        blocks.append(Banner("warning", [Bold(f"{mode.upper()} MODE."), " These runs use a shortened protocol "
                                         "(fewer epochs and/or less data) to check that the study works end to end. "
                                         "Their numbers are not comparable with the write-up's; run the full mode "
                                         "for results."]))
    unfinished = {s: c for s, c in counts.items() if s != "finished"}
    if unfinished:
        blocks.append(Banner("warning", [Bold("Partial study: "), f"{counts.get('finished', 0)} of {total} runs "
                                         "finished (" + ", ".join(f"{c} {s}" for s, c in sorted(unfinished.items()))
                                         + "). Means, verdicts and figures use the finished runs only; see ",
                                         Link("Failed and unfinished runs", "#failed-and-unfinished-runs"), "."]))
    if study.description:
        blocks += [Para([line]) for line in study.description.strip().split("\n\n")]
    if report.notes:
        blocks.append(Banner("note", [report.notes]))

    sections: list[tuple[str, list[Block]]] = [
        ("Results", _results_section(ctx)),
        ("Compared with the write-up", _reference_section(ctx)),
        ("Figures", _figures_section(ctx, figure_blocks)),
        ("Runs", _runs_section(ctx)),
        ("Failed and unfinished runs", _failed_section(ctx)),
        ("Study definition", _definition_section(ctx)),
        ("Environment", _environment_section(ctx)),
        ("Rebuild this report", _rebuild_section(ctx)),
    ]
    sections = [(t, b) for t, b in sections if b]
    blocks.append(Bullets([[Link(t, "#" + Heading(2, t).anchor)] for t, _ in sections]))
    for title, body in sections:
        blocks.append(Heading(2, title))
        blocks += body
    return blocks


def _results_section(ctx: Context) -> list[Block]:
    from ..study.results import TEST_DESCRIPTION
    table = ctx.table
    header = [str(c) for c in table.columns]
    rows = [[str(v) for v in row] for row in table.itertuples(index=False)]
    numeric = [c not in ("variant", "verdict") for c in header]
    return [
        Para(["Mean ± std over finished seeds (std with ddof = 1; a single seed shows its value alone). params: "
              "trainable parameters; MACs: multiply-accumulates per sample, forward pass (FLOPs = 2 × MACs); train s "
              "/ eval s: wall-clock seconds per run. Test metrics come from the weights of the epoch selected on "
              "validation."]),
        Table(header, rows, numeric),
        Para([Bold("Significance: "), "each variant against the baseline ", Code(ctx.baseline), " on ",
              Code(ctx.metric), f": {TEST_DESCRIPTION}. diff = variant − baseline."]),
    ] + _compute_table(ctx) + _result_files(ctx)


def _compute_table(ctx: Context) -> list[Block]:
    """Model size and cost per variant in the three counting conventions of docs/measurement.md."""
    columns = (("params", "params"), ("macs", "MACs"), ("flops", "FLOPs"), ("flops_detailed", "detailed FLOPs"))
    rows = [[v, *(_int(_agg(ctx, v, f"{key}_mean")) for key, _ in columns)] for v in ctx.variants]
    if all(cell == "—" for row in rows for cell in row[1:]):
        return []
    return [Para([Bold("Compute per sample, forward pass: "), "MACs = multiply-accumulates of conv, linear, matmul and "
                  "recurrent layers (gates and every time step included); FLOPs = 2 × MACs; detailed FLOPs add "
                  "element-wise work (activations, pooling compares, normalisation). See docs/measurement.md."]),
            Table(["variant", *(title for _, title in columns)], rows, [False, True, True, True, True])]


def _result_files(ctx: Context) -> list[Block]:
    files = [n for n in ("results.csv", "results.parquet", "summary.csv", "summary.parquet")
             if (ctx.study_dir / n).is_file()]
    if not files:
        return []
    parts: list[Inline] = ["Tables for pandas: "]
    for i, n in enumerate(files):
        parts += ([", "] if i else []) + [Link(n, n)]
    return [Para(parts + [" (one row per run / per variant)."])]


def _reference_section(ctx: Context) -> list[Block]:
    reference = ctx.report.reference
    rows = []
    for variant in [v for v in ctx.variants if v in reference] + [v for v in reference if v not in ctx.variants]:
        for metric, value in (reference.get(variant) or {}).items():
            mean, std = _agg(ctx, variant, f"{metric}_mean"), _agg(ctx, variant, f"{metric}_std")
            n = int(_agg(ctx, variant, "n", 0))
            rows.append([variant, metric, _num(value), _mean_std(mean, std), str(n),
                         "—" if pd.isna(mean) or _number(value) is None else f"{mean - _number(value):+.4g}"])
    if not rows:
        return []
    source = ctx.report.reference_source or "not given"
    return [Para(["The numbers the write-up reports (one run each) beside ours (mean ± std over n seeds). "
                  "Source: ", str(source)]),
            Table(["variant", "metric", "write-up", "nnstudy", "n", "nnstudy − write-up"], rows,
                  [False, False, True, True, True, True])]


def _figures_section(ctx: Context, figure_blocks: list[Block]) -> list[Block]:
    blocks = list(figure_blocks)
    if ctx.notes:
        blocks += [Heading(3, "Figures not drawn"), Bullets([[n] for n in ctx.notes])]
    return blocks


def _runs_section(ctx: Context) -> list[Block]:
    runs = ctx.runs
    metrics = [m for m in ctx.report.all_metrics if m in runs.columns]
    header = ["variant", "seed", "status", *metrics, "params", "MACs", "train s", "eval s", "selected epoch",
              "run directory"]
    decimals = {m: _decimals(runs[m]) for m in metrics}
    rows = []
    for r in runs.itertuples(index=False):
        d = r._asdict()
        rel = str(d["run_dir"])
        where: Inline = Link(rel, rel.rstrip("/") + "/") if (ctx.study_dir / rel).is_dir() else rel
        rows.append([str(d["variant"]), str(d["seed"]), str(d["status"]),
                     *[_num(d.get(m), decimals[m]) for m in metrics],
                     _int(d.get("params")), _int(d.get("macs")), _num(d.get("train_seconds"), 1),
                     _num(d.get("eval_seconds"), 2), _int(d.get("selected_epoch")), where])
    numeric = [False, True, False, *[True] * len(metrics), True, True, True, True, True, False]
    return [Para(["One row per (variant, seed). Metrics of the epoch selected on validation; test metrics "
                  "measured once, at the end of the run."]),
            Table(header, rows, numeric)]


_CAUSES = {"running": "no summary.json yet: still running, or killed (continue it with --resume)",
           "missing": "not started"}


def _failed_section(ctx: Context) -> list[Block]:
    bad = ctx.runs[ctx.runs["status"] != "finished"]
    if bad.empty:
        return [Para(["None: every run finished."])]
    rows = []
    for r in bad.itertuples(index=False):
        error = str(r.error) if not pd.isna(r.error) and str(r.error) else ""
        cause: Inline = Code(" ".join(error.split())) if error else _CAUSES.get(str(r.status), str(r.status))
        rows.append([str(r.variant), str(r.seed), str(r.status), cause])
    return [Table(["variant", "seed", "status", "cause"], rows, [False, True, False, False])]


def _definition_section(ctx: Context) -> list[Block]:
    study = ctx.study
    rows = []
    for v in study.variants:
        text = ", ".join(f"{k}={_yaml_inline(x)}" for k, x in v.overrides.items()) or "(the base config)"
        rows.append([v.name + (" (baseline)" if v.name == ctx.baseline else ""), Code(text)])
    blocks: list[Block] = [
        Para([f"Seeds: {', '.join(str(s) for s in study.seeds)}"
              + (f"; each seed also sets {', '.join(study.seed_keys)}, so every seed draws its own "
                 f"split and the spread over seeds includes the split's" if study.seed_keys else "")
              + ". Each variant is the base config with its overrides (dotted keys)."]),
        Table(["variant", "overrides"], rows, [False, False]),
    ]
    if study.base:
        blocks += [Para(["Base run config:"]),
                   CodeBlock(yaml.safe_dump(study.base, sort_keys=False, default_flow_style=False).strip(),
                             "yaml")]
    return blocks


_ENV_KEYS = [("nnstudy", "nnstudy"), ("git_commit", "git commit"), ("python", "Python"), ("torch", "PyTorch"),
             ("numpy", "NumPy"), ("platform", "platform"), ("cpu", "CPU"), ("cpu_count", "CPU cores"),
             ("torch_threads", "torch threads per run"), ("device", "device"), ("gpu", "GPU"), ("cuda", "CUDA")]


def _environment_section(ctx: Context) -> list[Block]:
    summaries = [r.summary for runs in ctx.by_variant.values() for r in runs if r.summary]
    envs = [s.get("environment") or {} for s in summaries]
    if not any(envs):
        return [Para(["No finished run yet: the environment is recorded in each run's summary.json."])]
    env = next(e for e in envs if e)
    rows = []
    for key, label in _ENV_KEYS:
        if env.get(key) is None:
            continue
        value = str(env[key])
        if key == "git_commit" and env.get("git_dirty"):
            value += " (with uncommitted changes)"
        rows.append([label, Code(value)])
    data = next((s.get("data") for s in summaries if s.get("data")), None)
    if data:
        rows.append(["data", f"train {data.get('train', '?')} / validation {data.get('val', '?')} / test "
                             f"{data.get('test', '?')} samples; {data.get('source', '')}"])
    blocks: list[Block] = [Para(["As recorded by the runs (first finished run shown):"]),
                           Table(["item", "value"], rows, [False, False])]
    keys = ("cpu", "gpu", "device", "torch_threads", "torch")
    machines = Counter(tuple(None if e.get(k) is None else str(e[k]) for k in keys) for e in envs if e)
    if len(machines) > 1:
        blocks += [Para(["The runs did not all run in the same environment, so timings are not directly "
                         "comparable:"]),
                   Table(["CPU", "GPU", "device", "torch threads", "PyTorch", "runs"],
                         [[*(str(x) if x is not None else "—" for x in k), str(n)] for k, n in machines.items()],
                         [False, False, False, True, False, True])]
    return blocks


def _rebuild_section(ctx: Context) -> list[Block]:
    where = str(ctx.study_dir.resolve())
    return [Para(["This report is built from study.yaml and the run directories alone; rebuild it with:"]),
            CodeBlock(f"nnstudy report {_shell_quote(where)}    # or, inside the study directory: nnstudy report .",
                      "sh")]


# -------------------------------------------------------------------------------------------------- helpers

def _num(value: Any, decimals: int = 3) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "—"
    try:
        return f"{float(value):.{decimals}f}"
    except (TypeError, ValueError):
        return str(value)


def _decimals(values: pd.Series) -> int:
    """Decimals that show a column's values to about 3-4 significant digits: 0.593 → 3, 45.6 → 2, 1243 → 0."""
    v = pd.to_numeric(values, errors="coerce").abs().dropna()
    v = v[v > 0]
    if v.empty:
        return 3
    top = float(v.max())
    return 4 if top < 0.01 else 3 if top < 10 else 2 if top < 100 else 1 if top < 1000 else 0


def _int(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "—"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError, OverflowError):
        return "—"


def _number(value: Any) -> float | None:
    """A value of a user's file as a float (a number or a numeric string), None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _whole(value: Any) -> int | None:
    """A value of a user's file as an int when it is a finite whole number, else None."""
    number = _number(value) if not isinstance(value, str) else None
    return int(number) if number is not None and math.isfinite(number) and number == int(number) else None


def _mean_std(mean: Any, std: Any) -> str:
    if pd.isna(mean):
        return "—"
    return f"{mean:.4g}" if pd.isna(std) else f"{mean:.4g} ± {std:.2g}"


def _yaml_inline(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _shell_quote(text: str) -> str:
    return text if re.fullmatch(r"[\w./=,+-]+", text) else "'" + text.replace("'", "'\\''") + "'"


def _test_curve_text(ctx) -> str:
    """How the per-epoch test curve (train.test_every_epoch) and validation were scored, if there is one."""
    runs = [r for v in ctx.variants for r in ctx.finished(v)
            if r.history is not None and any(c.startswith("test_") for c in r.history.columns)]
    if not runs:
        return ""
    summary = runs[0].summary or {}
    sizes = summary.get("in_training_eval") or {}
    curve, val = _whole(sizes.get("test_curve_samples")), _whole(sizes.get("val_samples"))
    whole = _whole((summary.get("data") or {}).get("test"))
    text = ", test after each epoch dotted (curves only: the epoch is selected on validation"
    if curve and whole and curve < whole:
        text += f"; each point scores a fixed random {curve:,} of the {whole:,} test samples, validation " \
                f"{val or 0:,} samples; the table's test metrics score all of them"
    return text + ")"
