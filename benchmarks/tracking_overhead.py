"""What sending a run to its trackers costs the training: per epoch, and once per run.

    python benchmarks/tracking_overhead.py [--epochs 8] [--repeats 3]

The tutorial CNN on the bundled CIFAR-10 sample (1,800 training images after the validation split), batch 32, the
default threads, trained with train.log = [] and with each tracker (MLflow to a sqlite store in a temporary folder,
TensorBoard, W&B offline) and all three, the settings alternated within each repeat so that a slower minute of the
machine does not fall on one of them. Reported, medians over epochs 2.. and repeats:

- epoch s: the training time of an epoch (metrics.csv's train_seconds, step to step), so the trackers' threads
  working beside the training count;
- in loop ms: the time the training thread itself spends in tracker calls per epoch (queueing a row);
- run s: the whole run's wall time (start, the final artifacts and the wait for the trackers included).

Goal (issue #17): less than 1 % of an epoch. Writes benchmarks/results/tracking_overhead/<machine type>.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from _common import environment, save
from nnstudy.engine import train
from nnstudy.resolution import load_config
from nnstudy.track.base import RunTrackers

SETTINGS = {"none": [], "mlflow": ["mlflow"], "tensorboard": ["tensorboard"], "wandb": ["wandb"],
            "all three": ["mlflow", "tensorboard", "wandb"]}


class _Clock:
    """Seconds the training thread spends in RunTrackers.epoch / .steps."""

    def __init__(self) -> None:
        self.seconds = 0.0
        for name in ("epoch", "steps"):
            original = getattr(RunTrackers, name)

            def timed(tracker, row, _original=original):
                t0 = time.perf_counter()
                _original(tracker, row)
                self.seconds += time.perf_counter() - t0
            setattr(RunTrackers, name, timed)


def one(trackers: list[str], epochs: int, folder: Path, clock: _Clock) -> dict[str, float]:
    name = f"r{len(list(folder.iterdir()))}"
    cfg = load_config("tutorial_cnn", ["data.name=cifar10-sample", f"train.epochs={epochs}", "train.batch_size=32",
                                       "optim.lr=0.01", "optim.momentum=0.9", f"out_dir={folder}", f"name={name}",
                                       f"train.log=[{', '.join(trackers)}]", "train.checkpoint_every=null"])
    clock.seconds = 0.0
    t0 = time.perf_counter()
    train(cfg, progress=False)
    wall = time.perf_counter() - t0
    with (folder / name / "metrics.csv").open() as f:
        seconds = [float(r["train_seconds"]) for r in csv.DictReader(f)]
    per_epoch = [b - a for a, b in zip(seconds, seconds[1:])]   # epochs 2..: the first warms up
    runtime = json.loads((folder / name / "summary.json").read_text())["runtime"]
    return {"epoch_s": statistics.median(per_epoch), "in_loop_ms": 1000 * clock.seconds / epochs, "run_s": wall,
            "precision": f"{runtime['precision']} ({runtime['precision_reason']})"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    clock = _Clock()
    trials: dict[str, list[dict[str, float]]] = {k: [] for k in SETTINGS}
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)   # MLflow's sqlite store keeps its artifacts in ./mlruns
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        runs = Path(tmp) / "runs"
        runs.mkdir()
        one([], 2, runs, clock)   # warm-up: data cache, imports
        for _ in range(args.repeats):
            for setting, trackers in SETTINGS.items():
                trials[setting].append(one(trackers, args.epochs, runs, clock))
    base = statistics.median(t["epoch_s"] for t in trials["none"])
    base_run = statistics.median(t["run_s"] for t in trials["none"])
    rows = []
    for setting, results in trials.items():
        row = {"trackers": setting, **{k: statistics.median(r[k] for r in results) for k in results[0]
                                       if k != "precision"}}
        row["epoch_overhead_pct"] = 100 * (row["epoch_s"] / base - 1)
        row["run_extra_s"] = row["run_s"] - base_run
        rows.append(row)
    precision = trials["none"][0]["precision"]   # train.precision: auto, as a user gets it
    save("tracking_overhead", {**environment(epochs=args.epochs, repeats=args.repeats, precision=precision),
                               "rows": rows}, markdown)


def markdown(result: dict) -> str:
    lines = [f"tutorial CNN, CIFAR-10 sample, batch 32, {result['epochs']} epochs, precision {result['precision']}; "
             f"medians of {result['repeats']} repeats ({result['machine']})", "",
             "| trackers | epoch s | vs none | in loop ms / epoch | run s | run extra s |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['trackers']} | {r['epoch_s']:.3f} | {r['epoch_overhead_pct']:+.1f} % | {r['in_loop_ms']:.3f} "
              f"| {r['run_s']:.1f} | {r['run_extra_s']:+.1f} |" for r in result["rows"]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
