"""Does `train.compile` pay? The engine's training step eager and through torch.compile (inductor), side by side.

    python benchmarks/compile_speed.py [--repeats 3] [--steps 20] [--only RECIPE ...]

The recipes and the step of benchmarks/precision_speed.py (the Task's loss under the Runtime's autocast, backward,
optimiser step), each at the precision `auto` picks on this machine, eager and compiled alternating within each of
`--repeats` rounds (medians of ms per step after 3 warm-up steps). "compile s" is what the warm-up steps cost above
eager's: the compilation a run pays once (twice with a smaller last batch). "break-even" is the number of steps after
which the compiled run is ahead. Goal (issue #18): on by default only if it wins on both machine types. Writes
benchmarks/results/compile_speed/<machine type>.json.
"""
from __future__ import annotations

import argparse
import statistics
import sys

import torch

from _common import environment, save
from nnstudy.engine.build import build_parts
from nnstudy.engine.runtime import Runtime
from nnstudy.resolution import load_config
from precision_speed import RECIPES, timed_steps

# variable-length packed sequences: every batch another shape, so compile recompiles instead of reusing
SKIP = {"mortality variable RNN, batch 32"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--only", nargs="*", default=None, help="recipe names (default: all but the variable-length one)")
    args = p.parse_args()
    rows = []
    for name, (model, overrides) in RECIPES.items():
        if (args.only and name not in args.only) or (not args.only and name in SKIP):
            continue
        probe = build_parts(load_config(model, ["data.name=cifar10-sample", *overrides]))
        precision = Runtime.setup(device="cpu", precision="auto", model=probe.model, task=probe.task, data=probe.data,
                                  batch_size=probe.config.train.batch_size).precision
        warm: dict[str, list[float]] = {"eager": [], "compiled": []}
        step: dict[str, list[float]] = {"eager": [], "compiled": []}
        for _ in range(args.repeats):
            for kind in step:
                w, s = timed_steps(model, overrides, precision, args.steps, compile=kind == "compiled")
                warm[kind].append(w)
                step[kind].append(s)
            torch._dynamo.reset()   # each round compiles afresh, as a new run would
        eager, compiled = (statistics.median(step[k]) for k in ("eager", "compiled"))
        compile_s = statistics.median(warm["compiled"]) - statistics.median(warm["eager"])
        gain = eager - compiled
        rows.append({"recipe": name, "precision": precision, "eager_ms": 1000 * eager, "compiled_ms": 1000 * compiled,
                     "compile_s": compile_s, "break_even_steps": compile_s / gain if gain > 0 else None})
        print(f"{name} ({precision}): eager {1000 * eager:.1f} ms, compiled {1000 * compiled:.1f} ms, "
              f"compilation {compile_s:.1f} s", file=sys.stderr, flush=True)
    save("compile_speed", {**environment(repeats=args.repeats, steps=args.steps,
                                         threads=torch.get_num_threads()), "rows": rows}, markdown)


def markdown(result: dict) -> str:
    lines = [f"`{result['command']}` — {result['machine_type']}, {result['threads']} threads, torch "
             f"{result['torch']}; ms per training step at the precision auto picked when measured, medians of "
             f"{result['repeats']} rounds of {result['steps']} steps", "",
             "| recipe | precision | eager ms | compiled ms | speed-up | compile s | break-even steps |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        if r["break_even_steps"] is None:
            even = "never"
        elif r["compile_s"] < 0.5:   # nothing measurable to pay back (e.g. a recurrent net dynamo leaves eager)
            even = "at once"
        else:
            even = f"{r['break_even_steps']:,.0f}"
        lines.append(f"| {r['recipe']} | {r['precision']} | {r['eager_ms']:.1f} | {r['compiled_ms']:.1f} | "
                     f"{r['eager_ms'] / r['compiled_ms']:.2f}× | {max(r['compile_s'], 0.0):.1f} | {even} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
