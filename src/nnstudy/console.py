"""The terminal: rich consoles for results (stdout) and messages (stderr), created on first use."""
from __future__ import annotations

import functools
import os

from rich.console import Console

__all__ = ["out", "err"]


@functools.lru_cache(maxsize=None)
def _console(stderr: bool = False) -> Console:
    """Created on first use (no terminal queries at import). Piped output gets 160 columns, not rich's 80, so
    wide tables keep their numbers whole."""
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, highlight=False, soft_wrap=True, width=160)
    return console


def out() -> Console:
    return _console(False)


def err() -> Console:
    return _console(True)
