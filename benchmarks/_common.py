"""What every benchmark records beside its numbers, and how it saves them: one file per benchmark and machine type,
benchmarks/results/<name>/<machine type>.json, so that results from different machines sit side by side (never
overwrite each other) and docs/benchmarks.md shows a table per machine type."""
from __future__ import annotations

import json
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any, Callable

import torch

from nnstudy.engine.runtime import cpu_flags
from nnstudy.measure.environment import cpu_id, cpu_model, cpuinfo

# NNSTUDY_BENCHMARK_RESULTS moves them elsewhere: the smoke tests (tests/test_benchmarks.py) run every benchmark at
# toy sizes and must not overwrite the measured results
RESULTS = Path(os.environ.get("NNSTUDY_BENCHMARK_RESULTS") or Path(__file__).resolve().parent / "results")

# the CPU features that decide how fast (and in which precision) training runs, as /proc/cpuinfo names them
FEATURES = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile")


def _recorded_cpu_ids(kind: str) -> set[str]:
    """The CPUs that results of machine type `kind` say they were measured on (results older than the field say
    nothing)."""
    ids = set()
    for path in RESULTS.glob(f"*/{slug(kind)}.json"):
        try:
            recorded = json.loads(path.read_text()).get("cpu_id")
        except (OSError, ValueError):
            continue
        if recorded:
            ids.add(recorded)
    return ids


def machine() -> dict[str, Any]:
    """The machine a result comes from: CPU model, the features above it has, its type, and the GPU if any.

    The type is the model name and the instruction set that decides the precision ("AMD EPYC, AVX-512 BF16"). Where
    results of that type were measured on another CPU (another family or model: a Zen 5 after a Zen 4, which VMs
    both call "AMD EPYC"), this CPU's id is added to the type, so that its numbers get tables of their own instead of
    landing in the other CPU's."""
    flags = cpu_flags()
    has = [f for f in FEATURES if f in flags]
    if "amx_bf16" in has:
        isa = "AMX"
    elif "avx512_bf16" in has:
        isa = "AVX-512 BF16"
    elif "avx512f" in has:
        isa = "AVX-512"
    elif "avx2" in has:
        isa = "AVX2"
    else:
        isa = platform.machine()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    kind = f"{cpu_model()}, {isa}" + (f", {gpu}" if gpu else "")
    this = cpu_id(cpuinfo())
    recorded = _recorded_cpu_ids(kind)
    if this and recorded and this not in recorded:
        kind += f" ({this})"
    return {"machine": cpu_model(), "cpu_id": this, "cpu_features": has, "machine_type": kind, "gpu": gpu}


def slug(kind: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-")


def environment(**settings: Any) -> dict[str, Any]:
    """The command to re-run (as typed, from the repository root), the machine, torch and Python versions, and the
    benchmark's own settings."""
    return {"command": "python " + " ".join(sys.argv), **machine(), "torch": torch.__version__,
            "python": platform.python_version(), **settings}


def result_path(name: str, kind: str | None = None) -> Path:
    """results/<name>/<this machine type (or `kind`)>.json."""
    return RESULTS / name / f"{slug(kind or machine()['machine_type'])}.json"


def save(name: str, result: dict[str, Any], markdown: Callable[[dict[str, Any]], str]) -> None:
    """Write this machine type's results/<name>/<type>.json (whole, or not at all) and print the Markdown table."""
    path = result_path(name, result.get("machine_type"))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(path)
    print(markdown(result))


def merged_rows(name: str, rows: list[dict[str, Any]], key: str = "recipe") -> list[dict[str, Any]]:
    """`rows` (each tagged with the command that measured it) with the rows of this machine type's earlier result
    that they do not replace, in the earlier order, new ones last: a benchmark run on some recipes (`--only`) adds
    to the table instead of erasing the others."""
    command = "python " + " ".join(sys.argv)
    new = {r[key]: {**r, "command": command} for r in rows}
    path = result_path(name)
    earlier = json.loads(path.read_text()) if path.is_file() else {"rows": []}
    # rows from before rows carried their command were measured by the earlier result's command
    kept = [new.pop(r[key]) if r[key] in new else {"command": earlier.get("command", ""), **r}
            for r in earlier["rows"]]
    return kept + list(new.values())
