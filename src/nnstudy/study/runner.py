"""Run a study: expand it into (variant, seed) runs, execute the missing ones, tabulate, report.

    studies/<name>[-quick]/
      study.yaml              the resolved study (variants expanded): what the report reads
      runs/<variant>__s<seed>/ one run directory each (see nnstudy.runs)
      results.csv/.parquet    one row per run;  summary.csv/.parquet  one row per variant, with verdicts
      report.md, report.html, figures/*.png

A killed study continues with resume=True: finished runs are kept, unfinished ones continue from their
checkpoints, so the final tables equal those of an uninterrupted study.
"""
from __future__ import annotations

import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..config import load_config
from ..engine import train, weights_run
from ..errors import RunDirError
from ..io import write_json, write_text
from ..runs import RunDir, first_difference
from .executor import Job, JobResult, make_executor, threads_per_worker
from .spec import StudySpec, run_name

__all__ = ["run_study", "study_dir_for", "run_job", "StudyOutcome"]


@dataclass
class StudyOutcome:
    study_dir: Path
    results: list[JobResult] = field(default_factory=list)   # the runs executed this time
    skipped: int = 0                                            # finished (or failed) earlier and kept


def study_dir_for(spec: StudySpec, out_dir: str | Path = "studies") -> Path:
    """studies/<name>, or studies/<name>-<mode> so a quick run never mixes with the full protocol."""
    return Path(out_dir) / (spec.name if spec.mode == "full" else f"{spec.name}-{spec.mode}")


def run_job(job: Job, progress: bool = False) -> JobResult:
    """Train one run of a study (resuming it if a checkpoint is there). Never raises for a failing run:
    the failure and its cause are written to the run's summary.json and returned."""
    t0 = time.perf_counter()
    try:
        if job.weights:
            result = weights_run(load_config(job.config), job.weights)
        else:
            result = train(load_config(job.config), resume=True, progress=progress)
        return JobResult(job.name, "finished", seconds=time.perf_counter() - t0,
                         metrics=result.summary["metrics"])
    except Exception as e:   # recorded as a failed run; the study goes on
        error = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
        run = RunDir(Path(job.config["out_dir"]) / job.name)
        summary = run.summary() or {}
        if summary.get("status") != "failed":   # the engine records divergence itself
            write_json(run.summary_path, {"status": "failed", "name": job.name, "error": error,
                                          "traceback": traceback.format_exc(limit=8)})
        return JobResult(job.name, "failed", error=summary.get("error", error), seconds=time.perf_counter() - t0)


def _serial_job(job: Job) -> JobResult:
    return run_job(job, progress=True)


def run_study(spec: StudySpec, *, out_dir: str | Path = "studies", workers: int = 1, backend: str = "local",
              resume: bool = False, retry_failed: bool = False, progress: bool = True,
              report: bool = True, console: Console | None = None) -> StudyOutcome:
    """Execute every run of `spec` not finished yet; write the result tables and the report."""
    console = console or Console(stderr=True, highlight=False)
    say = console.print if progress else (lambda *a, **k: None)
    resolved = spec.resolved()
    study_dir = study_dir_for(spec, out_dir)
    _claim(study_dir, resolved, resume)

    executor = make_executor(backend, workers)
    threads = threads_per_worker(workers) if workers > 1 else None
    jobs, outcome = [], StudyOutcome(study_dir)
    for variant in spec.expand():
        weights = spec.weights.get(variant.name)
        # Published weights are evaluated, not trained: no randomness, so one "seed" is enough.
        for seed in spec.seeds[:1] if weights else spec.seeds:
            name = run_name(variant.name, seed)
            run = RunDir(study_dir / "runs" / name)
            status = (run.summary() or {}).get("status")
            if status == "finished" or (status == "failed" and not retry_failed):
                outcome.skipped += 1
                continue
            if status == "failed":
                shutil.rmtree(run.path)   # --retry-failed starts it again from scratch
            config = spec.run_config(variant, seed)
            config.update(out_dir=str(study_dir / "runs"), name=name)
            if threads and not (config.get("train") or {}).get("threads"):
                config.setdefault("train", {})["threads"] = threads
            jobs.append(Job(name, config, weights))

    mode = "" if spec.mode == "full" else f" — {spec.mode.upper()} MODE (not the write-up's protocol)"
    say(f"[bold]study {spec.name}[/]{mode}: {len(jobs)} runs to do, {outcome.skipped} kept from before, "
        f"{executor.workers} worker(s) → {study_dir}")
    serial_bars = progress and executor.workers == 1   # each run shows its own bar; rich shows one at a time
    fn = _serial_job if serial_bars else run_job
    bar = _StudyProgress(len(jobs), console, enabled=progress and not serial_bars, quiet=not progress)
    with bar:
        for i, result in enumerate(executor.run(fn, jobs), 1):
            outcome.results.append(result)
            if result.status == "finished":
                shown = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items() if k.startswith("test_"))
                bar.say(f"[{i}/{len(jobs)}] [green]done[/] {result.name}: {shown} ({result.seconds:.1f} s)")
            else:
                bar.say(f"[{i}/{len(jobs)}] [red]failed[/] {result.name}: {result.error}")
            bar.advance(result.status == "failed")
    if report:
        finish_study(study_dir)
    return outcome


class _StudyProgress:
    """A bar over a study's runs (done, failed, ETA) for parallel workers, whose runs show no bars of their own."""

    def __init__(self, total: int, console: Console, enabled: bool, quiet: bool) -> None:
        self.console, self.quiet, self.failed = console, quiet, 0
        self.progress = Progress(TextColumn("[bold]runs"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=console) if enabled else None
        self.task = self.progress.add_task("runs", total=total, failed=0) if self.progress else None

    def __enter__(self) -> "_StudyProgress":
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress:
            self.progress.stop()

    def say(self, text: str) -> None:
        if not self.quiet:
            (self.progress.console if self.progress else self.console).print(text, highlight=False)

    def advance(self, failed: bool) -> None:
        self.failed += failed
        if self.progress:
            self.progress.update(self.task, advance=1, failed=self.failed)


def _claim(study_dir: Path, resolved: dict[str, Any], resume: bool) -> None:
    """Create the study directory, or check that an existing one is the same study (for resume)."""
    path = study_dir / "study.yaml"
    if path.is_file():
        if not resume:
            raise RunDirError(f"{study_dir}: a study is there already; pass --resume to continue it (finished "
                              f"runs are kept), or choose another --out")
        saved = yaml.safe_load(path.read_text(encoding="utf-8"))
        diff = first_difference(saved, yaml.safe_load(yaml.safe_dump(resolved)),
                                ignore=frozenset({"base.train.threads", "base.train.checkpoint_every"}))
        if diff:
            raise RunDirError(f"{study_dir}: cannot resume a different study ({diff})")
        return
    study_dir.mkdir(parents=True, exist_ok=True)
    write_text(path, yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))


def finish_study(study_dir: Path, progress: bool = False) -> dict[str, Path]:
    """Result tables and report of a study directory (also what `nnstudy report` runs)."""
    from ..report import build_report
    from .results import write_tables
    paths = dict(write_tables(study_dir))
    paths.update(build_report(study_dir, progress=progress))
    return paths
