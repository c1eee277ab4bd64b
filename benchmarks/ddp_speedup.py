"""Speed-up of one run on two DDP processes over one process, for one ResNet-18 epoch on this machine's CPU.

    python benchmarks/ddp_speedup.py [--repeats 3] [--batch-size 128]

One epoch of ResNet-18 (CIFAR stem) on the bundled sample's 2,000 training images (no validation split), global
batch 128, SGD, fp32; once as one process with all the machine's threads (`train.threads=C`), once as
`--nproc 2` with C/2 threads each (gloo all-reduce). Each trial is a fresh `nnstudy train` command, timed end to end
(wall: interpreter start, the launcher's processes, data, the epoch, the test pass); the summary's train_seconds is
the epoch alone (rank 0's clock). Speed-up = one process's median ÷ two processes' median.

On CPUs the point of `--nproc` is that the multi-process path is correct (tests/test_distributed.py); the speed
comes with GPUs, one per process. Writes benchmarks/results/ddp_speedup/<machine type>.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import environment, save

ARGS = ["resnet18", "data.name=cifar10-sample", "data.val_fraction=0", "train.epochs=1", "optim.lr=0.05",
        "train.device=cpu", "train.checkpoint_every=null", "--quiet"]


def _avx512_bf16() -> bool | None:
    try:
        return "avx512_bf16" in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return None


def one(nproc: int, threads: int, batch_size: int) -> dict[str, float]:
    """Wall seconds of one `nnstudy train` and the train_seconds its summary reports."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "nnstudy.cli", "train", *ARGS, f"train.batch_size={batch_size}",
               f"train.threads={threads}", f"out_dir={tmp}", "name=r", "--nproc", str(nproc)]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        summary = json.loads((Path(tmp) / "r" / "summary.json").read_text())
    return {"wall_s": wall, "train_s": summary["time"]["train_seconds"],
            "world_size": summary["distributed"]["world_size"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128, help="the global batch")
    args = p.parse_args()
    cores = os.cpu_count() or 2
    rows = []
    for nproc in (1, 2):
        threads = max(1, cores // nproc)
        trials = [one(nproc, threads, args.batch_size) for _ in range(args.repeats)]
        rows.append({"nproc": nproc, "threads_per_process": threads, "trials": trials,
                     "train_s": statistics.median(t["train_s"] for t in trials),
                     "wall_s": statistics.median(t["wall_s"] for t in trials)})
    result = {**environment(repeats=args.repeats, batch_size=args.batch_size, cores=cores, model="resnet18",
                            train_images=2000, avx512_bf16=_avx512_bf16()),
              "rows": rows,
              "speedup_train": rows[0]["train_s"] / rows[1]["train_s"],
              "speedup_wall": rows[0]["wall_s"] / rows[1]["wall_s"]}
    save("ddp_speedup", result, markdown)


def markdown(result: dict) -> str:
    flag = {True: "with avx512_bf16", False: "without avx512_bf16", None: ""}[result.get("avx512_bf16")]
    lines = [f"`{result['command']}` on {result['machine']} ({result['cores']} cores{', ' + flag if flag else ''}), "
             f"torch {result['torch']}; medians of {result['repeats']} repeats", "",
             "| processes × threads | epoch (train_seconds) | whole command (wall) | images/s (epoch) |",
             "|---|---:|---:|---:|"]
    for row in result["rows"]:
        lines.append(f"| {row['nproc']} × {row['threads_per_process']} | {row['train_s']:.1f} s | "
                     f"{row['wall_s']:.1f} s | {result['train_images'] / row['train_s']:.0f} |")
    lines += ["", f"Speed-up of 2 processes: **{result['speedup_train']:.2f}×** on the epoch, "
                  f"{result['speedup_wall']:.2f}× end to end (ResNet-18, {result['train_images']:,} images, global "
                  f"batch {result['batch_size']})."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
