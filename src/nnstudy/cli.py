"""The `nnstudy` command: parses arguments, calls the API, prints results.

User mistakes (NnstudyError) become one line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from rich.table import Table

from . import __version__
from .cli_study import cmd_export, cmd_quickstart, cmd_report, cmd_run, cmd_studies
from .console import err, out
from .errors import MESSAGE_LIMIT, DiskFullError, NnstudyError, clip
from .track import TRACKERS

__all__ = ["main"]

# ----------------------------------------------------------------------------------------------------- models

def cmd_models(args: argparse.Namespace) -> int:
    import torch

    from .models import count_params, list_models
    broken: dict[str, str] = {}
    entries = list_models(args.pattern, errors=broken)
    if not entries and not broken:
        raise NnstudyError(f"no model matches {args.pattern!r}; run `nnstudy models` for the list")
    table = Table(title="nnstudy models (trainable params at default arguments)")
    table.add_column("name", style="bold")
    table.add_column("input", justify="right")
    table.add_column("classes", justify="right")
    table.add_column("params", justify="right")
    table.add_column("description")
    for entry in entries:
        try:
            with torch.device("meta"):   # shapes only: counting parameters allocates no memory
                model = entry.builder()
            params = f"{count_params(model):,}" if isinstance(model, torch.nn.Module) else "not a Module"
        except Exception as e:   # a user's builder (entry point) that needs arguments, say: listed, not fatal
            params = f"({type(e).__name__})"
        defaults = {n: p.default for n, p in entry.signature.parameters.items()}
        shape = "×".join(str(d) for d in defaults.get("input_shape") or ()) or "-"
        table.add_row(entry.name, shape, str(defaults.get("num_classes", "-")), params, entry.description)
    for name in broken:   # an installed package whose entry point fails to import: listed, with why on stderr
        table.add_row(name, "-", "-", "(fails to load)", "see the message below")
    out().print(table)
    for message in broken.values():
        err().print(f"nnstudy models: {message}", markup=False, highlight=False)
    return 0


# ---------------------------------------------------------------------------------------------------- summary

def _parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(p) for p in text.lower().replace(",", "x").split("x") if p.strip())
    except ValueError:
        shape = ()
    if not shape or any(d < 1 for d in shape):
        raise NnstudyError(f"--input {text!r}: expected positive sizes joined by x, e.g. 3x32x32 or 178")
    return shape


def cmd_summary(args: argparse.Namespace) -> int:
    from .engine.build import build_model
    from .measure import summarize
    from .resolution import load_config
    overrides = [o if o.startswith(("model.", "imports=")) or "." in o.split("=", 1)[0] else f"model.{o}"
                 for o in args.overrides]
    if args.input:
        overrides.append(f"model.input_shape={list(_parse_shape(args.input))}")
    cfg = load_config(args.model, overrides)
    model = build_model(cfg)
    from .models import MODELS
    shape = tuple(cfg.model.model_extra.get("input_shape") or MODELS.get(cfg.model.name).defaults().get("input_shape")
                  or ())
    if not shape:
        raise NnstudyError(f"model {cfg.model.name!r}: give the input size with --input, e.g. --input 3x32x32")
    try:
        summary = summarize(model, shape)
    except RuntimeError as e:   # the model cannot run on that input shape
        raise NnstudyError(f"model {cfg.model.name!r} cannot run on input {'x'.join(map(str, shape))}: "
                           f"{str(e).strip().splitlines()[0]}") from None
    if args.json:
        out().print_json(json.dumps(summary.to_dict()))
        return 0
    out().print(_summary_table(summary, cfg.model.name, shape, args.convention))
    return 0


def _summary_table(summary: Any, name: str, shape: tuple[int, ...], convention: str) -> Table:
    """Rows of `summary` with MACs and, unless convention is "macs", FLOPs of that convention."""
    from .measure import CONVENTION_TEXT
    counts = {"macs": ["macs"], "flops": ["macs", "flops"], "detailed": ["macs", "detailed"]}[convention]
    label = {"macs": "MACs", "flops": "FLOPs", "detailed": "FLOPs (detailed)"}
    title = "\n".join([f"{name} — input {'×'.join(map(str, shape))}, per sample, forward pass"]
                      + [f"{label[c]}: {CONVENTION_TEXT[c]}" for c in counts])
    table = Table(title=title, title_justify="left")
    for col, justify in (("layer", "left"), ("type", "left"), ("output", "right"), ("k / s / p", "right"),
                         ("params", "right"), *((label[c], "right") for c in counts)):
        table.add_column(col, justify=justify)
    for row in summary.rows:
        ksp = "" if row.kernel is None else f"{_fmt_tuple(row.kernel)} / {_fmt_tuple(row.stride)} / " \
                                             f"{_fmt_tuple(row.padding)}"
        values = [getattr(row, c) for c in counts]
        table.add_row("  " * row.depth + row.name, row.type, "×".join(map(str, row.output_shape or ())), ksp,
                      f"{row.params:,}" if row.params else "", *(f"{v:,}" if v else "" for v in values),
                      style="dim" if row.container else None)
    table.add_section()
    table.add_row("total (dim rows sum the rows below them)", "", "", "", f"{summary.total_params:,}",
                  *(f"{summary.totals(c):,}" for c in counts))
    return table


def _fmt_tuple(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "×".join(map(str, value)) if len(set(value)) > 1 else str(value[0])
    return str(value)


# ------------------------------------------------------------------------------------------------------ train

def _config_from(target: str, overrides: list[str]):
    from .config import apply_overrides, config_to_dict
    from .resolution import load_config
    path = Path(target)
    if path.is_dir():   # a run directory: continue it (with --resume) under its own name
        from .runs import RunDir
        cfg = RunDir(path).read_config()
        raw = apply_overrides(config_to_dict(cfg), overrides)
        raw.update(name=path.name, out_dir=str(path.parent))
        return load_config(raw)
    return load_config(target, overrides)


def _study_cell(args: argparse.Namespace):
    """`nnstudy train STUDY --variant NAME [--seed S]`: the run config of one cell of a study, named
    STUDY-VARIANT__sSEED under out_dir (runs/) unless --name says otherwise."""
    from .resolution import load_config
    from .study import load_study_spec
    spec = load_study_spec(args.target, args.overrides, mode="quick" if args.quick else args.mode)
    variant, seed, config = spec.cell(args.variant, args.seed)
    config.setdefault("name", spec.cell_name(variant.name, seed))
    return load_config(config)


def _is_study(target: str) -> bool:
    from .study import builtin_studies
    if target in builtin_studies():
        return True
    path = Path(target)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        from .config import read_yaml
        data = read_yaml(path)
        return isinstance(data, dict) and "base" in data
    return False


def cmd_train(args: argparse.Namespace) -> int:
    from .engine import train
    if args.nproc is not None:   # an override like any other: checked by the schema, recorded in config.yaml
        args.overrides.append(f"train.nproc={args.nproc}")
    if args.variant is not None:
        cfg = _study_cell(args)
    elif args.seed is not None or args.quick or args.mode:
        raise NnstudyError("--seed, --quick and --mode pick a cell of a study: give --variant NAME too")
    elif _is_study(args.target):
        raise NnstudyError(f"{args.target} is a study; run one of its cells with --variant NAME "
                           f"[--seed S], or all of it with `nnstudy run {args.target}`")
    else:
        cfg = _config_from(args.target, args.overrides)
    from .names import check_name
    from .runs import named
    cfg = named(cfg if args.name is None else cfg.model_copy(update={"name": check_name(args.name)}))
    try:
        result = train(cfg, resume=args.resume, progress=not args.quiet)
    except DiskFullError as e:
        where = Path(cfg.out_dir) / cfg.name if cfg.name else cfg.out_dir
        raise DiskFullError(f"{e}; the run is kept: free some space, then `nnstudy train {where} --resume`") from None
    if os.environ.get("RANK", "0") == "0":   # under torchrun, every rank has the result: rank 0 prints it
        _print_metrics(result.summary["metrics"], f"{result.run_dir} (epoch {result.summary['selected_epoch']})")
    return 0


def _print_metrics(metrics: dict[str, Any], title: str) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    out().print(table)


# ------------------------------------------------------------------------------------------------------- eval

def cmd_eval(args: argparse.Namespace) -> int:
    from .engine import evaluate_run, evaluate_weights
    if args.weights or args.model:
        if not (args.weights and args.model):
            raise NnstudyError("eval: --weights and --model go together (e.g. --model resnet18 --weights r18.pt)")
        if args.on:
            raise NnstudyError("eval: --on scores a RUN_DIR's model; with --weights give data.path=... instead")
        overrides = ([args.run_dir] if args.run_dir else []) + args.overrides
        overrides += [f"data.name={args.data}"] if args.data else []
        result = evaluate_weights(args.model, args.weights, overrides, preset=args.weights_preset)
        title = f"{args.model} with {args.weights} ({result['format']} format, normalize={result['normalize']})"
    else:
        if not args.run_dir or args.weights_preset:
            raise NnstudyError("eval: give a RUN_DIR, or --model NAME --weights FILE [--weights-preset NAME]")
        result = evaluate_run(args.run_dir, args.overrides, data=args.data, on=args.on)
        scored = result["data"]
        title = f"{args.run_dir}" + (f" on {scored['name']} ({scored['test']:,} samples from {scored['source']})"
                                     if args.data or args.on else "")
    if args.json:
        out().print_json(json.dumps(result))
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
    out().print(table)
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
        out().print(table)
    elif args.action == "fetch":
        path = store.fetch(_need(args, "name"), url=args.url, sha256=args.sha256, progress=True)
        out().print(f"{args.name}: ready at {path}")
    elif args.action == "add":
        if not args.path:
            raise NnstudyError("data add: give NAME and PATH (a .tar.gz or an extracted folder)")
        path = store.add(_need(args, "name"), args.path)
        out().print(f"{args.name}: imported from {args.path} into {path}")
    elif args.action == "verify":
        for line in store.verify(_need(args, "name")):
            out().print(line)
    elif args.action == "path":
        out().print(str(store.dataset_dir(args.name)) if args.name else str(store.data_root()))
    return 0


def _need(args: argparse.Namespace, attr: str) -> str:
    value = getattr(args, attr)
    if not value:
        raise NnstudyError(f"data {args.action}: give the dataset {attr} (see `nnstudy data list`)")
    return value


# ------------------------------------------------------------------------------------------------------ parser

def _add_import(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import MODULE first, so its @register_model / @register_dataset / @register_task "
                             "run (repeatable; its code runs: name only modules you trust)")


def _add_log(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log", action="append", default=[], metavar="TRACKER", choices=list(TRACKERS),
                        help="also send the run(s) to this tracker as they train: mlflow (MLFLOW_TRACKING_URI), "
                             "tensorboard (RUN_DIR/tensorboard) or wandb (offline, RUN_DIR/wandb); repeatable; "
                             "the same as train.log=[...] (docs/tracking.md)")


def _with_log(args: argparse.Namespace) -> None:
    if getattr(args, "log", None):   # an override like any other: checked by the schema, recorded in config.yaml
        args.overrides.append(f"train.log=[{', '.join(dict.fromkeys(args.log))}]")


def _with_imports(args: argparse.Namespace) -> None:
    """--import MODULE: imported now, and carried in the config (imports=[...]) so that run directories record
    them and worker processes import them too."""
    if not getattr(args, "imports", None):
        return
    from .plugins import import_modules
    import_modules(args.imports)
    import yaml
    args.overrides.append("imports=" + yaml.safe_dump(args.imports, default_flow_style=True).strip())


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

    s = sub.add_parser("summary", help="per-layer table: output shape, params, MACs / FLOPs",
                       description="Per-layer summary of a zoo model: output shape, kernel/stride/padding, "
                                   "trainable params, MACs or FLOPs per sample (see docs/measurement.md). "
                                   "Builder arguments as key=value (model. prefix optional), e.g. act=tanh.")
    s.add_argument("model", metavar="MODEL")
    s.add_argument("overrides", nargs="*", metavar="key=value")
    s.add_argument("--input", help="one sample's shape, e.g. 3x32x32 or 178 (default: the builder's)")
    s.add_argument("--convention", choices=["macs", "flops", "detailed"], default="flops",
                   help="FLOPs column: flops = 2×MACs (default), or detailed = 2×MACs + element-wise work; "
                        "macs shows MACs only")
    s.add_argument("--json", action="store_true", help="machine-readable rows and totals (docs/measurement.md)")
    _add_import(s)
    s.set_defaults(fn=cmd_summary)

    st = sub.add_parser("studies", help="list the built-in studies")
    st.set_defaults(fn=cmd_studies)

    r = sub.add_parser("run", help="run a study (variants × seeds), then tabulate and report",
                       description="Run a built-in study or a study YAML. Overrides (key=value) apply to the "
                                   "base run config of every variant, e.g. train.epochs=2.")
    r.add_argument("study", metavar="STUDY|FILE")
    r.add_argument("overrides", nargs="*", metavar="key=value")
    r.add_argument("--seeds", type=int,
                   help="use seeds 0..N-1 instead of the study's list (with --resume: adds the seeds a study lacks)")
    r.add_argument("--variants", metavar="A,B",
                   help="run only these variants (comma-separated; the others can be added later with --resume)")
    r.add_argument("--workers", type=int, default=None,
                   help="parallel runs on this machine, CPU threads split (default: the study's `workers`, else 1)")
    r.add_argument("--backend", default="local", choices=["local", "ray"],
                   help="where runs execute: local (this machine), or ray (a Ray cluster; pip install 'nnstudy[ray]')")
    r.add_argument("--address", default=None,
                   help="--backend ray: the cluster (auto, HOST:PORT, ray://HOST:10001); default: a local Ray instance")
    r.add_argument("--storage", default=None,
                   help="--backend ray: where run files travel (a path, s3://bucket/prefix, ...); default: Ray's "
                        "object store, to this machine")
    r.add_argument("--until-decided", action="store_true",
                   help="add seeds round by round to the comparisons still undecided (a group-sequential test keeps "
                        "the false-positive rate at α; docs/verdicts.md), up to --max-seeds")
    r.add_argument("--max-seeds", type=int, default=None, metavar="K",
                   help="with --until-decided: the most seeds a variant gets (default 10)")
    r.add_argument("--quick", action="store_true", help="the study's quick mode: minutes on a laptop CPU")
    r.add_argument("--mode", default=None, help="a named mode of the study (e.g. quick)")
    r.add_argument("--weights", action="append", metavar="VARIANT=FILE",
                   help="evaluate published weights for VARIANT instead of training it (repeatable), e.g. "
                        "--weights resnet18=resnet18.pt")
    r.add_argument("--resume", action="store_true", help="continue a killed study: finished runs are kept")
    r.add_argument("--retry-failed", action="store_true", help="with --resume: run failed runs again")
    r.add_argument("--out", default="studies", help="parent folder of the study directory (default studies/)")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    _add_log(r)
    _add_import(r)
    r.set_defaults(fn=cmd_run)

    rp = sub.add_parser("report", help="(re)build report.md / report.html of a study directory")
    rp.add_argument("study_dir", metavar="STUDY_DIR")
    rp.set_defaults(fn=cmd_report)

    x = sub.add_parser("export", help="send finished runs or a whole study to MLflow, TensorBoard or W&B",
                       description="Send a study directory (its runs, then the study: MLflow parent run with the "
                                   "summary table and report, TensorBoard HParams) or one run directory to a "
                                   "tracker, after the fact. Exporting twice makes no duplicates: what the tracker "
                                   "has in full is skipped, what it has in part is completed.")
    x.add_argument("path", metavar="STUDY_DIR|RUN_DIR")
    x.add_argument("--to", required=True, choices=list(TRACKERS), help="the tracker")
    x.add_argument("--uri", default=None,
                   help="mlflow: a tracking URI (http://127.0.0.1:5000, sqlite:///mlflow.db, a folder; default "
                        "MLFLOW_TRACKING_URI); tensorboard / wandb: a folder (default: inside each run directory)")
    x.add_argument("--quiet", action="store_true", help="no line per run")
    x.set_defaults(fn=cmd_export)

    t = sub.add_parser("train", help="train one run",
                       description="Train one run. TARGET is a model name, a YAML config, a run directory "
                                   "(with --resume), or a study with --variant NAME (one cell of the study, as "
                                   "`nnstudy run` trains it). Overrides are dotted key=value pairs, e.g. "
                                   "optim.lr=0.01 model.act=tanh train.epochs=2.")
    t.add_argument("target", metavar="MODEL|CONFIG|RUN_DIR|STUDY")
    t.add_argument("overrides", nargs="*", metavar="key=value")
    t.add_argument("--resume", action="store_true", help="continue an unfinished run from its checkpoint")
    t.add_argument("--name", help="run directory name under out_dir (default: model-data-seed-time)")
    t.add_argument("--variant", metavar="NAME",
                   help="TARGET is a study (built-in or YAML): train this one variant with its resolved config")
    t.add_argument("--seed", type=int, help="with --variant: which of the study's seeds (default: its first)")
    t.add_argument("--quick", action="store_true", help="with --variant: the study's quick mode")
    t.add_argument("--mode", default=None, help="with --variant: a named mode of the study")
    t.add_argument("--nproc", type=int, metavar="N",
                   help="train on N processes of this machine together (DDP: gloo on CPU, nccl on one GPU each; "
                        "train.batch_size stays the global batch); under torchrun, leave it out")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_log(t)
    _add_import(t)
    t.set_defaults(fn=cmd_train)

    e = sub.add_parser("eval", help="evaluate a run directory, or a published checkpoint",
                       description="Evaluate RUN_DIR's selected weights on its test split, or "
                                   "--model NAME --weights FILE (a .pt/.th state_dict, optionally wrapped or "
                                   "module.-prefixed, or .safetensors) on a dataset (data.name=...).")
    e.add_argument("run_dir", nargs="?", metavar="RUN_DIR")
    e.add_argument("overrides", nargs="*", metavar="key=value")
    e.add_argument("--data", metavar="NAME", help="score RUN_DIR's model on another dataset (e.g. mortality)")
    e.add_argument("--on", metavar="PATH",
                   help="score RUN_DIR's model on every sample of another copy of its data (e.g. PhysioNet "
                        "set-b), normalised with the run's own training statistics")
    e.add_argument("--model", help="zoo model name for --weights")
    e.add_argument("--weights", help="weights file to evaluate")
    e.add_argument("--weights-preset", metavar="NAME", help="the weights' format, which sets the input normalisation: "
                   "nnstudy (the config's), huyvnphan (cifar10) or pytorch_resnet_cifar10 (imagenet); default: "
                   "detected from the file (docs/models.md)")
    e.add_argument("--json", action="store_true", help="machine-readable output")
    _add_import(e)
    e.set_defaults(fn=cmd_eval)

    d = sub.add_parser("data", help="datasets: list, fetch, add, verify, path")
    d.add_argument("action", choices=["list", "fetch", "add", "verify", "path"])
    d.add_argument("name", nargs="?", help="dataset name, e.g. cifar10")
    d.add_argument("path", nargs="?", help="for add: a local .tar.gz or extracted folder")
    d.add_argument("--url", help="for fetch: download from this URL (a mirror) instead of the canonical one")
    d.add_argument("--sha256", help="for fetch: the expected sha256 of a mirror's file, if it differs")
    d.set_defaults(fn=cmd_data)
    return p


def one_line(text: str) -> str:
    """A message as one line of at most MESSAGE_LIMIT characters, whatever values it quotes."""
    return clip(str(text), MESSAGE_LIMIT)


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
        _with_imports(args)
        _with_log(args)
        return fn(args)
    except NnstudyError as e:
        err().print(one_line(f"nnstudy {args.command}: error: {e}"), markup=False)
        return e.exit_code
    except OSError as e:   # the file system said no: a full disk, a folder that is a file, no permission
        from .io import disk_full_error, is_disk_full
        if is_disk_full(e):
            error: NnstudyError = disk_full_error(e.filename or Path.cwd())
        elif e.filename is not None:
            error = NnstudyError(f"{e.filename}: {e.strerror or e}")
        else:
            raise
        err().print(one_line(f"nnstudy {args.command}: error: {error}"), markup=False)
        return error.exit_code
    except KeyboardInterrupt:
        err().print(f"nnstudy {args.command}: interrupted (a training run continues with --resume)")
        return 130


if __name__ == "__main__":
    sys.exit(main())
