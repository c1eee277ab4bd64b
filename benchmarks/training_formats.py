"""Training step time of conv nets with contiguous (NCHW) vs channels_last (NHWC) tensors, side by side.

    python benchmarks/training_formats.py [--repeats 3] [--steps 30] [--threads 2]

For each model at its study's batch size (tutorial_cnn at 4, d2l_resnet and resnet18 at 128): the same seeded
weights and batches trained `--steps` SGD steps in each memory format, timed after 5 warm-up steps; medians of
`--repeats` rounds, the two formats alternating within a round. Also the largest difference between the two
formats' losses over the steps, to show that channels_last changes the arithmetic only at rounding level. This
is the measurement behind `train.channels_last: auto`. Writes
benchmarks/results/training_formats/<machine type>.json and prints
a Markdown table.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from _common import environment, save
from nnstudy.models import build_model

CASES = (("tutorial_cnn", 4), ("d2l_resnet", 128), ("resnet18", 128))
WARMUP = 5


def train_steps(name: str, batch: int, steps: int, channels_last: bool) -> tuple[float, list[float]]:
    """(seconds per step after warm-up, losses) of `steps` SGD steps from seed-0 weights on seed-0 batches."""
    torch.manual_seed(0)
    model = build_model(name)
    g = torch.Generator().manual_seed(0)
    xs = torch.randn(WARMUP + steps, batch, 3, 32, 32, generator=g)
    ys = torch.randint(0, 10, (WARMUP + steps, batch), generator=g)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    losses = []
    t0 = 0.0
    for i in range(WARMUP + steps):
        if i == WARMUP:
            t0 = time.perf_counter()
        x = xs[i].contiguous(memory_format=torch.channels_last) if channels_last else xs[i]
        loss = F.cross_entropy(model(x), ys[i])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return (time.perf_counter() - t0) / steps, losses


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name, batch in CASES:
        steps = args.steps * (8 if batch < 16 else 1)      # tiny steps: more of them for a stable median
        times = {False: [], True: []}
        losses = {}
        for _ in range(args.repeats):
            for cl in (False, True):
                seconds, losses[cl] = train_steps(name, batch, steps, cl)
                times[cl].append(seconds)
        nchw, nhwc = statistics.median(times[False]), statistics.median(times[True])
        rows.append({"model": name, "batch": batch, "steps": steps, "nchw_ms": nchw * 1000, "nhwc_ms": nhwc * 1000,
                     "speedup": nchw / nhwc, "images_per_second_nchw": batch / nchw,
                     "images_per_second_nhwc": batch / nhwc,
                     "max_loss_difference": max(abs(a - b) for a, b in zip(losses[False], losses[True]))})
        print(f"{name}: {nchw * 1000:.2f} vs {nhwc * 1000:.2f} ms/step", file=sys.stderr, flush=True)
    save("training_formats", environment(threads=args.threads, repeats=args.repeats, rows=rows), markdown)


def markdown(r: dict) -> str:
    lines = [f"`{r['command']}` — {r['machine']}, torch {r['torch']}, {r['threads']} thread(s), median of "
             f"{r['repeats']} rounds", "",
             "| model | batch | NCHW ms/step | channels_last ms/step | speed-up | images/s NCHW → NHWC | "
             "largest loss difference |", "|---|---:|---:|---:|---:|---:|---:|"]
    for row in r["rows"]:
        lines.append(f"| {row['model']} | {row['batch']} | {row['nchw_ms']:.2f} | {row['nhwc_ms']:.2f} | "
                     f"{row['speedup']:.2f}× | {row['images_per_second_nchw']:.0f} → "
                     f"{row['images_per_second_nhwc']:.0f} | {row['max_loss_difference']:.2g} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
