"""The `nnstudy` commands about studies: studies, run, report, and the quickstart (cli.py parses and dispatches)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.table import Table

from .console import err, out
from .errors import EXIT_RUNS_FAILED, EXIT_TRY_AGAIN, DiskFullError, NnstudyError

__all__ = ["cmd_studies", "cmd_run", "cmd_report", "cmd_export", "cmd_quickstart", "QUICKSTART_MODELS"]


def cmd_studies(args: argparse.Namespace) -> int:
    from .study import builtin_studies, load_study_spec
    table = Table(title="built-in studies (nnstudy run NAME [--quick])")
    for col in ("name", "variants × seeds", "modes", "description"):
        table.add_column(col)
    for name in sorted(builtin_studies()):
        spec = load_study_spec(name)
        table.add_row(name, f"{len(spec.expand())} × {len(spec.seeds)}", ", ".join(["full", *spec.modes]),
                      spec.description.split(". ")[0].strip())
    out().print(table)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .study import load_study_spec, run_study
    mode = "quick" if args.quick else args.mode
    weights = {}
    for item in args.weights or []:
        variant, sep, path = item.partition("=")
        if not sep:
            raise NnstudyError(f"--weights {item!r}: expected VARIANT=FILE, e.g. resnet18=resnet18.pt")
        weights[variant] = path
    if args.max_seeds is not None and not args.until_decided:
        raise NnstudyError("--max-seeds goes with --until-decided")
    spec = load_study_spec(args.study, args.overrides, seeds=args.seeds, mode=mode, weights=weights)
    workers = args.workers if args.workers is not None else spec.workers
    variants = None
    if args.variants is not None:
        from .study.spec import split_variant_names
        variants = split_variant_names(args.variants, [v.name for v in spec.expand()])
    outcome = run_study(spec, out_dir=args.out, workers=workers, backend=args.backend, resume=args.resume,
                        retry_failed=args.retry_failed, progress=not args.quiet, variants=variants,
                        address=args.address, storage=args.storage,
                        until_decided=(args.max_seeds or 10) if args.until_decided else None)
    if outcome.stopped:
        raise DiskFullError(f"{outcome.stopped}; the study stopped and every run is kept: free some space, then "
                            f"run the same command with --resume")
    from .report import finish_study
    finish_study(outcome.study_dir)
    _print_study(outcome.study_dir)
    trackers = (spec.base.get("train") or {}).get("log") or []
    if trackers:   # the study's own part (MLflow parent run, HParams experiment) and any run a tracker missed
        from .track.export import finish_study_trackers
        finish_study_trackers(outcome.study_dir, trackers, say=lambda text: err().print(text, markup=False))
    interrupted = sum(r.status == "interrupted" for r in outcome.results)
    if interrupted:
        err().print(f"nnstudy run: {interrupted} run(s) interrupted (not their fault); `--resume` continues them",
                    markup=False)
    if outcome.failed:
        err().print(f"nnstudy run: {outcome.failed} of {len(outcome.results) + outcome.skipped} runs failed "
                    f"(their errors are in the table above and in each run's summary.json; `--resume "
                    f"--retry-failed` runs them again)", markup=False)
        return EXIT_RUNS_FAILED
    return EXIT_TRY_AGAIN if interrupted else 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import finish_study
    study_dir = Path(args.study_dir)
    if not (study_dir / "study.yaml").is_file():
        raise NnstudyError(f"{study_dir}: not a study directory (no study.yaml)")
    finish_study(study_dir)
    _print_study(study_dir)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .track.export import export
    say = (lambda text: None) if args.quiet else (lambda text: err().print(text, markup=False, highlight=False))
    result = export(args.path, args.to, args.uri, say=say)
    out().print(result.line(args.to), markup=False, highlight=False)
    return 0


def _print_study(study_dir: Path) -> None:
    from .study.results import aggregate, collect_runs, describe_verdicts, read_study
    from .study.tables import adjusted_p_column, chance_note, reference_column, summary_table
    study = read_study(study_dir)
    agg = aggregate(collect_runs(study_dir), study)
    frame = summary_table(agg, study)
    metric = study.report.metric
    # the terminal gets the verdict columns; report.md / report.html have every metric
    keep = ["variant", "n", metric, reference_column(study), f"diff {metric} [95% CI]", "p",
            adjusted_p_column(study), "verdict", "params", "train s"]
    frame = frame[[c for c in keep if c in frame.columns]]
    mode = "" if study.mode == "full" else f" — {study.mode.upper()} MODE"
    table = Table(title=f"{study.name}{mode}: mean ± std over seeds; verdicts vs {study.baseline!r} on {metric} "
                        f"({describe_verdicts(agg, study)}; paired by seed)", title_justify="left")
    for col in frame.columns:
        table.add_column(str(col))
    for row in frame.itertuples(index=False):
        table.add_row(*(str(v) for v in row))
    out().print(table)
    note = chance_note(agg, study.baseline)
    if note:
        err().print(f"nnstudy: warning: {note}", markup=False, highlight=False)
    out().print(f"report: {study_dir / 'report.html'}  and  {study_dir / 'report.md'}")


# ------------------------------------------------------------------------------------------------- quickstart

# (model, epochs, overrides): about 1-1.5 minutes in all on 2 CPU cores, most of it the residual net.
QUICKSTART_MODELS: list[tuple[str, int, list[str]]] = [
    ("mlp3", 10, ["optim.lr=0.01"]),
    ("tutorial_cnn", 15, ["optim.lr=0.01"]),
    ("d2l_resnet", 5, ["model.blocks=2", "optim.name=adam", "optim.lr=0.002"]),
]


def cmd_quickstart(args: argparse.Namespace) -> int:
    from .engine import train
    from .resolution import load_config
    out_dir = Path(args.out_dir) / f"quickstart-{time.strftime('%Y%m%d-%H%M%S')}"
    out().print(f"nnstudy quickstart: {len(QUICKSTART_MODELS)} small models on the bundled CIFAR-10 sample "
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
    out().print(table)
    out().print("Run directories (config.yaml, metrics.csv, summary.json, model.safetensors, checkpoint.pt):")
    for r in rows:
        out().print(f"  {r.run_dir}")
    out().print(f"Next: nnstudy eval {rows[-1].run_dir}   |   nnstudy models   |   nnstudy train tutorial_cnn --help")
    return 0
