"""Inference throughput of ResNet-18/50 (CIFAR layout): fp32, fp32 + channels_last, bf16 autocast + channels_last.

    python benchmarks/inference.py [--models resnet18 resnet50] [--batch 256] [--repeats 5] [--threads 2]
                                   [--weights resnet18=FILE ...]

Images per second over the bundled CIFAR-10 sample's 500 test images (batch `--batch`, median of `--repeats`
passes after one warm-up pass, each mode side by side in one process). Beside each fast mode, how far it moves
the answers from fp32: the fraction of images whose predicted class is unchanged and the largest logit change.
With `--weights MODEL=FILE` (a trained checkpoint, e.g. the published resnet18.pt) it also reports each mode's
test accuracy on those images; without, the weights are randomly initialised (seed 0) and only agreement is
measured. Writes benchmarks/results/inference/<machine type>.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from _common import environment, save
from nnstudy.data import build_dataset
from nnstudy.engine.checkpoint import load_weights
from nnstudy.engine.runtime import Runtime
from nnstudy.models import build_model

# mode -> (train.precision, train.channels_last), set up by the engine's own Runtime as a run would be
MODES = {"fp32": ("fp32", False), "fp32 + channels_last": ("fp32", True), "bf16 + channels_last": ("bf16", True)}


@torch.no_grad()
def logits_of(model, images: torch.Tensor, batch: int, rt: Runtime) -> torch.Tensor:
    out = []
    for i in range(0, len(images), batch):
        x = rt.inputs(images[i:i + batch])
        with rt.autocast():
            out.append(model(x).float())
    return torch.cat(out)


def measure(name: str, weights: str | None, images, labels, batch: int, repeats: int) -> list[dict]:
    torch.manual_seed(0)
    model = build_model(name).eval()
    if weights:
        load_weights(model, weights)
    reference = None
    rows = []
    for mode, (precision, channels_last) in MODES.items():
        rt = Runtime.setup(device="cpu", precision=precision, threads=torch.get_num_threads(),
                           channels_last=channels_last, model=model)
        m = rt.prepare(model.to(memory_format=torch.contiguous_format))
        logits = logits_of(m, images, batch, rt)           # warm-up, and the answers
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            logits_of(m, images, batch, rt)
            times.append(time.perf_counter() - t0)
        reference = logits if reference is None else reference
        pred = logits.argmax(1)
        rows.append({"model": name, "mode": mode, "images_per_second": len(images) / statistics.median(times),
                     "agreement_with_fp32": float((pred == reference.argmax(1)).float().mean()),
                     "max_logit_change": float((logits - reference).abs().max()),
                     "accuracy": float((pred == labels).float().mean()) if weights else None})
        print(f"{name} {mode}: {rows[-1]['images_per_second']:.0f} img/s", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["resnet18", "resnet50"])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--weights", nargs="*", default=[], metavar="MODEL=FILE")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    weights = dict(w.split("=", 1) for w in args.weights)
    d = build_dataset("cifar10-sample")
    images = d.transform(d.test.inputs, False, None)
    rows = [r for name in args.models for r in measure(name, weights.get(name), images, d.test.targets,
                                                        args.batch, args.repeats)]
    save("inference", environment(threads=args.threads, batch=args.batch, repeats=args.repeats, images=len(images),
                                  weights=weights, rows=rows), markdown)


def markdown(r: dict) -> str:
    lines = [f"`{r['command']}` — {r['machine']}, torch {r['torch']}, {r['threads']} thread(s), batch {r['batch']}, "
             f"{r['images']} CIFAR-10 test images, median of {r['repeats']} passes; "
             + ("trained weights" if r["weights"] else "random-init weights (agreement only, no accuracy)"), "",
             "| model | mode | images/s | vs fp32 | same class as fp32 | max logit change | accuracy |",
             "|---|---|---:|---:|---:|---:|---:|"]
    base = {row["model"]: row["images_per_second"] for row in r["rows"] if row["mode"] == "fp32"}
    for row in r["rows"]:
        acc = "—" if row["accuracy"] is None else f"{row['accuracy']:.4f}"
        lines.append(f"| {row['model']} | {row['mode']} | {row['images_per_second']:.0f} | "
                     f"{row['images_per_second'] / base[row['model']]:.2f}× | {row['agreement_with_fp32']:.3f} | "
                     f"{row['max_logit_change']:.3g} | {acc} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
