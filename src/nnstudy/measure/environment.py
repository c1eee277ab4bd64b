"""The environment a run ran in: versions, device, CPU model, threads and the code version."""
from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["environment", "code_version", "cpu_id", "cpu_model", "cpuinfo"]


@functools.lru_cache(maxsize=1)
def cpuinfo() -> dict[str, str]:
    """The first CPU's fields in /proc/cpuinfo ("model name", "vendor_id", "flags", ...); empty where it cannot be
    read (not Linux). Read once per process."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip():
                break   # the first processor's block ends at the first blank line
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_model() -> str:
    return cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_id(info: dict[str, str] | None = None) -> str | None:
    """Vendor, family and model of the CPU ("AuthenticAMD family 25 model 17"), which tell apart the CPUs that a VM
    names alike ("AMD EPYC" covers Zen 2 to Zen 5); None where /proc/cpuinfo does not say. `info`: cpuinfo()'s
    fields (default: this machine's)."""
    info = cpuinfo() if info is None else info
    fields = [info.get(k) for k in ("vendor_id", "cpu family", "model")]
    return None if None in fields else f"{fields[0]} family {fields[1]} model {fields[2]}"


@functools.lru_cache(maxsize=1)
def code_version() -> dict[str, Any]:
    """nnstudy's version and, when it runs from a git checkout, the commit and whether the tree is dirty."""
    from .. import __version__
    info: dict[str, Any] = {"nnstudy": __version__}
    src = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5)
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
            dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=5)
            info["git_dirty"] = bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def environment(device: torch.device | None = None) -> dict[str, Any]:
    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        **code_version(),
        "cpu": cpu_model(),
        "cpu_id": cpu_id(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device) if device is not None else None,
    }
    if device is not None and device.type == "cuda":
        idx = device.index if device.index is not None else torch.cuda.current_device()
        env["gpu"] = torch.cuda.get_device_name(idx)
        env["cuda"] = torch.version.cuda
    return env
