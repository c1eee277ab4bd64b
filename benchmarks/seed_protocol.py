"""The seed protocol's cost per step: nnstudy's training loop against the loops people write by hand.

    python benchmarks/seed_protocol.py [--steps 1500] [--repeats 3] [--threads 1] [--data cifar10]

The PyTorch "Training a Classifier" protocol: tutorial_cnn, batch 4, SGD lr 0.001 momentum 0.9, cross-entropy,
CIFAR-10 normalised with mean = std = 0.5. Four loops train the same model for the same number of steps:

- ``tutorial``: the tutorial's own loop — a Dataset that converts one uint8 image at a time (ToTensor, Normalize),
  a DataLoader with 2 worker processes, shuffle;
- ``tight``: the fastest hand-written loop — the whole training set as one float tensor, a random permutation,
  a slice per step;
- ``nnstudy``: `nnstudy.engine.train` (training time as the run's summary reports it: no evaluation, no start-up);
- ``compute``: forward, backward and optimiser step on one fixed batch — no data at all, the floor;
- ``vmap ×8``: eight models stacked with ``torch.func.stack_module_state`` + ``vmap(functional_call)``, each with
  its own batch of 4, one optimiser step for all (the way to train seeds together): reported per model-step, so
  it compares with the single-model rows;
- ``compute, torch.compile``: ``compute`` with the model compiled by inductor (compilation not timed).

Steps per second are medians over `--repeats` rounds; each round runs the four loops one after another, so drift of
a noisy machine hits them alike. Writes benchmarks/results/seed_protocol/<machine type>.json and prints a Markdown
table.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

from _common import environment, save
from nnstudy import load_config
from nnstudy.data import build_dataset
from nnstudy.engine import train
from nnstudy.models import build_model

BATCH, LR, MOMENTUM = 4, 0.001, 0.9


class TutorialImages(torch.utils.data.Dataset):
    """uint8 (N, 3, 32, 32) images served one at a time as the tutorial's transforms would: to float in [0, 1]
    (ToTensor), then (x − 0.5) / 0.5 (Normalize)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = self.images[i].float().div(255)
        return (x - 0.5) / 0.5, int(self.labels[i])


def _model(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = build_model("tutorial_cnn")
    return model, torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)


def _step(model, opt, x, y) -> None:
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def tutorial_loop(images, labels, steps: int) -> float:
    model, opt = _model(0)
    loader = torch.utils.data.DataLoader(TutorialImages(images, labels), batch_size=BATCH, shuffle=True,
                                         num_workers=2, persistent_workers=False)
    t0, done = time.perf_counter(), 0
    for x, y in loader:                     # the workers' start-up is part of the tutorial's cost, as for users
        _step(model, opt, x, y)
        done += 1
        if done == steps:
            break
    return steps / (time.perf_counter() - t0)


def tight_loop(images, labels, steps: int) -> float:
    model, opt = _model(0)
    x_all = (images.float().div(255) - 0.5) / 0.5
    order = torch.randperm(len(labels))
    t0 = time.perf_counter()
    for k in range(steps):
        idx = order[k * BATCH:(k + 1) * BATCH]
        _step(model, opt, x_all[idx], labels[idx])
    return steps / (time.perf_counter() - t0)


def compute_only(images, labels, steps: int) -> float:
    model, opt = _model(0)
    x, y = (images[:BATCH].float().div(255) - 0.5) / 0.5, labels[:BATCH]
    t0 = time.perf_counter()
    for _ in range(steps):
        _step(model, opt, x, y)
    return steps / (time.perf_counter() - t0)


def stacked_loop(images, labels, steps: int, k: int = 8) -> float:
    """Model-steps per second of `k` stacked models, each on its own batch, one optimiser step for all."""
    import copy

    from torch.func import functional_call, stack_module_state, vmap
    models = [_model(seed)[0] for seed in range(k)]
    params, buffers = stack_module_state(models)
    params = {name: p.detach().requires_grad_() for name, p in params.items()}
    skeleton = copy.deepcopy(models[0]).to("meta")
    opt = torch.optim.SGD(list(params.values()), lr=LR, momentum=MOMENTUM)
    x_all = (images.float().div(255) - 0.5) / 0.5
    order = torch.stack([torch.randperm(len(labels)) for _ in range(k)])      # each model its own order

    def loss_of(p, b, x, y):
        return F.cross_entropy(functional_call(skeleton, (p, b), (x,)), y)

    t0 = time.perf_counter()
    for s in range(steps // k):
        idx = order[:, s * BATCH:(s + 1) * BATCH]
        losses = vmap(loss_of)(params, buffers, x_all[idx], labels[idx])
        opt.zero_grad(set_to_none=True)
        losses.sum().backward()             # parameters are disjoint: each model gets its own gradient
        opt.step()
    return (steps // k) * k / (time.perf_counter() - t0)


def compiled_compute(images, labels, steps: int) -> float:
    """`compute` with the model wrapped by torch.compile (inductor); the compilation happens in warm-up steps."""
    model, opt = _model(0)
    model = torch.compile(model)
    x, y = (images[:BATCH].float().div(255) - 0.5) / 0.5, labels[:BATCH]
    for _ in range(3):
        _step(model, opt, x, y)
    t0 = time.perf_counter()
    for _ in range(steps):
        _step(model, opt, x, y)
    return steps / (time.perf_counter() - t0)


def nnstudy_loop(data: str, steps: int, threads: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config("tutorial_cnn", [
            f"data.name={data}", "data.normalize=half", f"data.subset={steps * BATCH}", "optim.name=sgd",
            f"optim.lr={LR}", f"optim.momentum={MOMENTUM}", "train.epochs=1", f"train.batch_size={BATCH}",
            f"train.threads={threads}", "train.checkpoint_every=60", f"out_dir={tmp}", "name=bench"])
        summary = train(cfg, progress=False).summary
    return steps / summary["time"]["train_seconds"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch threads of the training process")
    p.add_argument("--data", default="cifar10", help="cifar10 (full) or cifar10-sample")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    d = build_dataset(args.data, val_fraction=0.0)
    images, labels = d.train.inputs, d.train.targets
    if len(labels) < args.steps * BATCH:
        sys.exit(f"{args.data} has {len(labels)} training images; --steps {args.steps} needs {args.steps * BATCH}")
    loops = {"tutorial": lambda: tutorial_loop(images, labels, args.steps),
             "tight": lambda: tight_loop(images, labels, args.steps),
             "nnstudy": lambda: nnstudy_loop(args.data, args.steps, args.threads),
             "compute": lambda: compute_only(images, labels, args.steps),
             "vmap ×8": lambda: stacked_loop(images, labels, args.steps),
             "compute, torch.compile": lambda: compiled_compute(images, labels, args.steps)}
    rates: dict[str, list[float]] = {k: [] for k in loops}
    for r in range(args.repeats):
        for name, fn in loops.items():
            torch.set_num_threads(args.threads)
            rates[name].append(fn())
            print(f"round {r + 1}: {name} {rates[name][-1]:.0f} steps/s", file=sys.stderr)
    med = {k: statistics.median(v) for k, v in rates.items()}
    result = environment(
        steps=args.steps, repeats=args.repeats, threads=args.threads, data=args.data,
        steps_per_second=rates, median_steps_per_second=med, ms_per_step={k: 1000 / v for k, v in med.items()},
        nnstudy_vs_tutorial=med["nnstudy"] / med["tutorial"], nnstudy_vs_tight=med["nnstudy"] / med["tight"])
    save("seed_protocol", result, markdown)


def markdown(r: dict) -> str:
    lines = [f"`{r['command']}` — {r['machine']}, torch {r['torch']}, {r['threads']} training thread(s), "
             f"{r['steps']} steps of batch {BATCH}, median of {r['repeats']}", "",
             "| loop | model-steps/s | ms per model-step | vs tutorial |", "|---|---:|---:|---:|"]
    for k, v in r["median_steps_per_second"].items():
        lines.append(f"| {k} | {v:.0f} | {1000 / v:.2f} | {v / r['median_steps_per_second']['tutorial']:.2f}× |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
