"""What every benchmark records beside its numbers, and how it saves them (benchmarks/results/<name>.json)."""
from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any, Callable

import torch

from nnstudy.measure.environment import cpu_model

RESULTS = Path(__file__).resolve().parent / "results"


def environment(**settings: Any) -> dict[str, Any]:
    """The command to re-run (as typed, from the repository root), the machine, torch and Python versions, and the
    benchmark's own settings."""
    return {"command": "python " + " ".join(sys.argv), "machine": cpu_model(), "torch": torch.__version__,
            "python": platform.python_version(), **settings}


def save(name: str, result: dict[str, Any], markdown: Callable[[dict[str, Any]], str]) -> None:
    """Write results/<name>.json (whole, or not at all) and print the benchmark's Markdown table."""
    RESULTS.mkdir(exist_ok=True)
    tmp = RESULTS / f"{name}.json.tmp"
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(RESULTS / f"{name}.json")
    print(markdown(result))
