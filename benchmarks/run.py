"""Run nnstudy's benchmarks and write their tables into docs/benchmarks.md.

    python benchmarks/run.py                        # every benchmark that needs no extra data, then the doc
    python benchmarks/run.py --only seed_protocol   # one (or several) of them
    python benchmarks/run.py --with energy_formulations cifar_speedrun   # also the slow ones (full data, hours)
    python benchmarks/run.py --docs-only            # rebuild the doc from benchmarks/results/*.json

Each benchmark is a script in this folder that writes benchmarks/results/<name>.json (its command, the machine,
torch version, medians of repeats) and has a `markdown(result)` function; this runner calls the scripts one after
another — never two at once, which would make both numbers wrong on a small machine — and then renders every
result file it finds. A section whose benchmark was not run this time shows the numbers (and command) of its
last run. Benchmarks are not tests: run them on a quiet machine.
"""
from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOC = HERE.parent / "docs" / "benchmarks.md"

# name -> (title, what it answers, default arguments, needs data beyond the bundled samples)
BENCHMARKS: dict[str, tuple[str, str, list[str], bool]] = {
    "seed_protocol": (
        "1. The seed protocol: nnstudy's loop against hand-written loops",
        "Steps per second of the PyTorch tutorial protocol (tutorial_cnn, batch 4, SGD) in the tutorial's own "
        "DataLoader loop, the tightest hand-written loop, nnstudy's engine and the compute alone.",
        ["--steps", "1500", "--repeats", "3"], True),
    "seed_protocol_e2e": (
        "The seed protocol end to end: the tutorial loop run after run against `nnstudy run`",
        "Wall time of the write-up's whole protocol (`cifar-mlp-depth` and `cifar-cnn-ablation`, every variant and "
        "seed on the full CIFAR-10) as the tutorial's loop runs it, one run after another, and as `nnstudy run` "
        "does.", [], True),
    "energy_formulations": (
        "2. Energy: the blog's window protocol against nnstudy's chunk formulation",
        "Time per epoch and peak memory of each formulation, and (with --time-to-accuracy) the training time "
        "until the blog's sMAPE.",
        ["--steps", "5"], True),
    "cifar_speedrun": (
        "3. Time to accuracy: the cifar-speedrun recipes on CIFAR-10",
        "Test accuracy against wall-clock time of `nnstudy run cifar-speedrun`'s recipes (airbench94's, and a "
        "narrower net sized for a 6-minute budget), each run timed end to end in a fresh process.",
        [], True),
    "inference": (
        "4. Inference throughput: fp32, channels_last, bf16",
        "Images per second of ResNet-18/50 in each precision and memory format, and how far the fast modes move "
        "the answers.",
        ["--repeats", "3"], False),
    "training_formats": (
        "Training step: NCHW against channels_last",
        "Step time of conv nets at their studies' batch sizes in both memory formats, and how far the losses "
        "drift apart: the measurement behind `train.channels_last: auto`.",
        ["--repeats", "3"], False),
    "study_overhead": (
        "5. Study overhead and parallel runs",
        "Wall time of a study of tiny runs minus the work its runs report: the cost nnstudy adds per run, with "
        "one worker and with two.",
        ["--runs", "100", "--repeats", "3"], False),
    "ray_overhead": (
        "Study overhead: the Ray backend against the process pool",
        "Per-run overhead of `--backend ray` (a local Ray instance of two CPUs) against the local pool of two "
        "worker processes, on 100 trivial runs.",
        ["--runs", "100", "--repeats", "3"], False),
    "ddp_speedup": (
        "One run on two processes (DDP) on two cores",
        "One ResNet-18 epoch on the bundled sample: one process with two threads against two processes of one "
        "thread each (`--nproc 2`), same global batch.",
        ["--repeats", "5"], False),
    "tracking_overhead": (
        "Trackers: what sending a run to MLflow, TensorBoard and W&B costs",
        "Per-epoch training time of the tutorial CNN on the CIFAR-10 sample without trackers and with each, the "
        "time the training thread spends queueing rows, and the whole run's wall time.",
        ["--epochs", "10", "--repeats", "7"], False),
    "precision_speed": (
        "Precision: fp32 against bf16 on every shipped recipe, and what auto picks",
        "Training step time of each built-in study's (and the quickstart's) recipe in fp32 and bf16 through the "
        "engine's Runtime, and how far `train.precision: auto` is from the better of the two on this machine.",
        ["--repeats", "3", "--steps", "20"], False),
    "precision_accuracy": (
        "Precision: does bf16 cost accuracy? (mortality AUC, energy GRU)",
        "The mortality model and the energy GRU trained in fp32 and in bf16 with the same seeds: paired differences "
        "of their test metrics, and bf16 in inference only against bf16 in training only.",
        ["--recipes", "mortality", "energy", "--seeds", "0", "1", "2"], True),
    "compile_speed": (
        "train.compile: eager against torch.compile",
        "Training step time of the shipped recipes eager and compiled by inductor at the precision auto picks, the "
        "compilation's cost and the steps it takes to pay it back: the measurement behind `train.compile: false`.",
        ["--repeats", "2"], False),
    "engine_overhead": (
        "The engine against a bare loop of the same recipe",
        "Training seconds per epoch of `cifar-speedrun`'s airbench94 on the full CIFAR-10 through nnstudy's "
        "engine (a real run: checkpoints, metrics) and through a hand-written loop of the same parts.",
        ["--repeats", "2"], True),
    "matmul_precision": (
        "Hardware check: does bf16 pay on this CPU?",
        "Matmul GFLOP/s and a GRU forward in fp32 and bf16, side by side.",
        ["--repeats", "10"], False),
}
# hours each (data preparation and minutes per cell; an hour per airbench94 seed on 2 cores): only when asked
SLOW = {"energy_formulations", "cifar_speedrun", "precision_accuracy", "engine_overhead", "seed_protocol_e2e"}


def run(name: str, extra: list[str]) -> float:
    _, _, args, _ = BENCHMARKS[name]
    t0 = time.perf_counter()
    # from the repository root with a relative path: the command recorded in the results is the one to re-run
    subprocess.run([sys.executable, f"benchmarks/{name}.py", *args, *extra], check=True, cwd=HERE.parent)
    return time.perf_counter() - t0


def render() -> str:
    sys.path.insert(0, str(HERE))
    from _common import RESULTS
    parts = ["# Benchmarks", "",
             "Measured by `python benchmarks/run.py` (see its `--help`); each section names the exact command, the "
             "machine and the torch version it ran with, and quotes medians of repeats. Performance goals and what "
             "was tried are in the text under each table. Our machines are of three types so far: AMD EPYC with "
             "AVX2 only, where bf16 is 4-5× slower than fp32; AMD EPYC (Zen 4) with AVX-512 BF16, where it is "
             "1.5-2.2× faster; and Intel Xeon (family 6 model 207) with AVX-512 BF16 but no AMX, where it is "
             "0.58-0.97× fp32's speed. Each result says which type it comes from "
             "(benchmarks/results/NAME/TYPE.json), and a section shows one table per type measured. Numbers "
             "from one machine compare only with numbers from the same machine.", ""]
    goals = HERE / "notes" / "goals.md"
    if goals.is_file():   # the performance goals of the issues, each met or missed with its figure and machine
        parts += [goals.read_text().strip(), ""]
    for name, (title, what, _, _) in BENCHMARKS.items():
        results = sorted((RESULTS / name).glob("*.json"))
        parts += [f"## {title}", "", what, ""]
        if not results:
            parts += [f"Not measured yet: `python benchmarks/run.py --only {name}`.", ""]
            continue
        module = importlib.import_module(name)
        for path in results:   # a table per machine type: numbers compare within one machine only
            result = json.loads(path.read_text())
            kind = result.get("machine_type", result.get("machine", "?"))
            features = ", ".join(result.get("cpu_features") or []) or "none recorded"
            cpu = f"CPU {result['cpu_id']}; " if result.get("cpu_id") else ""
            parts += [f"### On {kind}", "", f"*{cpu}CPU features: {features}.*", "", module.markdown(result), ""]
        notes = HERE / "notes" / f"{name}.md"
        if notes.is_file():
            parts += [notes.read_text().strip(), ""]
    return "\n".join(parts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run just these")
    p.add_argument("--with", dest="also", nargs="+", default=[], choices=sorted(SLOW), help="also run these")
    p.add_argument("--docs-only", action="store_true", help="run nothing; rebuild docs/benchmarks.md")
    args = p.parse_args()
    names = [] if args.docs_only else (args.only or [n for n in BENCHMARKS if n not in SLOW or n in args.also])
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        seconds = run(name, [])
        print(f"== {name}: {seconds:.0f} s", file=sys.stderr, flush=True)
    tmp = DOC.with_suffix(".md.tmp")
    tmp.write_text(render() + "\n", encoding="utf-8")
    tmp.replace(DOC)
    print(f"wrote {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
