"""Per-run overhead of the Ray backend against the local process pool, on trivial runs.

    python benchmarks/ray_overhead.py [--runs 100] [--repeats 3]

The study of benchmarks/study_overhead.py (mlp2 on 100 images of the bundled sample, one epoch, one thread per run:
almost nothing but overhead) run `--runs` times with two runs at once: by the local backend's pool of two worker
processes, and by the Ray backend on a local Ray instance of two CPUs (started inside the timing, as `nnstudy run
--backend ray` starts it). Overhead per run = (wall time × 2 − the training and evaluation time the runs report) ÷
runs: what a run costs beyond its own work (processes, Ray tasks, files sent to the driver, summaries). Ray Tune's
own figure for comparison: ~0.2 s per trial. Writes benchmarks/results/ray_overhead/<machine type>.json
(medians over repeats).
"""
from __future__ import annotations

import argparse
import statistics

from _common import environment, save
from study_overhead import one


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    rows = []
    # alternated, so that a slower minute of the machine does not fall on one backend only
    trials: dict[str, list[dict[str, float]]] = {"local (2 processes)": [], "ray (local instance, 2 CPUs)": []}
    for _ in range(args.repeats):
        trials["local (2 processes)"].append(one(args.runs, 2))
        trials["ray (local instance, 2 CPUs)"].append(one(args.runs, 2, backend="ray"))
    for backend, runs in trials.items():
        rows.append({"backend": backend, **{k: statistics.median(t[k] for t in runs) for k in runs[0]}})
    save("ray_overhead", {**environment(runs=args.runs, repeats=args.repeats), "rows": rows}, markdown)


def markdown(result: dict) -> str:
    lines = [f"{result['runs']} trivial runs, two at a time; medians of {result['repeats']} ({result['machine']})",
             "", "| backend | wall s | work s | overhead per run s |", "|---|---:|---:|---:|"]
    lines += [f"| {r['backend']} | {r['wall_s']:.1f} | {r['work_s']:.1f} | {r['overhead_per_run_s']:.3f} |"
              for r in result["rows"]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
