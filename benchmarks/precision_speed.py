"""Is `train.precision: auto` as fast as the better of fp32 and bf16 on every recipe we ship? Step times side by side.

    python benchmarks/precision_speed.py [--repeats 3] [--steps 20]
    python benchmarks/precision_speed.py --redecide   # auto's column again, from this machine type's times

For each shipped recipe (the model, batch size, optimiser and data of its study or the quickstart), the engine's own
training step — the Task's loss under the Runtime's autocast, backward, optimiser step — timed over `--steps` steps
(more for steps of a few ms: at least 2 s of them) after 3 warm-up steps, in fp32 and in bf16, the two alternating
within each of `--repeats` rounds (medians). The Runtime sets both up as a run would (memory format included);
"auto" is what decide_precision picks on this machine and its time that of the precision it picks. Goal (issue
#18): auto within 5 % of the better of the two on every recipe, on every machine type. Writes
benchmarks/results/precision_speed/<machine type>.json. auto's decision times nothing (it is a function of the
machine and the recipe), so when its rule changes, `--redecide` fills the column again against the times already
measured here, and the table names the command that decided it.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from typing import Any

import torch

from _common import environment, merged_rows, result_path, save
from nnstudy.engine.build import build_parts
from nnstudy.engine.optim import build_optimizer
from nnstudy.engine.runtime import Runtime
from nnstudy.resolution import load_config

# name -> (model, overrides): the recipes of the built-in studies and the quickstart, on data every machine has
RECIPES: dict[str, tuple[str, list[str]]] = {
    "quickstart mlp3, batch 32": ("mlp3", ["train.batch_size=32"]),
    "MLP-2, batch 4 (SPEC A)": ("mlp2", ["train.batch_size=4"]),
    "MLP-5, batch 4 (SPEC A)": ("mlp5", ["train.batch_size=4"]),
    "tutorial CNN, batch 4 (the tutorial)": ("tutorial_cnn", ["train.batch_size=4"]),
    "tutorial CNN, batch 32 (SPEC B, quickstart)": ("tutorial_cnn", ["train.batch_size=32"]),
    "d2l ResNet, batch 128": ("d2l_resnet", ["train.batch_size=128"]),
    "AlexNet, batch 128 (SPEC D)": ("alexnet", ["train.batch_size=128"]),
    "ResNet-20, batch 128 (cifar-resnet-paper)": ("resnet20", ["train.batch_size=128"]),
    "ResNet-56, batch 128 (cifar-resnet-paper)": ("resnet56", ["train.batch_size=128"]),
    "ResNet-18, batch 256 (speedrun)": ("resnet18", ["train.batch_size=256"]),
    "airbench94, batch 1024 (speedrun)": ("airbench", ["train.batch_size=1024"]),
    "energy GRU 2×256, chunks of 16": ("rnn_forecaster", [
        "data.name=energy-sample", "model.cell=gru", "model.hidden=256", "model.layers=2", "data.train_chunk=48",
        "data.train_context=24", "train.batch_size=16"]),
    "mortality variable RNN, batch 32": ("variable_rnn", [
        "data.name=mortality-sample", "model.embed=32", "model.hidden=16", "task.auc=true",
        "task.class_weight=balanced", "optim.name=adam", "train.batch_size=32"]),
    "seizure 1-D CNN, batch 32": ("cnn1d", ["data.name=seizure-sample", "train.batch_size=32"]),
    "seizure GRU, batch 32": ("rnn_classifier", ["data.name=seizure-sample", "train.batch_size=32"]),
}
WARMUP = 3
MIN_SECONDS = 2.0   # timed per measurement, at least


def step_time(model_name: str, overrides: list[str], precision: str, steps: int, compile: bool = False) -> float:
    """Seconds per training step after the warm-up steps (which include any compilation)."""
    return timed_steps(model_name, overrides, precision, steps, compile)[1]


def timed_steps(model_name: str, overrides: list[str], precision: str, steps: int,
                compile: bool = False) -> tuple[float, float]:
    """(seconds of the warm-up steps, seconds per step after them) of the engine's training step."""
    cfg = load_config(model_name, ["data.name=cifar10-sample", *overrides])
    torch.manual_seed(0)
    parts = build_parts(cfg)
    rt = Runtime.setup(device="cpu", precision=precision, threads=torch.get_num_threads(), model=parts.model,
                       task=parts.task, compile=compile)
    data, task = parts.data, parts.task
    model = rt.prepare(parts.model)
    optimizer = build_optimizer(model, cfg.optim)
    model = rt.compiled(model)
    batch, n = cfg.train.batch_size, len(data.train)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    start = t0 = time.perf_counter()
    i = 0
    while i < WARMUP + steps:
        if i == WARMUP:
            t0 = time.perf_counter()
            # steps of a few ms: at least MIN_SECONDS of them, or the timer's and the machine's noise dominates
            steps = max(steps, math.ceil(MIN_SECONDS / max((t0 - start) / WARMUP, 1e-6)))
        idx = order[(i * batch) % max(n - batch, 1):][:batch]
        g = data.train.groups[idx] if data.train.groups is not None else None
        x = rt.inputs(data.transform(data.train.inputs[idx], True, None))
        with rt.autocast():
            loss, _, _ = task.compute(model, x, data.train.targets[idx], g)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        i += 1
    return t0 - start, (time.perf_counter() - t0) / steps


def decide(name: str, fp32_ms: float, bf16_ms: float) -> dict[str, Any]:
    """What `precision: auto` picks for recipe `name` on this machine, and how far that is from the better time."""
    model, overrides = RECIPES[name]
    probe = build_parts(load_config(model, ["data.name=cifar10-sample", *overrides]))
    auto = Runtime.setup(device="cpu", precision="auto", model=probe.model, task=probe.task, data=probe.data,
                         batch_size=probe.config.train.batch_size)
    chosen = fp32_ms if auto.precision == "fp32" else bf16_ms
    return {"auto": auto.precision, "auto_reason": auto.precision_reason,
            "auto_vs_best": chosen / min(fp32_ms, bf16_ms)}


def redecide() -> None:
    """auto's column of this machine type's results again, by today's rule, against the times measured there."""
    path = result_path("precision_speed")
    if not path.is_file():
        sys.exit(f"{path}: no results for this machine type to decide against; run the benchmark first")
    result = json.loads(path.read_text())
    rows = [{**r, **decide(r["recipe"], r["fp32_ms"], r["bf16_ms"])} for r in result["rows"] if r["recipe"] in RECIPES]
    save("precision_speed", {**result, "rows": rows, "auto_command": "python " + " ".join(sys.argv)}, markdown)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--only", nargs="*", default=None, help="recipe names (default: all)")
    p.add_argument("--redecide", action="store_true", help="time nothing: decide auto's column again")
    args = p.parse_args()
    if args.redecide:
        return redecide()
    rows = []
    for name, (model, overrides) in RECIPES.items():
        if args.only and name not in args.only:
            continue
        times: dict[str, list[float]] = {"fp32": [], "bf16": []}
        for _ in range(args.repeats):
            for precision in times:
                times[precision].append(step_time(model, overrides, precision, args.steps))
        fp32, bf16 = (statistics.median(times[k]) for k in ("fp32", "bf16"))
        auto = decide(name, 1000 * fp32, 1000 * bf16)
        rows.append({"recipe": name, "fp32_ms": 1000 * fp32, "bf16_ms": 1000 * bf16, **auto})
        print(f"{name}: fp32 {1000 * fp32:.1f} ms, bf16 {1000 * bf16:.1f} ms, auto = {auto['auto']}",
              file=sys.stderr, flush=True)
    if args.only:   # the other recipes' rows of this machine type stay, each with the command that measured it
        rows = merged_rows("precision_speed", rows)
    save("precision_speed", {**environment(repeats=args.repeats, steps=args.steps,
                                           threads=torch.get_num_threads()), "rows": rows}, markdown)


def markdown(result: dict) -> str:
    commands = list(dict.fromkeys(r.get("command", result["command"]) for r in result["rows"]))
    source = (f"`{commands[0]}`" if len(commands) == 1 else
              f"{len(commands)} runs of `benchmarks/precision_speed.py` (each row's command is in its results file; "
              f"the last: `{result['command']}`)")
    decided = (f"; auto's column decided again by `{result['auto_command']}` against these times (auto's rule "
               "changed after they were measured)" if result.get("auto_command") else "")
    lines = [f"{source} — {result['machine_type']}, {result['threads']} threads, torch {result['torch']}; ms per "
             f"training step, medians of {result['repeats']} rounds of at least {result['steps']} steps{decided}",
             "", "| recipe | fp32 ms | bf16 ms | bf16 speed-up | auto picks | auto vs the better |",
             "|---|---:|---:|---:|---|---:|"]
    lines += [f"| {r['recipe']} | {r['fp32_ms']:.1f} | {r['bf16_ms']:.1f} | {r['fp32_ms'] / r['bf16_ms']:.2f}× | "
              f"{r['auto']} | {100 * (r['auto_vs_best'] - 1):+.0f} % |" for r in result["rows"]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
