"""Does bf16 autocast cost accuracy? The energy GRU and the mortality model trained in fp32 and in bf16, same seeds.

    python benchmarks/precision_accuracy.py [--seeds 0 1 2] [--recipe-seeds mortality=0,1,2,3,4] \
        [--recipes energy mortality] [--cross-eval energy mortality] [--keep DIR]

Each recipe is one cell of a built-in study, trained as `nnstudy train STUDY --variant VARIANT --seed S` trains it,
once with `train.precision=fp32` and once with `train.precision=bf16` (forced, whatever `auto` would pick), through
`nnstudy.engine.train`:

- energy: `energy-rnn`, variant `cell=gru,layers=2`, default mode (chunks, 3 epochs); test_smape_legacy (the blog's
  figure) and test_smape on all 109,029 test windows; lower is better;
- mortality: `mortality`, variant `variable-rnn`, full mode (15 epochs; each seed also draws its own 70/15/15 split);
  test_roc_auc and test_pr_auc on 600 test stays; higher is better.

A bf16 run computes its forward passes under bf16 autocast in training and in evaluation (as `auto` does). The
same seed gives both precisions the same initial weights, batch order, dropout draws and (mortality) split, so
the difference of a pair is the precision's effect plus the divergence of two trajectories. Reported: mean ± std
over seeds, the paired difference bf16 − fp32 (mean, [min, max], 95 % t interval) and the paired t-test's p
(scipy.stats.ttest_rel); train seconds (time.train_seconds of the summary) are medians and only indicative on a
shared machine. Then each run's selected weights are scored again on the test split in the other precision
(`nnstudy.engine.evaluate_run` with train.precision overridden), which separates bf16 inference (fp32-trained,
scored in bf16) from bf16 training (bf16-trained, scored in fp32).

Needs the full energy and mortality data (NNSTUDY_DATA). Runs go to a temporary folder, or to --keep DIR, where
finished runs are reused. Writes benchmarks/results/precision_accuracy/<machine type>.json and prints Markdown
tables; `--quick` (the bundled samples, a smoke test) prints them and saves nothing.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import environment, save

# name -> (study, variant, metrics, "min"/"max": which way is better)
RECIPES: dict[str, tuple[str, str, list[str], str]] = {
    "energy": ("energy-rnn", "cell=gru,layers=2", ["test_smape_legacy", "test_smape"], "min"),
    "mortality": ("mortality", "variable-rnn", ["test_roc_auc", "test_pr_auc"], "max"),
}
PRECISIONS = ("fp32", "bf16")


def run_config(recipe: str, seed: int, precision: str, mode: str | None) -> dict[str, Any]:
    """The run config of `recipe`'s cell with `seed`, as the study trains it, in `precision`. Any seed: the
    study's own list is not enforced (energy-rnn lists only seed 0)."""
    from nnstudy.study import load_study_spec
    study, variant, _, _ = RECIPES[recipe]
    spec = load_study_spec(study, mode=mode)
    raw = spec.run_config(spec.select([variant])[0], seed)
    raw["train"]["precision"] = precision
    return raw


def one_run(raw: dict[str, Any], runs: Path, name: str, threads: int | None, cross: bool) -> dict[str, Any]:
    """Train (or reuse a finished, or continue an interrupted) run `name` under `runs`; then, with `cross`, score
    its weights in the other precision."""
    from nnstudy import load_config
    from nnstudy.engine import evaluate_run, train
    from nnstudy.errors import NnstudyError

    run_dir = runs / name
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    wall = None
    if summary.get("status") != "finished":
        raw = json.loads(json.dumps(raw))
        raw.update({"out_dir": str(runs), "name": name})
        if threads is not None:
            raw["train"]["threads"] = threads
        t0 = time.perf_counter()
        try:   # an interrupted run of this benchmark continues from its last epoch (as `nnstudy train --resume`)
            train(load_config(raw), resume=(run_dir / "config.yaml").is_file(), progress=False)
        except NnstudyError:
            shutil.rmtree(run_dir, ignore_errors=True)
            train(load_config(raw), progress=False)
        wall = time.perf_counter() - t0
        summary = json.loads(summary_path.read_text())
    precision = raw["train"]["precision"]
    other = "bf16" if precision == "fp32" else "fp32"
    out = {"precision": precision, "runtime_precision": summary["runtime"]["precision"],
           "threads": summary["runtime"]["threads"], "selected_epoch": summary.get("selected_epoch"),
           "metrics": {k: v for k, v in summary["metrics"].items() if k.startswith("test_")},
           "train_seconds": summary["time"]["train_seconds"], "eval_seconds": summary["time"]["eval_seconds"],
           "test_seconds": summary["time"]["test_seconds"], "wall_seconds": wall}
    if cross:
        cross_path = runs / f"{name}.scored-{other}.json"
        if not cross_path.is_file():
            t0 = time.perf_counter()
            scored = evaluate_run(run_dir, [f"train.precision={other}"])["metrics"]
            cross_path.write_text(json.dumps({"metrics": scored, "seconds": time.perf_counter() - t0}, indent=1))
        out[f"metrics_scored_{other}"] = json.loads(cross_path.read_text())["metrics"]
    return out


def paired(fp32: list[float], bf16: list[float]) -> dict[str, Any]:
    """Mean ± std of each precision over seeds, the paired differences bf16 − fp32 and the paired t-test."""
    from scipy import stats
    diffs = [b - a for a, b in zip(fp32, bf16)]
    n = len(diffs)
    out: dict[str, Any] = {"n": n, "fp32": fp32, "bf16": bf16, "diffs": diffs,
                           "fp32_mean": statistics.fmean(fp32), "bf16_mean": statistics.fmean(bf16),
                           "fp32_std": statistics.stdev(fp32) if n > 1 else None,
                           "bf16_std": statistics.stdev(bf16) if n > 1 else None,
                           "diff_mean": statistics.fmean(diffs), "diff_min": min(diffs), "diff_max": max(diffs),
                           "diff_std": statistics.stdev(diffs) if n > 1 else None, "p": None, "ci95": None}
    if n > 1 and out["diff_std"] > 0:
        out["p"] = float(stats.ttest_rel(bf16, fp32).pvalue)
        half = float(stats.t.ppf(0.975, n - 1)) * out["diff_std"] / math.sqrt(n)
        out["ci95"] = [out["diff_mean"] - half, out["diff_mean"] + half]
    return out


def summarise(recipe: str, runs: dict[str, list[dict[str, Any]]], seeds: list[int]) -> dict[str, Any]:
    study, variant, metrics, better = RECIPES[recipe]
    rows = []
    for m in metrics:
        fp32 = [r["metrics"][m] for r in runs["fp32"]]
        bf16 = [r["metrics"][m] for r in runs["bf16"]]
        row = {"metric": m, **paired(fp32, bf16), "bf16_inference": None, "bf16_training": None}
        if all("metrics_scored_bf16" in r for r in runs["fp32"]) and all("metrics_scored_fp32" in r
                                                                           for r in runs["bf16"]):
            # the same weights scored in the other precision: inference alone, training alone (against fp32/fp32)
            row["bf16_inference"] = paired(fp32, [r["metrics_scored_bf16"][m] for r in runs["fp32"]])
            row["bf16_training"] = paired(fp32, [r["metrics_scored_fp32"][m] for r in runs["bf16"]])
        rows.append(row)
    return {"recipe": recipe, "study": study, "variant": variant, "better": better, "seeds": seeds,
            "rows": rows, "runs": runs,
            "train_seconds_median": {p: statistics.median(r["train_seconds"] for r in runs[p]) for p in PRECISIONS}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of every recipe")
    p.add_argument("--recipe-seeds", action="append", default=[], metavar="RECIPE=SEEDS",
                   help="other seeds for one recipe, e.g. mortality=0,1,2,3,4 (repeatable)")
    p.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    p.add_argument("--threads", type=int, default=None, help="torch threads per run (default: torch's)")
    p.add_argument("--keep", default=None, help="folder of the run directories (finished runs there are reused; "
                                                "default: a temporary folder)")
    p.add_argument("--cross-eval", nargs="*", choices=list(RECIPES), default=None,
                   help="recipes whose weights are also scored in the other precision (default: all; the energy "
                        "test split costs a few minutes per run)")
    p.add_argument("--quick", action="store_true", help="the studies' quick mode (bundled samples): a smoke test")
    args = p.parse_args()
    mode = "quick" if args.quick else None
    seeds = {recipe: list(args.seeds) for recipe in RECIPES}
    for item in args.recipe_seeds:
        recipe, _, values = item.partition("=")
        if recipe not in RECIPES or not values:
            p.error(f"--recipe-seeds {item}: expected RECIPE=SEEDS with RECIPE one of {', '.join(RECIPES)}")
        seeds[recipe] = [int(v) for v in values.split(",")]
    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="precision_accuracy-")
    root = Path(args.keep or tmp.name)
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    recipes = []
    try:
        for recipe in args.recipes:
            runs: dict[str, list[dict[str, Any]]] = {p: [] for p in PRECISIONS}
            for seed in seeds[recipe]:
                for precision in PRECISIONS:   # alternated: a slow minute of the machine does not hit one side only
                    name = f"{recipe}{'-quick' if args.quick else ''}-s{seed}-{precision}"
                    r = one_run(run_config(recipe, seed, precision, mode), root, name, args.threads,
                                cross=args.cross_eval is None or recipe in args.cross_eval)
                    runs[precision].append({"seed": seed, **r})
                    print(f"{name}: " + ", ".join(f"{k} {v:.4f}" for k, v in r["metrics"].items()
                                                  if k in RECIPES[recipe][2])
                          + f", epoch {r['selected_epoch']}, train {r['train_seconds']:.0f} s", flush=True)
            recipes.append(summarise(recipe, runs, seeds[recipe]))
    finally:
        if tmp is not None:
            tmp.cleanup()
    result = {**environment(seeds={r: seeds[r] for r in args.recipes}, threads=args.threads or "torch default",
                            mode=mode or "full",
                            cross_eval=args.cross_eval if args.cross_eval is not None else list(RECIPES)),
              "wall_seconds": time.perf_counter() - t0, "recipes": recipes}
    if args.quick:   # samples' numbers would replace the full data's in the results and the docs
        print(markdown(result))
        print("quick run (--quick): printed, not saved", file=sys.stderr)
        return
    save("precision_accuracy", result, markdown)


def _d(x: float, digits: int) -> str:
    return f"{x:+.{digits}f}"


def markdown(result: dict) -> str:
    seeds = "; ".join(f"{k} {', '.join(map(str, v))}" for k, v in result["seeds"].items())
    lines = [f"`{result['command']}` — {result['machine']}, torch {result['torch']}, threads {result['threads']}, "
             f"mode {result['mode']}; seeds: {seeds}; diff = bf16 − fp32 of the same "
             "seed (sMAPE: lower is better, so + is bf16 worse; AUC: higher is better, so − is bf16 worse)", "",
             "| recipe | metric | fp32 mean ± std | bf16 mean ± std | paired diff mean [min, max] | 95 % CI of diff "
             "| p (paired t) | train s fp32 / bf16 (median) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["recipes"]:
        t = r["train_seconds_median"]
        for row in r["rows"]:
            dg = 4
            ci = "–" if row["ci95"] is None else f"[{_d(row['ci95'][0], dg)}, {_d(row['ci95'][1], dg)}]"
            p = "–" if row["p"] is None else f"{row['p']:.2f}"
            lines.append(f"| {r['study']} {r['variant']} | {row['metric']} | {row['fp32_mean']:.{dg}f} ± "
                         f"{row['fp32_std'] or 0:.{dg}f} | {row['bf16_mean']:.{dg}f} ± "
                         f"{row['bf16_std'] or 0:.{dg}f} | "
                         f"{_d(row['diff_mean'], dg)} [{_d(row['diff_min'], dg)}, {_d(row['diff_max'], dg)}] | {ci} | "
                         f"{p} | {t['fp32']:.0f} / {t['bf16']:.0f} |")
    lines += ["", "Where the difference comes from: each run's selected weights scored again in the other precision "
              "(paired diffs against fp32-trained, fp32-scored; mean [min, max], p):", "",
              "| recipe | metric | bf16 inference only (fp32-trained, scored in bf16) | bf16 training only "
              "(bf16-trained, scored in fp32) |", "|---|---|---:|---:|"]
    for r in result["recipes"]:
        for row in r["rows"]:
            if row["bf16_inference"] is None:
                lines.append(f"| {r['study']} {r['variant']} | {row['metric']} | not measured | not measured |")
                continue
            cells = []
            for part in ("bf16_inference", "bf16_training"):
                d = row[part]
                p = "–" if d["p"] is None else f"{d['p']:.2f}"
                cells.append(f"{_d(d['diff_mean'], 4)} [{_d(d['diff_min'], 4)}, {_d(d['diff_max'], 4)}], p {p}")
            lines.append(f"| {r['study']} {r['variant']} | {row['metric']} | {cells[0]} | {cells[1]} |")
    lines += ["", "Per seed (fp32 / bf16; epoch = the epoch whose weights were tested, chosen on validation):", "",
              "| recipe | seed | first metric | second metric | epoch | train s |", "|---|---:|---:|---:|---:|---:|"]
    for r in result["recipes"]:
        metrics = [row["metric"] for row in r["rows"]]
        for a, b in zip(r["runs"]["fp32"], r["runs"]["bf16"]):
            vals = " | ".join(f"{m.removeprefix('test_')} {a['metrics'][m]:.4f} / {b['metrics'][m]:.4f}"
                              for m in metrics)
            lines.append(f"| {r['study']} | {a['seed']} | {vals} | {a['selected_epoch']} / {b['selected_epoch']} | "
                         f"{a['train_seconds']:.0f} / {b['train_seconds']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
