"""Per-run overhead of a study, and the speed-up of two parallel workers on runs that do real work.

    python benchmarks/study_overhead.py [--runs 100] [--repeats 3] [--parallel-runs 4] [--parallel-epochs 10]

Part 1, overhead: wall time of `run_study` minus the training and evaluation time its runs report. Each run is
deliberately tiny (mlp2, 100 images of the bundled sample, one epoch), so what remains is the overhead: config
validation, building data and model, writing the run directory, checkpoints, summaries.

Part 2, parallel speed-up: `--parallel-runs` runs of the seed protocol's model (tutorial_cnn, batch 4, SGD,
`--parallel-epochs` epochs of the bundled sample's 2,000 images: 500 steps each), once with one worker using both
threads and once with two workers of one thread each; speed-up = wall time with one worker ÷ wall time with two.
The two workers' start-up (a process each, importing torch) is paid once per study and included.

Writes benchmarks/results/study_overhead/<machine type>.json and prints a Markdown table (medians over repeats).
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from _common import environment, save
from nnstudy.study import load_study_spec, run_study

TRIVIAL = {"model": {"name": "mlp2"}, "data": {"name": "cifar10-sample", "subset": 100},
           "train": {"epochs": 1, "batch_size": 50, "threads": 1}}
SEED_PROTOCOL = {"model": {"name": "tutorial_cnn"}, "data": {"name": "cifar10-sample", "normalize": "half"},
                 "optim": {"name": "sgd", "lr": 0.001, "momentum": 0.9}, "train": {"epochs": 1, "batch_size": 4}}


def one(runs: int, workers: int, base: dict = TRIVIAL, backend: str = "local") -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.yaml"
        path.write_text(yaml.safe_dump({"name": "overhead", "seeds": list(range(runs)), "base": base}))
        t0 = time.perf_counter()
        outcome = run_study(load_study_spec(path), out_dir=Path(tmp) / "out", workers=workers, progress=False,
                            backend=backend)
        wall = time.perf_counter() - t0
        work = 0.0
        for run in (outcome.study_dir / "runs").iterdir():
            summary = json.loads((run / "summary.json").read_text())
            work += summary["time"]["train_seconds"] + summary["time"]["eval_seconds"]
    return {"wall_s": wall, "work_s": work, "overhead_per_run_s": (wall * workers - work) / runs}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--parallel-runs", type=int, default=4)
    p.add_argument("--parallel-epochs", type=int, default=10)
    args = p.parse_args()
    rows = []
    for workers in (1, 2):
        trials = [one(args.runs, workers) for _ in range(args.repeats)]
        rows.append({"workers": workers, **{k: statistics.median(t[k] for t in trials) for k in trials[0]}})
    parallel = {}
    for workers in (1, 2):   # one worker gets both threads (the run's default), two get one each
        base = {**SEED_PROTOCOL, "train": {**SEED_PROTOCOL["train"], "epochs": args.parallel_epochs}}
        walls = [one(args.parallel_runs, workers, base)["wall_s"] for _ in range(args.repeats)]
        parallel[f"wall_s_{workers}_workers"] = statistics.median(walls)
    parallel["speedup"] = parallel["wall_s_1_workers"] / parallel["wall_s_2_workers"]
    result = {**environment(runs=args.runs, repeats=args.repeats, parallel_runs=args.parallel_runs,
                            parallel_epochs=args.parallel_epochs), "rows": rows, "parallel": parallel}
    save("study_overhead", result, markdown)


def markdown(result: dict) -> str:
    env, rows = result, result["rows"]
    lines = [f"`{env['command']}` on {env['machine']}, torch {env['torch']}; medians of {env['repeats']} repeats, "
             f"{env['runs']} runs each", "",
             "| workers | study wall s | runs' train+eval s | overhead per run s |", "|---:|---:|---:|---:|"]
    lines += [f"| {r['workers']} | {r['wall_s']:.2f} | {r['work_s']:.2f} | {r['overhead_per_run_s']:.3f} |"
              for r in rows]
    par = result.get("parallel")
    if par:
        steps = 500 * env.get("parallel_epochs", 1)
        lines += ["", f"Parallel speed-up, {env['parallel_runs']} seed-protocol runs (tutorial_cnn, batch 4, {steps:,} "
                      f"steps each): one worker × 2 threads {par['wall_s_1_workers']:.1f} s, two workers × 1 thread "
                      f"{par['wall_s_2_workers']:.1f} s wall → **{par['speedup']:.2f}×**."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
