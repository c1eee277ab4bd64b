"""Where a study's runs execute: one small interface, a serial and a process-pool backend.

A backend takes jobs and yields results as they complete. A Ray backend can be added behind the same interface
(imported lazily, only when asked for); the local backends never import it.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from abc import ABC, abstractmethod
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..errors import ConfigError

__all__ = ["Job", "JobResult", "Executor", "SerialExecutor", "ProcessExecutor", "make_executor"]


@dataclass(frozen=True)
class Job:
    name: str                   # the run directory name inside the study
    config: dict[str, Any]      # a run config dict (out_dir and name set)
    weights: str | None = None  # published weights to evaluate instead of training


@dataclass(frozen=True)
class JobResult:
    name: str
    status: str                 # "finished", "failed", or "interrupted" (not the run's fault: resumable)
    error: str = ""
    seconds: float = 0.0        # wall time of the whole job, start-up included
    metrics: dict[str, float] = field(default_factory=dict)
    stop_study: bool = False    # every later run would meet the same cause (a full disk): the study stops


class Executor(ABC):
    """Runs `fn(job)` for every job; yields each JobResult as soon as it is done."""

    workers: int = 1

    @abstractmethod
    def run(self, fn: Callable[[Job], JobResult], jobs: list[Job]) -> Iterator[JobResult]:
        ...


class SerialExecutor(Executor):
    """In this process, one run after another."""

    def run(self, fn: Callable[[Job], JobResult], jobs: list[Job]) -> Iterator[JobResult]:
        for job in jobs:
            yield fn(job)


class ProcessExecutor(Executor):
    """A pool of `workers` processes on this machine (spawned, so no thread pool state is forked); each worker
    is reused for many runs, so process start-up (~2 s importing torch) is paid once per worker, not per run."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(self, fn: Callable[[Job], JobResult], jobs: list[Job]) -> Iterator[JobResult]:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_exit_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            pending = {pool.submit(fn, job): job for job in jobs}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        job = pending.pop(future)
                        try:
                            yield future.result()
                        except Exception as e:   # a worker died (killed, out of memory): the run stays resumable
                            yield JobResult(job.name, "interrupted",
                                            f"worker process died ({type(e).__name__}); --resume continues the run")
            finally:
                for future in pending:
                    future.cancel()


def _exit_with_parent(parent: int, interval: float = 1.0) -> None:
    """In a worker: end this process when the study's process is gone (killed with SIGKILL, say). Otherwise an
    orphaned worker would go on writing its run while `--resume` starts the same run again."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)   # seconds between checks
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def threads_per_worker(workers: int) -> int:
    """CPU threads for each of `workers` parallel runs: the cores split evenly, at least one each."""
    return max(1, (os.cpu_count() or 1) // workers)


def make_executor(backend: str = "local", workers: int = 1) -> Executor:
    if workers < 1:
        raise ConfigError(f"--workers {workers}: expected at least 1")
    if backend != "local":
        raise ConfigError(f"--backend {backend!r}: only 'local' is available in this version")
    return SerialExecutor() if workers == 1 else ProcessExecutor(workers)
