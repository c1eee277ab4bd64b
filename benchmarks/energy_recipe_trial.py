"""One trial of a chunk-training recipe for the energy forecasters, on a fixed budget of training seconds.

    python benchmarks/energy_recipe_trial.py --batch 16 --chunk 48 --context 24 --lr 0.002 --schedule cosine \
        --minutes 7 --threads 1

How `energy-rnn`'s default recipe was chosen (docs/data-energy.md has the table): trains `rnn_forecaster`
(2 × 256 by default) on the full PJM data with chunks, scores a fixed 4,096 validation windows every minute of
training and, at the end of the budget, a fixed 8,192 of the test windows (faithful 90-hour windows; the same
windows in every trial). A cosine schedule decays over the budget, not over epochs. Two trials with
--threads 1 can run side by side on a 2-core machine. Prints one JSON line per evaluation and a final one.
"""
from __future__ import annotations

import argparse
import json
import math
import time

import torch

from nnstudy.data import build_dataset
from nnstudy.models import build_model
from nnstudy.tasks.forecasting import Forecasting


def scores(model, task, split, index, batch: int = 2048) -> dict[str, float]:
    model.eval()
    sums: dict = {}
    with torch.no_grad():
        for s in range(0, len(index), batch):
            j = index[s:s + batch]
            for k, v in task.compute(model, split.inputs[j], split.targets[j], split.groups[j]).sums.items():
                sums[k] = sums.get(k, 0) + v
    model.train()
    return task.finalize(sums)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cell", default="gru")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--batch", type=int, default=16, help="chunks per optimiser step")
    p.add_argument("--chunk", type=int, default=48, help="target hours per chunk (data.train_chunk)")
    p.add_argument("--context", type=int, default=None, help="run-in hours (data.train_context; default 90)")
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--schedule", choices=["constant", "cosine"], default="cosine")
    p.add_argument("--minutes", type=float, default=7.0, help="budget of training time (evaluations excluded)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data = build_dataset("energy", train_chunk=args.chunk, train_context=args.context)
    task = Forecasting()
    task.setup(data)   # the task reads the data's scalers (and checks its targets)
    model = build_model("rnn_forecaster", cell=args.cell, layers=args.layers, input_shape=data.info.input_shape)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(1)   # the same evaluation windows in every trial
    val_idx = torch.randperm(len(data.val), generator=gen)[:4096]
    test_idx = torch.randperm(len(data.test), generator=gen)[:8192]
    budget, trained, step, epoch, next_eval = args.minutes * 60, 0.0, 0, 0, 60.0
    order_gen = torch.Generator().manual_seed(args.seed)
    while trained < budget:
        epoch += 1
        order = torch.randperm(len(data.train), generator=order_gen)
        for s in range(0, len(order), args.batch):
            t0 = time.perf_counter()
            if args.schedule == "cosine":
                for group in opt.param_groups:
                    group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * min(trained / budget, 1.0)))
            j = order[s:s + args.batch]
            loss = task.compute(model, data.train.inputs[j], data.train.targets[j], data.train.groups[j]).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            trained += time.perf_counter() - t0
            if trained >= next_eval or trained >= budget:
                v = scores(model, task, data.val, val_idx)
                next_eval += 60
                print(json.dumps({"train_s": round(trained), "epoch": epoch, "step": step,
                                  "val_smape_legacy": round(v["smape_legacy"], 4),
                                  "val_smape": round(v["smape"], 3)}), flush=True)
            if trained >= budget:
                break
    t = scores(model, task, data.test, test_idx)
    print(json.dumps({"final": vars(args), "steps": step, "epochs": epoch, "train_s": round(trained),
                      "test_8192_smape_legacy": round(t["smape_legacy"], 4),
                      "test_8192_smape": round(t["smape"], 3)}), flush=True)


if __name__ == "__main__":
    main()
