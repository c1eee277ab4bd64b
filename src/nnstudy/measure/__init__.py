"""Measurement: parameters, MACs/FLOPs, time, memory and the environment a run ran in."""
from .environment import environment
from .flops import CONVENTION_TEXT, CONVENTIONS, LayerRow, ModelSummary, forward_cost, summarize
from .memory import peak_memory_mb, reset_peak_memory

__all__ = ["CONVENTION_TEXT", "CONVENTIONS", "LayerRow", "ModelSummary", "environment", "forward_cost",
           "peak_memory_mb", "reset_peak_memory", "summarize"]
