"""nnstudy: run, measure and report neural-network experiments.

    from nnstudy import load_config, train
    result = train(load_config("tutorial_cnn", ["data.name=cifar10-sample", "train.epochs=2"]))
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public API, imported on first use so that `import nnstudy` (and the CLI's start) stays light.
_API = {
    "load_config": "nnstudy.resolution", "resolve": "nnstudy.resolution", "RunConfig": "nnstudy.config",
    "train": "nnstudy.engine", "evaluate": "nnstudy.engine", "evaluate_run": "nnstudy.engine",
    "evaluate_weights": "nnstudy.engine",
    "build_model": "nnstudy.models", "list_models": "nnstudy.models", "count_params": "nnstudy.models",
    "build_dataset": "nnstudy.data",
    "Study": "nnstudy.api", "StudyResults": "nnstudy.api", "run_study": "nnstudy.api",
    "NnstudyError": "nnstudy.errors",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'nnstudy' has no attribute {name!r}")
