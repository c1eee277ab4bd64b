"""Backends of the study executor (see study/executor.py): local.py, and ray.py (imported only when asked for)."""
