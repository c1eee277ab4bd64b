"""Energy forecasting (SPEC E): the blog's window protocol vs nnstudy's chunk formulation, on the full PJM data.

    python benchmarks/energy_formulations.py [--steps 5] [--cells gru lstm rnn] [--time-to-accuracy]

Part 1 (per cell, 2 layers × 256 hidden): the median time of one training step (after one warm-up step) and the
peak resident memory, each formulation in its own fresh process, then time per epoch = steps per epoch × median
step. Windows: the blog's batch of 1,024 90-hour windows (862 steps over the 882,109 training targets). Chunks:
`energy-rnn`'s default recipe: batches of 16 chunks, each 24 hours of run-in then a target at each of 48 hours.
Both read their settings from the study file (`--mode faithful` and the default mode).

Part 2 (--time-to-accuracy): trains the GRU with the default recipe through `nnstudy.engine.train`, scoring the
whole test split (109,029 faithful 90-hour windows) after every epoch, and reports the training seconds at which
the legacy sMAPE first reaches the blog's 0.2808 %. The window protocol is not trained to accuracy here: one
epoch of it is about an hour on 2 CPU cores (part 1), the blog's 5 epochs several hours.

Needs the energy data (`nnstudy data add energy ...`). Writes
benchmarks/results/energy_formulations/<machine type>.json and
prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from _common import environment, result_path, save

HERE = Path(__file__).parent
BLOG_LEGACY_SMAPE = 0.2808     # % (the blog's GRU, legacy formula)
RECIPE = "energy-rnn"          # the study: its default mode trains on chunks, --mode faithful on windows
FORMULATIONS = {"windows": "faithful", "chunks": None}   # formulation -> the study's mode


def recipe(formulation: str, cell: str = "gru") -> dict:
    """The run config (dict) of `cell`, 2 layers, in the study mode of `formulation`."""
    from nnstudy.study import load_study_spec
    spec = load_study_spec(RECIPE, mode=FORMULATIONS[formulation])
    variant = next(v for v in spec.expand() if v.name == f"cell={cell},layers=2")
    return spec.run_config(variant, 0)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux: KiB


def measure_steps(cell: str, formulation: str, steps: int, threads: int) -> dict:
    """In this process (run it fresh): median seconds per training step and peak RSS."""
    from nnstudy.data import build_dataset
    from nnstudy.models import build_model
    from nnstudy.tasks.forecasting import Forecasting

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = recipe(formulation, cell)
    batch = cfg["train"]["batch_size"]
    data_args = {k: v for k, v in cfg["data"].items() if k != "name"}
    data = build_dataset(cfg["data"]["name"], **data_args)
    rss_data = _rss_mb()
    task = Forecasting()
    task.setup(data)   # the task reads the data's scalers (and checks its targets)
    model_args = {k: v for k, v in cfg["model"].items() if k != "name"}
    model = build_model("rnn_forecaster", **model_args, input_shape=data.info.input_shape)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["optim"]["lr"])
    order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(0))
    times = []
    for k in range(steps + 1):
        idx = order[k * batch:(k + 1) * batch]
        t0 = time.perf_counter()
        loss = task.compute(model, data.train.inputs[idx], data.train.targets[idx], data.train.groups[idx]).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if k:                                            # step 0 is the warm-up
            times.append(time.perf_counter() - t0)
    step = statistics.median(times)
    steps_per_epoch = -(-len(data.train) // batch)
    targets = data.train.targets.numel()
    return {"cell": cell, "formulation": formulation, "batch": batch, "train_chunk": data_args.get("train_chunk"),
            "train_context": data_args.get("train_context"),
            "samples": len(data.train), "targets_per_epoch": targets, "steps_per_epoch": steps_per_epoch,
            "step_s": step, "step_s_all": times, "epoch_s": step * steps_per_epoch,
            "rss_after_data_mb": rss_data, "peak_rss_mb": _rss_mb()}


def time_to_accuracy(threads: int, epochs: int) -> dict:
    """Train the GRU with the study's default recipe, scoring the whole test split every epoch."""
    from nnstudy.engine import train

    raw = recipe("chunks", "gru")
    raw["train"].update({"test_every_epoch": True, "threads": threads, "epochs": epochs})
    raw["train"].pop("eval_samples", None)               # the whole test split at every epoch
    with tempfile.TemporaryDirectory() as tmp:
        raw.update({"out_dir": tmp, "name": "tta"})
        from nnstudy import load_config
        result = train(load_config(raw), progress=True)
        history = pd.read_csv(result.run_dir / "metrics.csv")
    curve = [{"epoch": int(r.epoch), "train_s": float(r.train_seconds), "test_smape": float(r.test_smape),
              "test_smape_legacy": float(r.test_smape_legacy)} for r in history.itertuples()]
    reached = next((c for c in curve if c["test_smape_legacy"] <= BLOG_LEGACY_SMAPE), None)
    return {"variant": "cell=gru,layers=2", "curve": curve, "target_legacy": BLOG_LEGACY_SMAPE,
            "reached_at_train_s": reached["train_s"] if reached else None,
            "reached_at_epoch": reached["epoch"] if reached else None,
            "final_test": {k: v for k, v in result.summary["metrics"].items() if k.startswith("test_")}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=5, help="timed steps per formulation (median reported)")
    p.add_argument("--cells", nargs="+", default=["gru", "lstm", "rnn"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--time-to-accuracy", action="store_true", help="also train the GRU recipe to the blog's sMAPE")
    p.add_argument("--epochs", type=int, default=None, help="epochs for --time-to-accuracy (default: the recipe's)")
    p.add_argument("--one", nargs=2, metavar=("CELL", "FORMULATION"), help=argparse.SUPPRESS)  # child process
    args = p.parse_args()
    if args.one:
        print(json.dumps(measure_steps(*args.one, steps=args.steps, threads=args.threads)))
        return
    rows = []
    for cell in args.cells:
        for formulation in FORMULATIONS:
            out = subprocess.run([sys.executable, __file__, "--one", cell, formulation, "--steps", str(args.steps),
                                  "--threads", str(args.threads)], capture_output=True, text=True)
            if out.returncode:   # the child's own error, not just its exit status
                sys.exit(f"{cell} {formulation}: the measuring process failed:\n{out.stderr[-3000:]}")
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"{cell} {formulation}: {r['step_s']:.3f} s/step, {r['epoch_s']:.0f} s/epoch, "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    tta = None
    if args.time_to_accuracy:
        tta = time_to_accuracy(args.threads, args.epochs or recipe("chunks")["train"]["epochs"])
    out = result_path("energy_formulations")
    previous = json.loads(out.read_text()) if out.is_file() else {}
    result = {**environment(threads=args.threads, steps=args.steps), "rows": rows or previous.get("rows", []),
              "time_to_accuracy": tta or previous.get("time_to_accuracy")}
    save("energy_formulations", result, markdown)


def markdown(result: dict) -> str:
    env = result
    lines = [f"`{env['command']}` — {env['machine']}, {env['threads']} threads, torch {env['torch']}; "
             f"median of {env['steps']} steps after a warm-up step" + (f" ({env['note']})" if env.get("note") else ""),
             "",
             "| cell (2 × 256) | formulation | batch | targets / step | s / step | steps / epoch | s / epoch | "
             "peak RSS MB (after data load) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    by = {(r["cell"], r["formulation"]): r for r in result["rows"]}
    def num(value, fmt: str = ",") -> str:
        return "—" if value is None else format(value, fmt)

    for r in result["rows"]:   # rows transcribed from an interrupted run lack the recipe's columns: shown as —
        per_step = r["batch"] * (r.get("train_chunk") or 1) if "batch" in r else None   # targets per step
        lines.append(f"| {r['cell']} | {r['formulation']} | {num(r.get('batch'))} | {num(per_step)} | "
                     f"{r['step_s']:.3f} | {num(r.get('steps_per_epoch'))} | {r['epoch_s']:,.0f} | "
                     f"{r['peak_rss_mb']:,.0f} ({num(r.get('rss_after_data_mb'), ',.0f')}) |")
    for cell in dict.fromkeys(r["cell"] for r in result["rows"]):
        if (cell, "windows") in by and (cell, "chunks") in by:
            ratio = by[(cell, "windows")]["epoch_s"] / by[(cell, "chunks")]["epoch_s"]
            lines.append(f"\n{cell}: an epoch of chunks is {ratio:.1f}× faster than an epoch of windows.")
    tta = result.get("time_to_accuracy")
    if tta:
        lines += ["", f"Time to the blog's legacy sMAPE {tta['target_legacy']} % ({tta['variant']}, whole test "
                      f"split scored after each epoch):", "",
                  "| epoch | train s | test sMAPE % | legacy % |", "|---:|---:|---:|---:|"]
        lines += [f"| {c['epoch']} | {c['train_s']:.0f} | {c['test_smape']:.3f} | {c['test_smape_legacy']:.4f} |"
                  for c in tta["curve"]]
        lines.append("\nreached after " + (f"{tta['reached_at_train_s']:.0f} s of training (epoch "
                                            f"{tta['reached_at_epoch']})" if tta["reached_at_train_s"]
                                            else "— not reached"))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
