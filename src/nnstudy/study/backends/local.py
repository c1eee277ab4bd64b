"""The local backends: one run after another in this process, or a pool of worker processes on this machine."""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Iterator

from ..executor import Executor, Job, JobResult

__all__ = ["SerialExecutor", "ProcessExecutor", "threads_per_worker"]


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
        self.label = f"{workers} worker processes"

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
