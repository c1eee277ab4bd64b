"""Per-run overhead of a study: wall time of `run_study` minus the training and evaluation time its runs report.

    python benchmarks/study_overhead.py [--runs 12] [--repeats 3]

Each run is deliberately tiny (mlp2, 100 images of the bundled sample, one epoch) so that what remains is the
overhead: config validation, building data and model, writing the run directory, checkpoints, summaries.
Writes benchmarks/results/study_overhead.json and prints a Markdown table (medians over repeats).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from nnstudy.measure.environment import cpu_model
from nnstudy.study import load_study_spec, run_study


def one(runs: int, workers: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.yaml"
        path.write_text(yaml.safe_dump({
            "name": "overhead", "seeds": list(range(runs)),
            "base": {"model": {"name": "mlp2"}, "data": {"name": "cifar10-sample", "subset": 100},
                     "train": {"epochs": 1, "batch_size": 50, "threads": 1}}}))
        t0 = time.perf_counter()
        outcome = run_study(load_study_spec(path), out_dir=Path(tmp) / "out", workers=workers, progress=False,
                            report=False)
        wall = time.perf_counter() - t0
        work = 0.0
        for run in (outcome.study_dir / "runs").iterdir():
            summary = json.loads((run / "summary.json").read_text())
            work += summary["time"]["train_seconds"] + summary["time"]["eval_seconds"]
    return {"wall_s": wall, "work_s": work, "overhead_per_run_s": (wall * workers - work) / runs}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=12)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    rows = []
    for workers in (1, 2):
        trials = [one(args.runs, workers) for _ in range(args.repeats)]
        rows.append({"workers": workers, **{k: statistics.median(t[k] for t in trials) for k in trials[0]}})
    env = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "cpu": cpu_model(),
           "torch": torch.__version__, "python": platform.python_version(), "runs": args.runs,
           "repeats": args.repeats}
    out = Path(__file__).parent / "results" / "study_overhead.json"
    out.parent.mkdir(exist_ok=True)
    result = {"environment": env, "rows": rows}
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))


def markdown(result: dict) -> str:
    env, rows = result["environment"], result["rows"]
    lines = [f"`{env['command']}` on {env['cpu']}, torch {env['torch']}; medians of {env['repeats']} repeats, "
             f"{env['runs']} runs each", "",
             "| workers | study wall s | runs' train+eval s | overhead per run s |", "|---:|---:|---:|---:|"]
    lines += [f"| {r['workers']} | {r['wall_s']:.2f} | {r['work_s']:.2f} | {r['overhead_per_run_s']:.3f} |"
              for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
