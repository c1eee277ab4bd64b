"""Where a study's runs execute: one small interface (jobs in, results out as they complete) and its backends.

    local  — serial in this process, or a pool of worker processes on this machine (study/backends/local.py)
    ray    — Ray tasks on a Ray cluster, or on a local Ray instance (study/backends/ray.py; ray imported there only)
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..errors import ConfigError

__all__ = ["Job", "JobResult", "Executor", "make_executor", "BACKENDS"]

BACKENDS = ("local", "ray")


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

    workers: int = 1            # runs at once (1: each run shows its own progress bar)
    label: str = "1 worker"     # where the runs go, for the study's first line
    data_here: bool = True      # whether the runs read their data on this machine (checked before the first run)

    @abstractmethod
    def run(self, fn: Callable[[Job], JobResult], jobs: list[Job]) -> Iterator[JobResult]:
        ...


def make_executor(backend: str = "local", workers: int = 1, *, address: str | None = None,
                  storage: str | None = None) -> Executor:
    """The executor of `backend`: local (serial for one worker, else a process pool) or ray (`address` of a
    running cluster, else a local Ray instance; `storage`: where run files travel, else Ray's object store)."""
    if workers < 1:
        raise ConfigError(f"--workers {workers}: expected at least 1")
    if backend == "ray":
        from .backends.ray import RayExecutor
        return RayExecutor(address=address, storage=storage, workers=workers)
    if backend != "local":
        raise ConfigError(f"--backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if address is not None or storage is not None:
        raise ConfigError("--address and --storage are for --backend ray")
    from .backends.local import ProcessExecutor, SerialExecutor
    return SerialExecutor() if workers == 1 else ProcessExecutor(workers)
