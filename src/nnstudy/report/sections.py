"""The report's text: its sections as document blocks (document.py), from the study's context (context.py).

Numbers are shown one way throughout (nnstudy.numbers): each column gets its decimals from its own values.
"""
from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

import pandas as pd
import yaml

from .. import numbers as N
from ..study.tables import places
from .context import Context, agg_value, number
from .document import Banner, Block, Bold, Bullets, Code, CodeBlock, Heading, Inline, Link, Para, Table

__all__ = ["document"]


def document(ctx: Context, figure_blocks: list[Block]) -> list[Block]:
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
                                         "Their numbers are not comparable with the full protocol's; run the full "
                                         "mode for results."]))
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
        (f"Compared with the {ctx.report.reference_label}", _reference_section(ctx)),
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
    from ..study.results import describe_verdicts
    from ..study.tables import chance_note, verdict_columns
    table = ctx.table[verdict_columns(ctx.table)]
    header = [str(c) for c in table.columns]
    rows = [[str(v) for v in row] for row in table.itertuples(index=False)]
    numeric = [c not in ("variant", "verdict") for c in header]
    blocks: list[Block] = []
    note = chance_note(ctx.agg, ctx.baseline)
    if note:
        blocks.append(Banner("warning", [Bold("Verdicts are not meaningful here: "),
                                         note.removeprefix("verdicts are not meaningful here: ") + "."]))
    blocks += [
        Para(["Mean ± std over finished seeds (std with ddof = 1; a single seed shows its value alone). Test metrics "
              "come from the weights of the epoch selected on validation."]),
        Table(header, rows, numeric),
        Para([Bold("Significance: "), "each variant against the baseline ", Code(ctx.baseline), " on ",
              Code(ctx.metric), f": {describe_verdicts(ctx.agg, ctx.study)}. diff = variant − baseline. "]
             + _tests_used(ctx)),
    ]
    return blocks + _claims_section(ctx) + _compute_table(ctx) + _result_files(ctx)


def _tests_used(ctx: Context) -> list[Inline]:
    """Which test each comparison used and why (one sentence per distinct reason); a variant without a difference
    (too few seeds finished) was not compared and names no test."""
    agg = ctx.agg[ctx.agg["diff"].notna()] if "diff" in ctx.agg else ctx.agg.iloc[:0]
    reasons = [str(r) for r in agg.get("reason", pd.Series(dtype="string")).dropna().unique()]
    return [f"Test: {r}." + (" " if i + 1 < len(reasons) else "") for i, r in enumerate(reasons)]


def claim_outcome(expect: str, verdict: str) -> str:
    """reproduced / not reproduced / inconclusive: a claim ("better", "worse", "equivalent") against our verdict."""
    decided = verdict.split(" (")[0]
    if decided.startswith("equivalent"):
        decided = "equivalent"
    if decided in ("better", "worse", "equivalent"):
        return "reproduced" if decided == expect else "not reproduced"
    return "inconclusive"


def _claims_section(ctx: Context) -> list[Block]:
    """The write-up's claims (report.claims), each tested as a hypothesis on our runs."""
    claims = ctx.report.claims
    if not claims:
        return []
    rows = []
    for c in claims:
        row = ctx.agg_row(c.variant)
        verdict = str(row["verdict"]) if row is not None else "not in this study"
        p = N.DASH
        if row is not None:   # the adjusted p; an adaptive study's own (sequential) test has the last look's p
            p = N.p_value(row["p_adjusted"] if not N.missing(row.get("p_adjusted")) else row.get("p_value"))
        rows.append([c.claim + (f" ({c.source})" if c.source else ""), f"{c.variant} {c.expect} than "
                     f"{ctx.baseline}" if c.expect != "equivalent" else f"{c.variant} equivalent to {ctx.baseline}",
                     verdict, p, claim_outcome(c.expect, verdict)])
    return [Heading(3, "The write-up's claims"),
            Para(["Each claim is tested as a hypothesis on our runs: reproduced when our verdict agrees, not "
                  "reproduced when it decides otherwise, inconclusive when it does not decide."]),
            Table(["claim", "tested as", "our verdict", "p", "outcome"], rows,
                  [False, False, False, True, False])]


def _compute_table(ctx: Context) -> list[Block]:
    """Model size and cost per variant in the three counting conventions of docs/measurement.md, and run times."""
    columns = (("params", "params"), ("macs", "MACs"), ("flops", "FLOPs"), ("flops_detailed", "detailed FLOPs"))
    rows = [[v, *(N.integer(agg_value(ctx, v, f"{key}_mean")) for key, _ in columns)] for v in ctx.variants]
    if all(cell == N.DASH for row in rows for cell in row[1:]):
        return []
    table = ctx.table.set_index("variant")
    rows = [row + [str(table.at[v, "train s"]), str(table.at[v, "eval s"])] for v, row in zip(ctx.variants, rows)]
    return [Para([Bold("Cost per variant: "), "params: trainable parameters; MACs: multiply-accumulates of conv, "
                  "linear, matmul and recurrent layers per sample, forward pass (gates and every time step included); "
                  "FLOPs = 2 × MACs; detailed FLOPs add element-wise work (activations, pooling compares, "
                  "normalisation), see docs/measurement.md; train s / eval s: wall-clock seconds per run."]),
            Table(["variant", *(title for _, title in columns), "train s", "eval s"], rows,
                  [False, True, True, True, True, True, True])]


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
            mean, std = agg_value(ctx, variant, f"{metric}_mean"), agg_value(ctx, variant, f"{metric}_std")
            n = int(agg_value(ctx, variant, "n", 0))
            rows.append([variant, metric, N.plain(value), N.mean_std(mean, std, places(ctx.agg, metric)), str(n),
                         "—" if pd.isna(mean) or number(value) is None else f"{mean - number(value):+.4g}"])
    if not rows:
        return []
    source = ctx.report.reference_source or "not given"
    label = ctx.report.reference_label
    return [Para([f"The reference numbers ({label}) beside ours (mean ± std over n seeds). Source: ", str(source)]),
            Table(["variant", "metric", label, "nnstudy", "n", f"nnstudy − {label}"], rows,
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
    decimals = {m: N.decimals(runs[m]) for m in metrics}
    rows = []
    for r in runs.itertuples(index=False):
        d = r._asdict()
        rel = str(d["run_dir"])
        where: Inline = Link(rel, rel.rstrip("/") + "/") if (ctx.study_dir / rel).is_dir() else rel
        rows.append([str(d["variant"]), str(d["seed"]), str(d["status"]),
                     *[N.fixed(d.get(m), decimals[m]) for m in metrics],
                     N.integer(d.get("params")), N.integer(d.get("macs")), N.fixed(d.get("train_seconds"), 1),
                     N.fixed(d.get("eval_seconds"), 2), N.integer(d.get("selected_epoch")), where])
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
             ("numpy", "NumPy"), ("platform", "platform"), ("cpu", "CPU"), ("cpu_id", "CPU id"),
             ("cpu_count", "CPU cores"), ("torch_threads", "torch threads per run"), ("device", "device"),
             ("gpu", "GPU"), ("cuda", "CUDA")]


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
    columns = {"cpu": "CPU", "cpu_id": "CPU id", "gpu": "GPU", "device": "device", "torch_threads": "torch threads",
               "torch": "PyTorch"}
    # the CPU id tells apart CPUs that VMs name alike ("AMD EPYC" for Zen 4 and Zen 5, ~2x apart per epoch); runs
    # written before it was recorded lack it, and lacking it does not make their CPU another one
    if not all(e.get("cpu_id") for e in envs if e):
        del columns["cpu_id"]
    machines = Counter(tuple(None if e.get(k) is None else str(e[k]) for k in columns) for e in envs if e)
    if len(machines) > 1:
        blocks += [Para(["The runs did not all run in the same environment, so timings are not directly "
                         "comparable:"]),
                   Table([*columns.values(), "runs"],
                         [[*(str(x) if x is not None else "—" for x in k), str(n)] for k, n in machines.items()],
                         [k == "torch_threads" for k in columns] + [True])]
    return blocks


def _rebuild_section(ctx: Context) -> list[Block]:
    where = str(ctx.study_dir.resolve())
    return [Para(["This report is built from study.yaml and the run directories alone; rebuild it with:"]),
            CodeBlock(f"nnstudy report {_shell_quote(where)}    # or, inside the study directory: nnstudy report .",
                      "sh")]


# -------------------------------------------------------------------------------------------------- helpers

def _yaml_inline(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _shell_quote(text: str) -> str:
    return text if re.fullmatch(r"[\w./=,+-]+", text) else "'" + text.replace("'", "'\\''") + "'"
