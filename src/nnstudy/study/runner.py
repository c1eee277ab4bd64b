"""Run a study: expand it into (variant, seed) runs and execute the missing ones (tables and report: the caller).

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
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..config import read_yaml
from ..engine import train, weights_run
from ..engine.build import build_data
from ..errors import BusyError, ConfigError, DiskFullError, NnstudyError, RunDirError, clip
from ..io import disk_full_error, is_disk_full, write_json, write_text
from ..locks import LOCK_NAME, DirLock
from ..names import check_name
from ..resolution import load_config
from ..runs import RunDir, first_difference
from ..track import check_installed
from .adaptive import seeds_wanted
from .backends.local import threads_per_worker
from .executor import Job, JobResult, make_executor
from .resolved import Cell, ResolvedStudy
from .spec import StudySpec

__all__ = ["run_study", "study_dir_for", "run_job", "StudyOutcome"]


@dataclass
class StudyOutcome:
    study_dir: Path
    results: list[JobResult] = field(default_factory=list)   # the runs executed this time
    skipped: int = 0                                            # finished (or failed) earlier and kept
    failed_before: int = 0                                      # of those kept, how many had failed
    stopped: str = ""                                           # why the study stopped before its end, if it did

    @property
    def failed(self) -> int:
        """Runs of the study that failed: this time, or before and kept (not retried)."""
        return self.failed_before + sum(r.status == "failed" for r in self.results)


# Errors that say nothing about the run itself: it stays resumable (not marked failed) and --resume continues it
# from its last checkpoint.
_TRANSIENT = (DiskFullError, BusyError)


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
    except _TRANSIENT as e:
        return JobResult(job.name, "interrupted", error=str(e), seconds=time.perf_counter() - t0,
                         stop_study=isinstance(e, DiskFullError))
    except Exception as e:   # recorded as a failed run; the study goes on
        if is_disk_full(e):
            return JobResult(job.name, "interrupted", error=str(disk_full_error(e.filename or job.config["out_dir"])),
                             seconds=time.perf_counter() - t0, stop_study=True)
        error = clip(f"{type(e).__name__}: {str(e).strip()}", 300)
        return _record_failure(job, error, traceback.format_exc(limit=8), time.perf_counter() - t0)


def _record_failure(job: Job, error: str, trace: str, seconds: float) -> JobResult:
    """Write the failed run's summary (the engine records divergence itself); if even that cannot be written
    (a full disk), the run is left resumable instead."""
    run = RunDir(Path(job.config["out_dir"]) / job.name)
    try:
        summary = run.summary() or {}
    except RunDirError:
        summary = {}
    try:
        if summary.get("status") != "failed":
            write_json(run.summary_path, {"status": "failed", "name": job.name, "error": error, "traceback": trace})
    except (DiskFullError, OSError) as e:
        return JobResult(job.name, "interrupted", error=f"{error}; its failure could not be recorded: {clip(e)}",
                         seconds=seconds, stop_study=True)
    return JobResult(job.name, "failed", error=summary.get("error", error), seconds=seconds)


def _serial_job(job: Job) -> JobResult:
    return run_job(job, progress=True)


def run_study(spec: StudySpec, *, out_dir: str | Path = "studies", workers: int = 1, backend: str = "local",
              resume: bool = False, retry_failed: bool = False, progress: bool = True,
              console: Console | None = None, variants: list[str] | None = None, address: str | None = None,
              storage: str | None = None, until_decided: int | None = None) -> StudyOutcome:
    """Execute every run of `spec` not finished yet (of the `variants` named, if given: part of a study, whose
    other runs a later call adds). Ends after the runs: the caller builds the tables and the report
    (:func:`nnstudy.report.finish_study`), which read the study directory alone.

    `until_decided` = K: seeds are added round by round, up to K per variant, to the comparisons still undecided
    (study/adaptive.py); resumable like any study."""
    console = console or Console(stderr=True, highlight=False)
    if until_decided is not None and (variants is not None or spec.weights):
        raise ConfigError("--until-decided runs every variant of a study that trains them all (no --variants, no "
                          "--weights)")
    study = spec.resolved(until_decided)
    study_dir = study_dir_for(spec, out_dir)
    check_name(study_dir.name, "study name")
    check_installed((study.base.get("train") or {}).get("log") or [])   # before any run: one line, not every run
    executor = make_executor(backend, workers, address=address, storage=storage)
    if variants is not None:
        spec.select(variants)   # an unknown name: one line with "did you mean"
    existed = study_dir.exists()
    try:
        with DirLock(study_dir, "study"):   # one process per study directory
            new = _check_claim(study_dir, study, resume)
            outcome = StudyOutcome(study_dir)
            first = study.cells(variants) if study.adaptive is None else \
                [c for c in study.cells() if c.seed in study.seeds[:study.adaptive.first]]
            jobs = _jobs(study, first, study_dir, workers, retry_failed, outcome)
            if executor.data_here:   # before anything is written: a study that cannot start leaves nothing behind
                _check_data(jobs)
            if new:
                write_text(study_dir / "study.yaml", yaml.safe_dump(study.to_dict(), sort_keys=False,
                                                                    allow_unicode=True))
            _run_jobs(study, jobs, outcome, executor, progress, console)
            round_no = 1
            while study.adaptive is not None and not outcome.stopped:   # a round of seeds per loop
                jobs = _jobs(study, _wanted_cells(study, study_dir), study_dir, workers, retry_failed,
                             StudyOutcome(study_dir))
                if not jobs:
                    break
                round_no += 1
                _run_jobs(study, jobs, outcome, executor, progress, console, round_no)
    except OSError as e:
        if is_disk_full(e):
            raise disk_full_error(e.filename or study_dir) from None
        raise
    finally:
        if not existed and study_dir.is_dir() and [p.name for p in study_dir.iterdir()] == [LOCK_NAME]:
            shutil.rmtree(study_dir, ignore_errors=True)   # refused before it began: no empty folder left
    return outcome


def _wanted_cells(study: ResolvedStudy, study_dir: Path) -> list[Cell]:
    """The runs an adaptive study needs now, from what its run directories say (study/adaptive.py)."""
    from .results import collect_runs
    wanted = seeds_wanted(collect_runs(study_dir), study)
    return [c for c in study.cells() if study.seeds.index(c.seed) < wanted[c.variant.name]]


def _jobs(study: ResolvedStudy, cells: list[Cell], study_dir: Path, workers: int, retry_failed: bool,
          outcome: StudyOutcome) -> list[Job]:
    """The runs of `cells` still to do (kept runs are counted in `outcome`)."""
    threads = threads_per_worker(workers) if workers > 1 else None
    jobs = []
    for cell in cells:
        name = check_name(cell.name, f"run name of variant {clip(cell.variant.name)}")
        run = RunDir(study_dir / "runs" / name)
        try:
            status = (run.summary() or {}).get("status")
        except RunDirError:
            status = None    # an unreadable summary: the run is done again (resumed from its checkpoint)
        if status == "finished" or (status == "failed" and not retry_failed):
            outcome.skipped += 1
            outcome.failed_before += status == "failed"
            continue
        if status == "failed":
            # --retry-failed: the failure record goes; the run continues from its last checkpoint if it has
            # one (its earlier epochs are not thrown away), else starts again
            run.summary_path.unlink()
        config = study.run_config(cell.variant, cell.seed)
        # tags: what trackers group the run by (they change nothing the run computes)
        config.update(out_dir=str(study_dir / "runs"), name=name,
                      tags={**(config.get("tags") or {}), "study": study_dir.name, "variant": cell.variant.name})
        if threads and not (config.get("train") or {}).get("threads"):
            config.setdefault("train", {})["threads"] = threads
        jobs.append(Job(name, config, study.weights.get(cell.variant.name)))
    return jobs


def _check_data(jobs: list[Job]) -> None:
    """Build each distinct dataset the runs need once, before the first run: a missing dataset fails the study
    in one line, not every run one by one."""
    seen = set()
    for job in jobs:
        key = yaml.safe_dump(job.config.get("data") or {}, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        try:
            build_data(load_config(job.config))
        except NnstudyError as e:
            raise type(e)(f"run {job.name}: {e}") from None


def _run_jobs(study: ResolvedStudy, jobs: list[Job], outcome: StudyOutcome, executor: Any, progress: bool,
              console: Console, round_no: int | None = None) -> None:
    say = console.print if progress else (lambda *a, **k: None)
    study_dir = outcome.study_dir
    if round_no is not None:   # --until-decided: a seed more for the comparisons still undecided
        say(f"[bold]study {escape(study.name)}[/], round {round_no}: {len(jobs)} runs for the comparisons still "
            f"undecided")
    else:
        mode = "" if study.mode == "full" else f" — {study.mode.upper()} MODE (not the write-up's protocol)"
        say(f"[bold]study {escape(study.name)}[/]{mode}: {len(jobs)} runs to do, {outcome.skipped} kept from "
            f"before, {escape(executor.label)} → {escape(str(study_dir))}")
    if study.base.get("imports") and round_no is None:   # the user's code runs in every run: say whose
        say(f"imports (their code runs in every run): {escape(', '.join(study.base['imports']))}")
    serial_bars = progress and executor.workers == 1   # each run shows its own bar; rich shows one at a time
    fn = _serial_job if serial_bars else run_job
    bar = _StudyProgress(len(jobs), console, enabled=progress and not serial_bars, quiet=not progress)
    with bar:
        results = executor.run(fn, jobs)
        for i, result in enumerate(results, 1):
            outcome.results.append(result)
            if result.status == "finished":
                shown = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items() if k.startswith("test_"))
                bar.say(f"\\[{i}/{len(jobs)}] [green]done[/] {escape(result.name)}: {shown} "
                        f"({result.seconds:.1f} s)")
            else:
                bar.say(f"\\[{i}/{len(jobs)}] [red]{result.status}[/] {escape(result.name)}: {escape(result.error)}")
            bar.advance(result.status == "failed")
            if result.stop_study:   # e.g. a full disk, which every later run would meet too
                outcome.stopped = result.error
                results.close()     # the executor cancels what has not started
                break


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


def _check_claim(study_dir: Path, study: ResolvedStudy, resume: bool) -> bool:
    """Whether study.yaml is still to be written: the study is new here, or resumed with more seeds (its seeds
    extending those it had: `--seeds 3 --resume` adds seed 2 and keeps the runs of 0 and 1) or a reworded
    description (the report shows the current text). RunDirError when another study is there, or this one
    without resume."""
    path = study_dir / "study.yaml"
    if not path.is_file():
        return True
    if not resume:
        raise RunDirError(f"{study_dir}: a study is there already; pass --resume to continue it (finished "
                          f"runs are kept), or choose another --out")
    saved = read_yaml(path, RunDirError)
    now = yaml.safe_load(yaml.safe_dump(study.to_dict()))
    had = saved.get("seeds") if isinstance(saved, dict) else None
    grows = isinstance(had, list) and len(now["seeds"]) > len(had) and now["seeds"][:len(had)] == had
    diff = first_difference({**saved, "seeds": now["seeds"]} if grows else saved, now,
                            ignore=frozenset({"description", "base.train.threads", "base.train.checkpoint_every",
                                              "base.train.log", "base.tags"}))   # prose and logistics, not protocol
    if diff:
        hint = " (seeds may only grow on resume, keeping those run)" if diff.startswith("seeds:") else ""
        raise RunDirError(f"{study_dir}: cannot resume a different study ({diff}){hint}")
    return grows or saved.get("description") != now.get("description")
