"""Peak memory: resident set size of this process and, on CUDA, peak allocated GPU memory.

The process peak comes from getrusage on Linux and macOS (the Unix-only `resource` module, imported when
measured, so that nnstudy imports on Windows too) and from psutil's peak working set on Windows when psutil is
installed; without either it is None (not measured).
"""
from __future__ import annotations

import sys

import torch

__all__ = ["peak_memory_mb", "reset_peak_memory"]


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device | None = None) -> dict[str, float | None]:
    """{'peak_rss_mb': ...} for the process lifetime (the OS keeps no resettable peak; None where it cannot be
    measured), plus 'peak_gpu_mb' on CUDA."""
    rss_mb = _peak_rss_mb()
    out: dict[str, float | None] = {"peak_rss_mb": None if rss_mb is None else round(rss_mb, 1)}
    if device is not None and device.type == "cuda":
        out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return out


def _peak_rss_mb() -> float | None:
    """Peak resident set size of this process in MiB, or None where neither getrusage nor psutil gives it."""
    try:
        import resource  # Unix only
    except ImportError:
        resource = None
    if resource is not None:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss / 2**20 if sys.platform == "darwin" else rss / 2**10   # bytes on macOS, KiB on Linux
    try:
        import psutil  # optional; on Windows memory_info() has the peak working set
    except ImportError:
        return None
    try:
        peak = getattr(psutil.Process().memory_info(), "peak_wset", None)
    except Exception:              # psutil.Error (e.g. access denied): a missing figure, not a failed run
        return None
    return None if peak is None else peak / 2**20
