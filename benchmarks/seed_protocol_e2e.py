"""The write-up's whole protocol end to end: the tutorial loop run variant after variant against `nnstudy run`.

    python benchmarks/seed_protocol_e2e.py [--studies cifar-mlp-depth cifar-cnn-ablation] [--side both]
        [--epochs N] [--subset N] [--keep DIR]

Issue #18, item 5a. For each study (default: SPEC A `cifar-mlp-depth` and SPEC B `cifar-cnn-ablation`, every
variant × seed of the study file, full CIFAR-10):

- ``tutorial``: what the write-up did — the PyTorch "Training a Classifier" loop, one run after another: a
  Dataset converting one uint8 image at a time (ToTensor, Normalize(0.5, 0.5)), a DataLoader with 2 worker
  processes and shuffle, the study's batch size, SGD and epochs; after each epoch the test accuracy with the same
  kind of loader (the write-up's per-epoch tables). The models are nnstudy's (the same layers and initialisation);
  no validation split, no checkpoints.
- ``nnstudy``: `nnstudy run STUDY` in a fresh process (its workers, precision auto, validation each epoch,
  checkpoints, the final test, the report), timed from the command's start to its exit.

Wall seconds of each side, per study and in all; the goal (issue #18) is nnstudy ≥ 4× faster on 2 cores. Writes
benchmarks/results/seed_protocol_e2e/<machine type>.json after each study (a run of some studies adds to the
others' rows). `--epochs`/`--subset` shrink both sides alike for a smoke test, whose table is printed, not saved.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from _common import environment, merged_rows, save
from nnstudy.data import build_dataset
from nnstudy.models import build_model
from nnstudy.study.spec import load_study_spec
from seed_protocol import TutorialImages

HERE = Path(__file__).resolve().parent


def tutorial_run(cfg: dict, train_set, test_set, epochs: int) -> float:
    """One run of the tutorial loop; returns the last epoch's test accuracy."""
    torch.manual_seed(cfg["train"]["seed"])
    model_cfg = {k: v for k, v in cfg["model"].items() if k != "name"}
    model = build_model(cfg["model"]["name"], **model_cfg)
    opt = torch.optim.SGD(model.parameters(), lr=cfg["optim"]["lr"], momentum=cfg["optim"]["momentum"])
    batch = cfg["train"]["batch_size"]
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=batch, shuffle=True, num_workers=2)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=batch, shuffle=False, num_workers=2)
    acc = 0.0
    for _ in range(epochs):
        model.train()
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for x, y in test_loader:
                correct += int((model(x).argmax(1) == y).sum())
                total += len(y)
        acc = correct / total
    return acc


def tutorial_side(study: str, epochs: int | None, subset: int | None) -> tuple[float, list[dict]]:
    spec = load_study_spec(study)
    data = build_dataset("cifar10", val_fraction=0.0)
    n = subset or len(data.train.targets)
    train_set = TutorialImages(data.train.inputs[:n], data.train.targets[:n])
    test_set = TutorialImages(data.test.inputs, data.test.targets)
    runs = []
    t0 = time.perf_counter()
    for variant in spec.expand():
        for seed in spec.seeds:
            cfg = spec.run_config(variant, seed)
            start = time.perf_counter()
            acc = tutorial_run(cfg, train_set, test_set, epochs or cfg["train"]["epochs"])
            runs.append({"variant": variant.name, "seed": seed, "test_acc": acc,
                         "seconds": time.perf_counter() - start})
            print(f"tutorial {study} {variant.name} s{seed}: {acc:.4f} in {runs[-1]['seconds']:.0f} s",
                  file=sys.stderr, flush=True)
    return time.perf_counter() - t0, runs


def nnstudy_side(study: str, epochs: int | None, subset: int | None, out: Path) -> tuple[float, float]:
    """Wall seconds of `nnstudy run STUDY`, and its runs' mean test accuracy (the epoch chosen on validation)."""
    overrides = ([f"train.epochs={epochs}"] if epochs else []) + ([f"data.subset={subset}"] if subset else [])
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nnstudy", "run", study, "--out", str(out), "--quiet", *overrides],
                   check=True)
    seconds = time.perf_counter() - t0
    results = pd.read_csv(out / study / "results.csv")
    print(f"nnstudy {study}: {seconds:.0f} s", file=sys.stderr, flush=True)
    return seconds, float(results["test_acc"].mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--studies", nargs="+", default=["cifar-mlp-depth", "cifar-cnn-ablation"])
    p.add_argument("--side", choices=["tutorial", "nnstudy", "both"], default="both")
    p.add_argument("--epochs", type=int, default=None, help="fewer epochs than the studies' (smoke test)")
    p.add_argument("--subset", type=int, default=None, help="training images (smoke test); default all")
    p.add_argument("--keep", default=None, help="folder for nnstudy's study directories (default: temporary)")
    args = p.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="seed_protocol_e2e-") if not args.keep else None
    out = Path(args.keep or tmp.name)
    settings = environment(epochs=args.epochs, subset=args.subset, threads=torch.get_num_threads())
    shrunk = bool(args.epochs or args.subset)
    rows = []
    for study in args.studies:
        row: dict = {"study": study}
        if args.side in ("tutorial", "both"):
            row["tutorial_s"], row["tutorial_runs"] = tutorial_side(study, args.epochs, args.subset)
        if args.side in ("nnstudy", "both"):
            row["nnstudy_s"], row["nnstudy_test_acc"] = nnstudy_side(study, args.epochs, args.subset, out)
        rows.append(row)
        # after every study: a run killed in the second study keeps the first (each is ~1-2 h of measurement),
        # and a run of one study (--studies X) adds its row to the other's instead of erasing it
        if not shrunk:
            save("seed_protocol_e2e", {**settings, "rows": merged_rows("seed_protocol_e2e", rows, key="study")},
                 markdown)
    if shrunk:   # a smoke test never replaces the full protocol's result
        print(markdown({**settings, "rows": rows}))
        print("shrunk run (--epochs/--subset): printed, not saved", file=sys.stderr)


def markdown(result: dict) -> str:
    shrink = [f"{k} {result[k]}" for k in ("epochs", "subset") if result.get(k)]
    commands = list(dict.fromkeys(r.get("command", result["command"]) for r in result["rows"]))
    lines = [" and ".join(f"`{c}`" for c in commands) + f" — {result['machine_type']}, torch {result['torch']}; "
             "wall seconds, one measurement"
             + (f" (**shrunk: {', '.join(shrink)}**)" if shrink else ""), "",
             "| study | runs | tutorial loop, run after run | nnstudy run | nnstudy faster "
             "| test acc, mean of the runs: tutorial (last epoch) / nnstudy (epoch chosen on validation) |",
             "|---|---:|---:|---:|---:|---:|"]
    total = {"t": 0.0, "n": 0.0, "studies": 0}
    for r in result["rows"]:
        t, n = r.get("tutorial_s"), r.get("nnstudy_s")
        runs = len(r.get("tutorial_runs", [])) or "—"
        ratio = f"{t / n:.1f}×" if t and n else "—"
        tutorial_acc = [run["test_acc"] for run in r.get("tutorial_runs", [])]
        accs = (f"{sum(tutorial_acc) / len(tutorial_acc):.3f}" if tutorial_acc else "—") + " / " + \
            (f"{r['nnstudy_test_acc']:.3f}" if r.get("nnstudy_test_acc") is not None else "—")
        lines.append(f"| {r['study']} | {runs} | {_seconds(t)} | {_seconds(n)} | {ratio} | {accs} |")
        if t and n:
            total["t"] += t
            total["n"] += n
            total["studies"] += 1
    if total["studies"] > 1:   # with one study measured, its row is the whole story
        lines.append(f"| **all** | | {total['t']:,.0f} s | {total['n']:,.0f} s | {total['t'] / total['n']:.1f}× | |")
    notes = [f"- {r['study']}: {r['note']}" for r in result["rows"] if r.get("note")]
    return "\n".join(lines + ([""] + notes if notes else []))


def _seconds(value: float | None) -> str:
    return f"{value:,.0f} s" if value else "—"


if __name__ == "__main__":
    main()
