"""Progress display for training: a rich bar (epoch, step, loss, samples/s, ETA) and one line per epoch."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = ["TrainProgress", "epoch_line"]


class TrainProgress:
    """A rich progress bar over all training steps of a run; silent when `enabled` is false."""

    def __init__(self, total_steps: int, epochs: int, enabled: bool = True, console: Console | None = None,
                 title: str = "") -> None:
        self.enabled = enabled
        self.epochs = epochs
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None
        if enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[speed]} samples/s"),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=self.console, transient=False)
            self._task = self._progress.add_task(title, total=total_steps, loss="-", speed="-")

    def __enter__(self) -> "TrainProgress":
        if self._progress:
            self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress:
            self._progress.stop()

    def advance_to(self, step: int, epoch: int, loss: float | None, samples_per_s: float | None) -> None:
        if not self._progress:
            return
        self._progress.update(self._task, completed=step, description=f"epoch {epoch + 1}/{self.epochs}",
                              loss="-" if loss is None else f"{loss:.4f}",
                              speed="-" if samples_per_s is None else f"{samples_per_s:,.0f}")

    def log(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, highlight=False)


def epoch_line(row: dict[str, Any], epochs: int) -> str:
    """e.g. 'epoch 2/10  train loss 1.3834 acc 0.5017 | val loss 1.2905 acc 0.5428 | lr 0.001'."""
    groups = []
    for split in ("train", "val"):
        items = [f"{k[len(split) + 1:]} {v:.4f}" for k, v in row.items()
                 if k.startswith(split + "_") and k != "train_seconds"]
        if items:
            groups.append(f"{split} " + " ".join(items))
    return f"epoch {row['epoch']}/{epochs}  " + " | ".join(groups) + f" | lr {row['lr']:.3g}"
