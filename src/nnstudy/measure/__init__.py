"""Measurement: parameters, MACs/FLOPs, time, memory and the environment a run ran in."""
from .environment import environment
from .flops import CONVENTION_TEXT, CONVENTIONS, LayerRow, ModelSummary, summarize
from .memory import peak_memory_mb, reset_peak_memory

__all__ = ["CONVENTION_TEXT", "CONVENTIONS", "LayerRow", "ModelSummary", "environment", "peak_memory_mb",
           "reset_peak_memory", "summarize"]
