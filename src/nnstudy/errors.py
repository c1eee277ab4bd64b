"""User-facing errors: the CLI prints these as one line and exits non-zero, never with a traceback.

Anything else that escapes is a bug in nnstudy and keeps its traceback.
"""
from __future__ import annotations

import difflib
import reprlib

__all__ = ["clip", "closest", "expected_text", "MESSAGE_LIMIT",
           "NnstudyError", "ConfigError", "RegistryError", "DataError", "CheckpointError",
           "RunDirError",
           "BusyError", "DiskFullError", "EXIT_BAD_INPUT", "EXIT_RUNS_FAILED", "EXIT_TRY_AGAIN"]

# Exit codes of the `nnstudy` command (docs/reliability.md). 1 is left to Python: an uncaught exception is a bug.
EXIT_BAD_INPUT = 2      # the input is wrong or refused (one line names the file, field or value)
EXIT_RUNS_FAILED = 3    # a study ran to its end but some of its runs failed (each one's error is in its summary)
EXIT_TRY_AGAIN = 75     # nothing wrong with the input; try again later (sysexits' EX_TEMPFAIL): disk full, in use


# Characters of a user's value quoted in a message, and of a whole message: a 5 MB line or a YAML alias bomb in a
# config must not become megabytes of error text.
VALUE_LIMIT = 80
MESSAGE_LIMIT = 500
_SHORT_REPR = reprlib.Repr()   # (keyword arguments need Python 3.12)
_SHORT_REPR.maxlevel, _SHORT_REPR.maxlist, _SHORT_REPR.maxtuple, _SHORT_REPR.maxdict = 3, 8, 8, 6
_SHORT_REPR.maxstring, _SHORT_REPR.maxother, _SHORT_REPR.maxlong = VALUE_LIMIT, VALUE_LIMIT, 40


def clip(value: object, limit: int = VALUE_LIMIT, quote: bool = False) -> str:
    """`value` (a string as is, or quoted with `quote`; anything else as its repr) on one line, cut to `limit`
    characters with '…'."""
    # reprlib bounds the work too: the repr of a YAML alias bomb (lists of lists of the same list) is exponential
    text = value if isinstance(value, str) and not quote else _SHORT_REPR.repr(value)
    text = " ".join(text.split()) if len(text) < 10 * limit else " ".join(text[:10 * limit].split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def closest(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """The closest of `choices` to `word` (for "did you mean"), or None when nothing is reasonably close."""
    hits = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return hits[0] if hits else None


def expected_text(err: dict) -> str:
    """What a pydantic validation error (one item of ``ValidationError.errors()``) expected, in words."""
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "literal_error":
        return f"one of {ctx.get('expected')}"
    bounds = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
    if kind.startswith(("greater", "less")):
        return "a value " + " and ".join(f"{sym} {ctx[k]}" for k, sym in bounds.items() if k in ctx)
    names = {"float_parsing": "a number", "float_type": "a number", "int_parsing": "an integer",
             "int_type": "an integer", "int_from_float": "an integer", "bool_parsing": "true or false",
             "bool_type": "true or false", "string_type": "a string", "dict_type": "a mapping",
             "tuple_type": "a list", "missing": "a value", "too_short": "more items",
             "too_long": "fewer items", "finite_number": "a finite number",
             "model_type": "a mapping", "list_type": "a list"}
    return names.get(kind, str(err.get("msg", "")).lower())


class NnstudyError(Exception):
    """Base of every error caused by the user's input (a file, a field, a value)."""

    exit_code = EXIT_BAD_INPUT


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


class BusyError(NnstudyError):
    """A run or study directory is in use by another process (its lock is held)."""

    exit_code = EXIT_TRY_AGAIN


class DiskFullError(NnstudyError):
    """No space left on a device: the run stays resumable; free space and continue with --resume."""

    exit_code = EXIT_TRY_AGAIN
