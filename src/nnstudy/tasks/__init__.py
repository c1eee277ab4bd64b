"""Tasks by name: what a batch means, the loss, the metrics. A task of one's own subclasses :class:`Task` and
returns a :class:`StepResult` per batch (docs/your-own-model.md, "Your own task")."""
from __future__ import annotations

from typing import Any

from ..registry import Registry
from .base import StepResult, Task

__all__ = ["TASKS", "Task", "StepResult", "register_task", "build_task"]

TASKS: Registry[type[Task]] = Registry("task")
register_task = TASKS.register


def build_task(name: str, **kwargs: Any) -> Task:
    return TASKS.get(name).builder(**kwargs)


from . import classification, forecasting, regression  # noqa: E402,F401  (registers)
