"""Peak memory: resident set size of this process and, on CUDA, peak allocated GPU memory."""
from __future__ import annotations

import resource
import sys

import torch

__all__ = ["peak_memory_mb", "reset_peak_memory"]


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device | None = None) -> dict[str, float]:
    """{'peak_rss_mb': ...} for the process lifetime (the OS keeps no resettable peak), plus 'peak_gpu_mb'."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_mb = rss / 2**20 if sys.platform == "darwin" else rss / 2**10   # bytes on macOS, KiB on Linux
    out = {"peak_rss_mb": round(rss_mb, 1)}
    if device is not None and device.type == "cuda":
        out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return out
