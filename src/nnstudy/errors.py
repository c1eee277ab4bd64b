"""User-facing errors: the CLI prints these as one line and exits non-zero, never with a traceback.

Anything else that escapes is a bug in nnstudy and keeps its traceback.
"""
from __future__ import annotations

__all__ = ["NnstudyError", "ConfigError", "RegistryError", "DataError", "CheckpointError", "RunDirError"]


class NnstudyError(Exception):
    """Base of every error caused by the user's input (a file, a field, a value)."""

    exit_code = 2


class ConfigError(NnstudyError):
    """A config file, key or value is wrong."""


class RegistryError(NnstudyError, KeyError):
    """A name (model, dataset, task...) is not registered, or registered twice."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(NnstudyError):
    """A dataset is missing, incomplete, corrupt or fails its checksum."""


class CheckpointError(NnstudyError):
    """Weights or a checkpoint do not fit the model they are loaded into."""


class RunDirError(NnstudyError):
    """A run directory is missing, unfinished, or would be overwritten."""
