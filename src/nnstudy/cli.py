"""The `nnstudy` command: parses arguments, calls the API, prints results.

User mistakes (NnstudyError) become one line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.table import Table

from . import __version__
from .errors import NnstudyError

__all__ = ["main"]

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


# ----------------------------------------------------------------------------------------------------- models

def cmd_models(args: argparse.Namespace) -> int:
    import torch

    from .models import count_params, list_models
    entries = list_models(args.pattern)
    if not entries:
        raise NnstudyError(f"no model matches {args.pattern!r}; run `nnstudy models` for the list")
    table = Table(title="nnstudy models (trainable params at default arguments)")
    table.add_column("name", style="bold")
    table.add_column("input", justify="right")
    table.add_column("classes", justify="right")
    table.add_column("params", justify="right")
    table.add_column("description")
    for entry in entries:
        with torch.device("meta"):   # shapes only: counting parameters allocates no memory
            params = count_params(entry.builder())
        defaults = {n: p.default for n, p in entry.signature.parameters.items()}
        shape = "×".join(str(d) for d in defaults.get("input_shape") or ()) or "-"
        table.add_row(entry.name, shape, str(defaults.get("num_classes", "-")), f"{params:,}", entry.description)
    out.print(table)
    return 0


# ------------------------------------------------------------------------------------------------------ train

def _config_from(target: str, overrides: list[str]):
    from .config import apply_overrides, config_to_dict, load_config
    path = Path(target)
    if path.is_dir():   # a run directory: continue it (with --resume) under its own name
        from .runs import RunDir
        cfg = RunDir(path).read_config()
        raw = apply_overrides(config_to_dict(cfg), overrides)
        raw.update(name=path.name, out_dir=str(path.parent))
        return load_config(raw)
    return load_config(target, overrides)


def cmd_train(args: argparse.Namespace) -> int:
    from .engine import train
    cfg = _config_from(args.target, args.overrides)
    if args.name:
        cfg.name = args.name
    result = train(cfg, resume=args.resume, progress=not args.quiet)
    _print_metrics(result.summary["metrics"], f"{result.run_dir} (epoch {result.summary['selected_epoch']})")
    return 0


def _print_metrics(metrics: dict[str, Any], title: str) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    out.print(table)


# ------------------------------------------------------------------------------------------------------- eval

def cmd_eval(args: argparse.Namespace) -> int:
    from .engine import evaluate_run, evaluate_weights
    if args.weights or args.model:
        if not (args.weights and args.model):
            raise NnstudyError("eval: --weights and --model go together (e.g. --model resnet18 --weights r18.pt)")
        overrides = ([args.run_dir] if args.run_dir else []) + args.overrides
        result = evaluate_weights(args.model, args.weights, overrides)
        title = f"{args.model} with {args.weights}"
    else:
        if not args.run_dir:
            raise NnstudyError("eval: give a RUN_DIR, or --model NAME --weights FILE")
        result = evaluate_run(args.run_dir, args.overrides)
        title = f"{args.run_dir}"
    if args.json:
        out.print_json(json.dumps(result))
        return 0
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    recorded = result.get("recorded") or {}
    if recorded:
        table.add_column("in summary.json", justify="right")
    for key, value in result["metrics"].items():
        row = [key, f"{value:.4f}"]
        if recorded:
            row.append(f"{recorded[key]:.4f}" if key in recorded else "-")
        table.add_row(*row)
    out.print(table)
    return 0


# ------------------------------------------------------------------------------------------------------- data

def cmd_data(args: argparse.Namespace) -> int:
    from .data import store
    if args.action == "list":
        table = Table(title=f"datasets (data root: {store.data_root()})")
        for col in ("name", "status", "path", "bundled sample"):
            table.add_column(col)
        for row in store.list_datasets():
            table.add_row(*(str(row.get(k) or "-") for k in ("name", "status", "path", "sample")))
        out.print(table)
    elif args.action == "fetch":
        path = store.fetch(_need(args, "name"), url=args.url, sha256=args.sha256, progress=True)
        out.print(f"{args.name}: ready at {path}")
    elif args.action == "add":
        if not args.path:
            raise NnstudyError("data add: give NAME and PATH (a .tar.gz or an extracted folder)")
        path = store.add(_need(args, "name"), args.path)
        out.print(f"{args.name}: imported from {args.path} into {path}")
    elif args.action == "verify":
        for line in store.verify(_need(args, "name")):
            out.print(line)
    elif args.action == "path":
        out.print(str(store.dataset_dir(args.name)) if args.name else str(store.data_root()))
    return 0


def _need(args: argparse.Namespace, attr: str) -> str:
    value = getattr(args, attr)
    if not value:
        raise NnstudyError(f"data {args.action}: give the dataset {attr} (see `nnstudy data list`)")
    return value


# ------------------------------------------------------------------------------------------------- quickstart

# (model, epochs, overrides): about 1-1.5 minutes in all on 2 CPU cores, most of it the residual net.
QUICKSTART_MODELS: list[tuple[str, int, list[str]]] = [
    ("mlp3", 10, ["optim.lr=0.01"]),
    ("tutorial_cnn", 15, ["optim.lr=0.01"]),
    ("d2l_resnet", 5, ["model.blocks=2", "optim.name=adam", "optim.lr=0.002"]),
]


def cmd_quickstart(args: argparse.Namespace) -> int:
    from .config import load_config
    from .engine import train
    out_dir = Path(args.out_dir) / f"quickstart-{time.strftime('%Y%m%d-%H%M%S')}"
    out.print(f"nnstudy quickstart: {len(QUICKSTART_MODELS)} small models on the bundled CIFAR-10 sample "
              f"(2,000 train / 500 test images), on the CPU or GPU found.")
    rows = []
    for model, epochs, extra in QUICKSTART_MODELS:
        overrides = ["data.name=cifar10-sample", "data.augment=flip", f"train.epochs={args.epochs or epochs}",
                     "train.batch_size=32", "optim.momentum=0.9", f"out_dir={out_dir}", f"name={model}", *extra]
        result = train(load_config(model, overrides), progress=not args.quiet)
        rows.append(result)
    table = Table(title="quickstart results (test split of the sample; epoch chosen on validation)")
    for col in ("model", "params", "val acc", "test acc", "train s"):
        table.add_column(col, justify="right" if col != "model" else "left")
    for r in rows:
        s = r.summary
        table.add_row(s["model"], f"{s['params']:,}", f"{s['metrics']['val_acc']:.3f}",
                      f"{s['metrics']['test_acc']:.3f}", f"{s['time']['train_seconds']:.1f}")
    out.print(table)
    out.print("Run directories (config.yaml, metrics.csv, summary.json, model.safetensors, checkpoint.pt):")
    for r in rows:
        out.print(f"  {r.run_dir}")
    out.print(f"Next: nnstudy eval {rows[-1].run_dir}   |   nnstudy models   |   nnstudy train tutorial_cnn --help")
    return 0


# ------------------------------------------------------------------------------------------------------ parser

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nnstudy", description="Run, measure and report neural-network experiments.")
    p.add_argument("--version", action="version", version=f"nnstudy {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    q = sub.add_parser("quickstart", help="train small models on the bundled sample (~1-2 min on a CPU)")
    q.add_argument("--epochs", type=int, help="epochs for every model (default: 10, 15 and 5)")
    q.add_argument("--out-dir", default="runs", help="where the run directories go (default runs/)")
    q.add_argument("--quiet", action="store_true", help="no progress bars")
    q.set_defaults(fn=cmd_quickstart)

    m = sub.add_parser("models", help="list the model zoo")
    m.add_argument("pattern", nargs="?", help="glob (resnet*) or substring filter")
    m.set_defaults(fn=cmd_models)

    t = sub.add_parser("train", help="train one run",
                       description="Train one run. TARGET is a model name, a YAML config or a run directory "
                                   "(with --resume). Overrides are dotted key=value pairs, e.g. optim.lr=0.01 "
                                   "model.act=tanh train.epochs=2.")
    t.add_argument("target", metavar="MODEL|CONFIG|RUN_DIR")
    t.add_argument("overrides", nargs="*", metavar="key=value")
    t.add_argument("--resume", action="store_true", help="continue an unfinished run from its checkpoint")
    t.add_argument("--name", help="run directory name under out_dir (default: model-data-seed-time)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(fn=cmd_train)

    e = sub.add_parser("eval", help="evaluate a run directory, or a published checkpoint",
                       description="Evaluate RUN_DIR's selected weights on its test split, or "
                                   "--model NAME --weights FILE (a .pt state_dict, optionally wrapped or "
                                   "module.-prefixed, or .safetensors) on a dataset (data.name=...).")
    e.add_argument("run_dir", nargs="?", metavar="RUN_DIR")
    e.add_argument("overrides", nargs="*", metavar="key=value")
    e.add_argument("--model", help="zoo model name for --weights")
    e.add_argument("--weights", help="weights file to evaluate")
    e.add_argument("--json", action="store_true", help="machine-readable output")
    e.set_defaults(fn=cmd_eval)

    d = sub.add_parser("data", help="datasets: list, fetch, add, verify, path")
    d.add_argument("action", choices=["list", "fetch", "add", "verify", "path"])
    d.add_argument("name", nargs="?", help="dataset name, e.g. cifar10")
    d.add_argument("path", nargs="?", help="for add: a local .tar.gz or extracted folder")
    d.add_argument("--url", help="for fetch: download from this URL (a mirror) instead of the canonical one")
    d.add_argument("--sha256", help="for fetch: the expected sha256 of a mirror's file, if it differs")
    d.set_defaults(fn=cmd_data)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # key=value overrides may come after options (`train M --quiet a.b=1`), which argparse alone refuses
    args, extra = parser.parse_known_args(argv)
    if extra:
        if hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides += extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    fn: Callable[[argparse.Namespace], int] = args.fn
    try:
        return fn(args)
    except NnstudyError as e:
        err.print(f"nnstudy {args.command}: error: {e}", markup=False)
        return e.exit_code
    except KeyboardInterrupt:
        err.print(f"nnstudy {args.command}: interrupted (a training run continues with --resume)")
        return 130


if __name__ == "__main__":
    sys.exit(main())
