"""The one interface between nnstudy and experiment trackers, and the thread that keeps trackers off the training path.

A tracker is a :class:`Sink`: it is told a run started (:class:`~nnstudy.track.record.RunRecord`), gets one
metrics.csv row per epoch and one steps.csv row per ``eval_every_steps`` evaluation, then the summary when the run
finishes. The engine calls the sinks through :class:`RunTrackers` and knows no tracker; each tracker lives in its
own module (mlflow.py, tensorboard.py, wandb.py), imported only when a run asks for it.

Training never waits for a tracker: every sink runs on its own daemon thread (:class:`Background`). A sink that
fails (a server gone, a full disk) stops there; the failure is reported once and recorded in the run's
tracking.json, and ``nnstudy export`` sends the run later.
"""
from __future__ import annotations

import importlib
import importlib.util
import queue
import threading
import time
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError, clip

__all__ = ["Sink", "TRACKERS", "check_installed", "make_sink", "Background", "RunTrackers", "describe_error"]

# tracker name -> (the module it needs, the extra that installs it, the nnstudy module with its sink)
TRACKERS: dict[str, tuple[str, str, str]] = {
    "mlflow": ("mlflow", "mlflow", "nnstudy.track.mlflow"),
    "tensorboard": ("tensorboard", "tensorboard", "nnstudy.track.tensorboard"),
    "wandb": ("wandb", "wandb", "nnstudy.track.wandb"),
}

# How long a finished run waits for its trackers to send what is queued (seconds) before it gives up on them.
CLOSE_TIMEOUT_S = 60.0
# Rows are sent at most this often (seconds), those of shorter epochs together: a tracker's own work (an MLflow
# request, a sqlite write: ~5-10 ms of CPU) then costs under 1 % of even a 0.2 s epoch (benchmarks/tracking_overhead.py)
FLUSH_SECONDS = 2.0


class Sink:
    """One tracker's copy of one run. Methods are called in order, from one thread; any may raise."""

    name = "sink"
    already = False   # set by start(): the tracker holds this run in full (an export sends nothing)

    def start(self, run: Any) -> None:
        """The run begins, resumes or is exported (``run.mode``): parameters and tags."""

    def epoch(self, row: dict[str, Any]) -> None:
        """One metrics.csv row; its step is ``row["epoch"]``."""

    def steps(self, row: dict[str, Any]) -> None:
        """One steps.csv row (validation every ``train.eval_every_steps``); its step is ``row["step"]``."""

    def rows(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        """Several ("epoch" | "steps", row) at once, in order (a tracker that can send them in one request says so
        by overriding this)."""
        for kind, row in rows:
            getattr(self, kind)(row)

    def finish(self, summary: dict[str, Any]) -> None:
        """The run finished: summary values and artifacts (the run directory is complete)."""

    def close(self, failed: bool = False) -> None:
        """Release the tracker (``failed``: the run stopped before its end)."""


def check_installed(names: list[str] | tuple[str, ...], field: str = "train.log") -> None:
    """ConfigError naming the extra when a tracker's package is missing (checked without importing it)."""
    for name in names:
        if name not in TRACKERS:
            raise ConfigError(f"{field}: unknown tracker {clip(name, quote=True)}; expected one of "
                              f"{', '.join(TRACKERS)}")
        module, extra, _ = TRACKERS[name]
        if importlib.util.find_spec(module) is None:
            raise ConfigError(f"{field}: {name} is not installed; pip install 'nnstudy[{extra}]'")


def make_sink(name: str, **options: Any) -> Sink:
    """A new sink of tracker `name` (its module imported now)."""
    check_installed([name])
    return importlib.import_module(TRACKERS[name][2]).make_sink(**options)


def describe_error(e: BaseException) -> str:
    return clip(f"{type(e).__name__}: {' '.join(str(e).split())}", 200)


class Background:
    """Calls one sink's methods in order on a daemon thread. After the first error the sink's remaining calls are
    dropped; `error` says what went wrong."""

    def __init__(self, name: str, make: Callable[[], Sink]) -> None:
        self.name, self.sink, self.error = name, None, None
        self._calls: queue.Queue = queue.Queue()
        self._make = make   # called on the thread: importing a tracker (mlflow: ~3 s) does not hold up the training
        self._thread = threading.Thread(target=self._work, name=f"nnstudy-{name}", daemon=True)
        self._thread.start()

    def submit(self, method: str, *args: Any) -> None:
        if self.error is None:
            self._calls.put((method, args))

    def _work(self) -> None:
        rows: list[tuple[str, dict[str, Any]]] = []   # waiting for the next send
        due = last = 0.0
        while True:
            try:
                method, args = self._calls.get(timeout=max(0.0, due - time.monotonic()) if rows else None)
            except queue.Empty:   # time to send the rows
                method, args = "", ()
            if method in ("epoch", "steps"):
                if not rows:   # the first row of a run goes at once, later ones at most every FLUSH_SECONDS
                    due = max(time.monotonic(), last + FLUSH_SECONDS)
                rows.append((method, args[0]))
                continue
            if rows:
                self._call("rows", rows)
                rows, last = [], time.monotonic()
            if method is None:
                return
            if method:
                self._call(method, *args)

    def _call(self, method: str, *args: Any) -> None:
        if self.error is not None:
            return
        try:
            if self.sink is None:
                self.sink = self._make()
            getattr(self.sink, method)(*args)
        except Exception as e:   # a tracker's failure never reaches the training loop
            self.error = describe_error(e)

    def close(self, failed: bool, timeout: float) -> None:
        """Send what is queued, then close the sink; waits at most `timeout` seconds."""
        self.submit("close", failed)
        self._calls.put((None, ()))
        self._thread.join(timeout)
        if self._thread.is_alive() and self.error is None:
            self.error = f"no answer within {timeout:.0f} s (what was not sent yet is dropped)"


class RunTrackers:
    """The trackers of one run, as the engine sees them: `epoch`, `steps`, `finish`, `close`. Each tracker's
    failure is reported through `say` once (the run goes on) and recorded in the run's tracking.json."""

    def __init__(self, names: list[str], run: Any, say: Callable[[str], None],
                 close_timeout: float = CLOSE_TIMEOUT_S) -> None:
        from .record import record_status
        self.run, self.say, self.close_timeout = run, say, close_timeout
        self._record_status = record_status
        self.workers: dict[str, Background] = {}
        self._reported: set[str] = set()
        for name in names:
            self.workers[name] = worker = Background(name, lambda name=name: make_sink(name, destination=None))
            worker.submit("start", run)

    def __bool__(self) -> bool:
        return bool(self.workers)

    def epoch(self, row: dict[str, Any]) -> None:
        self._each("epoch", dict(row))

    def steps(self, row: dict[str, Any]) -> None:
        self._each("steps", dict(row))

    def finish(self, summary: dict[str, Any]) -> None:
        self._each("finish", summary)

    def _each(self, method: str, *args: Any) -> None:
        for name, worker in self.workers.items():
            worker.submit(method, *args)
            if worker.error:
                self._report(name, worker.error)

    def close(self, failed: bool = False) -> None:
        t0 = time.perf_counter()
        for name, worker in self.workers.items():
            worker.close(failed, max(1.0, self.close_timeout - (time.perf_counter() - t0)))
            if worker.error:
                self._report(name, worker.error)

    def _report(self, name: str, error: str) -> None:
        if name in self._reported:
            return
        self._reported.add(name)
        try:
            self._record_status(self.run.path, name, "failed", error)
        except OSError:
            pass
        self.say(f"nnstudy: {name}: {error}; training goes on without it (`nnstudy export {Path(self.run.path)} "
                 f"--to {name}` sends the run when {name} is back)")
