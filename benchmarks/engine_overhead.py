"""What nnstudy's engine costs over a bare hand-written loop of the same recipe (issue #18, item 5b).

    python benchmarks/engine_overhead.py [--epochs 1] [--repeats 2] [--variant airbench94] [--data cifar10]

The `cifar-speedrun` study's recipe (default: airbench94 on the full CIFAR-10, batch 1024) trained twice per round:
by `nnstudy.engine.train` (a real run: run directory, checkpoints every 60 s, metrics, progress off) and by the
loop people write by hand from the same parts — the same model, data, augmentation, optimiser, schedule and
lookahead, the same precision and memory format (the Runtime's), seeded alike — with nothing else: no checkpoints,
no metrics, no run directory. Both train `--epochs` epochs with no evaluation during training (the engine's
training seconds, as its summary reports them, exclude evaluation; the final test is not timed). The two
alternate within each of `--repeats` rounds, which of them goes first alternating too (use an even number);
medians. Goal (issue #18): the engine within 5 % of the bare loop.
Writes benchmarks/results/engine_overhead/<machine type>.json.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import torch

from _common import environment, save
from nnstudy.config import RunConfig
from nnstudy.engine import train
from nnstudy.engine.build import build_parts
from nnstudy.engine.device import seed_everything
from nnstudy.engine.lookahead import Lookahead
from nnstudy.engine.optim import build_optimizer, build_scheduler
from nnstudy.engine.runtime import Runtime
from nnstudy.resolution import load_config
from nnstudy.study.spec import load_study_spec


def recipe(variant: str, data: str, epochs: int, out_dir: str, name: str) -> RunConfig:
    """The study's run config of `variant` (seed 0) on `data`, `epochs` long, with no evaluation in training."""
    _, _, raw = load_study_spec("cifar-speedrun").cell(variant, 0)
    return load_config(raw, [f"data.name={data}", f"train.epochs={epochs}", "train.test_every_epoch=false",
                             "train.tta=none", f"out_dir={out_dir}", f"name={name}"])


def bare_loop(cfg) -> float:
    """Seconds of training of the hand-written loop."""
    seed_everything(cfg.train.seed)
    parts = build_parts(cfg)
    rt = Runtime.setup(device="cpu", precision=cfg.train.precision, threads=cfg.train.threads,
                       channels_last=cfg.train.channels_last, model=parts.model, task=parts.task, data=parts.data,
                       batch_size=cfg.train.batch_size)
    model, data, task = rt.prepare(parts.model), parts.data, parts.task
    if hasattr(model, "init_from_data"):   # airbench's whitening, fitted before the first step (as the engine)
        sample = data.train.sample(getattr(model, "init_samples", 5000))
        model.init_from_data(rt.inputs(data.transform(sample.inputs, False, None)))
    batch, n, epochs = cfg.train.batch_size, len(data.train), cfg.train.epochs
    steps = (n + batch - 1) // batch
    optimizer = build_optimizer(model, cfg.optim)
    scheduler = build_scheduler(optimizer, cfg.optim, epochs, steps)
    lookahead = Lookahead(model, epochs * steps) if cfg.optim.lookahead else None
    model.train()
    t0, step = time.perf_counter(), 0
    for epoch in range(epochs):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch))
        aug = torch.Generator().manual_seed(1000 + epoch)
        for k in range(steps):
            idx = order[k * batch:(k + 1) * batch]
            x = rt.inputs(data.transform(data.train.inputs[idx], True, aug))
            with rt.autocast():
                loss, _, _ = task.compute(model, x, data.train.targets[idx], None)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            if lookahead:
                lookahead.after_step(step)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--variant", default="airbench94")
    p.add_argument("--data", default="cifar10")
    args = p.parse_args()
    times: dict[str, list[float]] = {"engine": [], "bare": []}
    precision = None
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = recipe(args.variant, args.data, args.epochs, tmp, f"engine-{r}")
            # the loop that runs second finds oneDNN's kernels made and the allocator warm: the order alternates
            for kind in (("engine", "bare") if r % 2 == 0 else ("bare", "engine")):
                if kind == "bare":
                    times["bare"].append(bare_loop(cfg))
                    continue
                result = train(cfg, progress=False)
                times["engine"].append(result.summary["time"]["train_seconds"])
                precision = result.summary["runtime"]["precision"]
        print(f"round {r + 1}: engine {times['engine'][-1]:.1f} s, bare loop {times['bare'][-1]:.1f} s",
              file=sys.stderr, flush=True)
    engine, bare = statistics.median(times["engine"]), statistics.median(times["bare"])
    save("engine_overhead", {**environment(epochs=args.epochs, repeats=args.repeats, variant=args.variant,
                                           data=args.data, threads=torch.get_num_threads(), precision=precision),
                             "engine_s": times["engine"], "bare_s": times["bare"], "overhead": engine / bare - 1},
         markdown)


def markdown(result: dict) -> str:
    engine, bare = statistics.median(result["engine_s"]), statistics.median(result["bare_s"])
    per = result["epochs"]
    return "\n".join([
        f"`{result['command']}` — {result['machine_type']}, {result['threads']} threads, {result['precision']}, "
        f"torch {result['torch']}; {result['variant']} on {result['data']}, training seconds, medians of "
        f"{result['repeats']} rounds", "",
        "| loop | s per epoch | vs bare |", "|---|---:|---:|",
        f"| bare hand-written loop | {bare / per:.1f} | — |",
        f"| nnstudy engine | {engine / per:.1f} | {100 * result['overhead']:+.1f} % |"])


if __name__ == "__main__":
    main()
