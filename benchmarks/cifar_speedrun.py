"""Time to accuracy of the `cifar-speedrun` recipes on full CIFAR-10 (issue #7, item 3).

    python benchmarks/cifar_speedrun.py                                  # every variant, the study's seeds
    python benchmarks/cifar_speedrun.py --variants small --seeds 0,1,2
    python benchmarks/cifar_speedrun.py --variants airbench94 --seeds 0 --keep RUNS_DIR

Each (variant, seed) is one `nnstudy train` of the study's run config in a fresh process, timed end to end from
the command's start to its exit: Python and torch start-up, reading CIFAR-10, fitting the whitening, training,
the per-epoch test scores (for the curve) and the final test with TTA. The per-epoch scores are not part of the
recipe, so the table also gives the end-to-end time without them (wall − their evaluation seconds, as the run's
summary records them).

The curve is test accuracy (per-epoch, without TTA) against cumulative training seconds, plus the final point
with TTA at training + final-test seconds. Results: benchmarks/results/cifar_speedrun/<machine type>.json and the
figure docs/figures/cifar_speedrun-<machine type>.png. Runs already finished in the runs folder (with their timing)
are kept, so a killed benchmark continues where it stopped. Needs the full CIFAR-10 (`nnstudy data add cifar10 ...`).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from _common import environment, machine, save, slug
from nnstudy.study.spec import load_study_spec

HERE = Path(__file__).resolve().parent
FIGURES = HERE.parent / "docs" / "figures"   # cifar_speedrun-<machine type>.png: one curve per machine type


def figure_name(result: dict) -> str:
    return f"cifar_speedrun-{slug(result.get('machine_type') or machine()['machine_type'])}.png"
THRESHOLDS = (0.80, 0.90, 0.93, 0.94)   # accuracies whose first crossing is reported, as fractions


def _one_run(cfg: dict, runs: Path, name: str, threads: int | None) -> dict:
    """Train one config in a fresh process (unless already done); its timing, curve and final metrics."""
    run_dir = runs / name
    timing_file = run_dir / "benchmark_wall.json"
    if not timing_file.is_file():
        cfg = {**cfg, "out_dir": str(runs), "name": name}
        if threads:
            cfg["train"] = {**cfg["train"], "threads": threads}
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump(cfg, f)
        resume = ["--resume"] if (run_dir / "checkpoint.pt").is_file() else []
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "nnstudy.cli", "train", f.name, "--quiet", *resume],
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
        wall = time.perf_counter() - t0
        os.unlink(f.name)
        if done.returncode != 0:
            raise SystemExit(f"{name}: nnstudy train failed (exit {done.returncode})")
        timing_file.write_text(json.dumps({"wall_seconds": round(wall, 2), "resumed": bool(resume)}))
    wall = json.loads(timing_file.read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    t = summary["time"]
    curve_eval = t["eval_seconds"] - t["test_seconds"]       # the per-epoch test scores, not the recipe
    return {
        "name": name, "seed": summary["seed"], "wall_seconds": wall["wall_seconds"], "resumed": wall["resumed"],
        "wall_without_curve_seconds": round(wall["wall_seconds"] - curve_eval, 2),
        "train_seconds": t["train_seconds"], "final_test_seconds": t["test_seconds"],
        "curve_eval_seconds": round(curve_eval, 2),
        "test_acc_tta": summary["metrics"]["test_acc"],
        "curve": [{"epoch": int(r["epoch"]), "train_seconds": float(r["train_seconds"]),
                   "test_acc": float(r["test_acc"])} for r in rows],
        "threads": summary["environment"].get("torch_threads"),
    }


def _first_crossing(curve: list[dict], final: tuple[float, float], level: float) -> float | None:
    """Training seconds at the first curve point (or the final TTA point) with accuracy ≥ level."""
    points = [(p["train_seconds"], p["test_acc"]) for p in curve] + [final]
    return next((t for t, acc in sorted(points) if acc >= level), None)


def _summarise(variant: str, runs: list[dict], cfg: dict) -> dict:
    accs = [r["test_acc_tta"] for r in runs]
    crossings = {}
    for level in THRESHOLDS:
        times = [_first_crossing(r["curve"], (r["train_seconds"] + r["final_test_seconds"], r["test_acc_tta"]),
                                 level) for r in runs]
        crossings[f"{level:.2f}"] = statistics.median(times) if all(t is not None for t in times) else None
    return {
        "variant": variant, "seeds": [r["seed"] for r in runs], "epochs": cfg["train"]["epochs"],
        "batch_size": cfg["train"]["batch_size"], "model": cfg["model"]["name"], "widths": cfg["model"].get("widths"),
        "tta": cfg["train"].get("tta", "none"),
        "test_acc_mean": statistics.mean(accs), "test_acc_std": statistics.stdev(accs) if len(accs) > 1 else None,
        "wall_median": statistics.median(r["wall_seconds"] for r in runs),
        "wall_without_curve_median": statistics.median(r["wall_without_curve_seconds"] for r in runs),
        "train_median": statistics.median(r["train_seconds"] for r in runs),
        "train_seconds_to": crossings, "runs": runs,
    }


def figure(result: dict, path: Path | None = None) -> None:
    path = path or FIGURES / figure_name(result)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, v in enumerate(result["variants"]):
        color = f"C{i}"
        for j, r in enumerate(v["runs"]):
            xs = [p["train_seconds"] / 60 for p in r["curve"]]
            ys = [100 * p["test_acc"] for p in r["curve"]]
            ax.plot(xs, ys, "o-", color=color, ms=3, lw=1, alpha=0.8,
                    label=f"{v['variant']} (per epoch, no TTA)" if j == 0 else None)
            ax.plot([(r["train_seconds"] + r["final_test_seconds"]) / 60], [100 * r["test_acc_tta"]], "*",
                    color=color, ms=10, label=f"{v['variant']} final, TTA {v['tta']}" if j == 0 else None)
    ax.axhline(94, color="grey", ls=":", lw=1)
    ax.axvline(6, color="grey", ls=":", lw=1)
    # log time axis: a 5-minute recipe and an hour-long one on one plot
    ax.set_xscale("log")
    ticks = [t for t in (0.5, 1, 2, 5, 10, 20, 50, 100, 200) if t <= ax.get_xlim()[1]]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.text(6.2, 95.5, "6 min", color="grey", fontsize=8)
    ax.text(ax.get_xlim()[0], 94.3, " 94 %", color="grey", fontsize=8)
    ax.set_xlabel("training minutes, log scale (final point: + test with TTA)")
    ax.set_ylabel("CIFAR-10 test accuracy (%)")
    ax.set_ylim(50, 97)
    ax.set_title(f"cifar-speedrun time to accuracy — {result.get('machine_type', result['machine'])}", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)


def _seeds(given: list[str], variants: list[str], default: list[int]) -> dict[str, list[int]]:
    """Seeds per variant from --seeds values: "0,1,2" for all, "VARIANT=0,1" for one."""
    seeds = {v: list(default) for v in variants}
    for item in given:
        name, _, values = item.rpartition("=")
        if name and name not in seeds:
            raise SystemExit(f"--seeds {item}: {name} is not among the variants run ({', '.join(variants)})")
        try:
            parsed = [int(s) for s in values.split(",")]
        except ValueError:
            raise SystemExit(f"--seeds {item}: expected comma-separated integers") from None
        for v in ([name] if name else variants):
            seeds[v] = parsed
    return seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=None, help="comma-separated variants of cifar-speedrun (default all)")
    parser.add_argument("--seeds", action="append", default=[],
                        help="comma-separated seeds for every variant (default: the study's), or VARIANT=SEEDS "
                             "for one (repeatable), e.g. --seeds airbench94=0 --seeds small=0,1,2")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per run (default: torch's)")
    parser.add_argument("--keep", default=str(HERE / ".runs" / "cifar_speedrun"),
                        help="folder of the run directories (finished runs there are reused)")
    args = parser.parse_args()

    spec = load_study_spec("cifar-speedrun")
    variants = {v.name: v for v in spec.expand()}
    chosen = args.variants.split(",") if args.variants else list(variants)
    unknown = [v for v in chosen if v not in variants]
    if unknown:
        raise SystemExit(f"--variants: unknown {', '.join(unknown)}; cifar-speedrun has {', '.join(variants)}")
    seeds = _seeds(args.seeds, chosen, spec.seeds)
    runs_dir = Path(args.keep)
    summaries = []
    for name in chosen:
        cfg = spec.run_config(variants[name], seeds[name][0])
        runs = [_one_run(spec.run_config(variants[name], s), runs_dir, f"{name}-s{s}", args.threads)
                for s in seeds[name]]
        summaries.append(_summarise(name, runs, cfg))
    result = {**environment(threads=args.threads or "torch default", cpus=os.cpu_count()), "variants": summaries}
    save("cifar_speedrun", result, markdown)
    figure(result)


def _min_s(seconds: float | None) -> str:
    if seconds is None:
        return "not reached"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def markdown(r: dict) -> str:
    lines = [f"`{r['command']}` — {r['machine']}, torch {r['torch']}, {r['cpus']} CPUs, threads "
             f"{r['threads']}; medians over seeds", "",
             "| recipe | seeds | epochs | test acc (TTA) | end to end | … without per-epoch test scores | training |"
             + "".join(f" train time to {100 * t:.0f} % |" for t in THRESHOLDS),
             "|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(THRESHOLDS)]
    for v in r["variants"]:
        std = f" ± {100 * v['test_acc_std']:.2f}" if v["test_acc_std"] is not None else ""
        widths = f" {'/'.join(map(str, v['widths']))}" if v.get("widths") else ""
        lines.append(f"| {v['variant']} ({v.get('model', '')}{widths}, batch {v['batch_size']}, TTA {v['tta']}) | "
                     f"{len(v['seeds'])} | {v['epochs']} | {100 * v['test_acc_mean']:.2f}{std} % | "
                     f"{_min_s(v['wall_median'])} | {_min_s(v['wall_without_curve_median'])} | "
                     f"{_min_s(v['train_median'])} |"
                     + "".join(f" {_min_s(v['train_seconds_to'][f'{t:.2f}'])} |" for t in THRESHOLDS))
    lines += ["", "Per-epoch test accuracy (no TTA) against cumulative training time, seed by seed:", "",
              "| recipe | seed | " + " | ".join(f"epoch {i}" for i in range(1, 1 + max(
                  v["epochs"] for v in r["variants"]))) + " | final (TTA) |",
              "|---|---:|" + "---:|" * (1 + max(v["epochs"] for v in r["variants"]))]
    width = max(v["epochs"] for v in r["variants"])
    for v in r["variants"]:
        for run in v["runs"]:
            cells = [f"{100 * p['test_acc']:.1f} % @ {_min_s(p['train_seconds'])}" for p in run["curve"]]
            cells += [""] * (width - len(cells))
            lines.append(f"| {v['variant']} | {run['seed']} | " + " | ".join(cells)
                         + f" | {100 * run['test_acc_tta']:.2f} % |")
    lines += ["", f"![time to accuracy](figures/{figure_name(r)})"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
