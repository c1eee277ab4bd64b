"""Measurement: parameters, time, memory and the environment a run ran in."""
from .environment import environment
from .memory import peak_memory_mb, reset_peak_memory

__all__ = ["environment", "peak_memory_mb", "reset_peak_memory"]
