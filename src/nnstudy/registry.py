"""One small generic registry: register builders by name, look them up with a "did you mean" error."""
from __future__ import annotations

import difflib
import fnmatch
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

from .errors import RegistryError

__all__ = ["Registry", "Entry", "closest"]

T = TypeVar("T", bound=Callable[..., Any])


def closest(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """The closest of `choices` to `word`, or None when nothing is reasonably close."""
    hits = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return hits[0] if hits else None


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered builder with its name and one-line description."""

    name: str
    builder: T
    description: str
    tags: tuple[str, ...] = field(default=())

    @property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.builder)


class Registry(Generic[T]):
    """Builders of one kind of thing (models, datasets, ...) by unique name.

    >>> MODELS = Registry("model")
    >>> @MODELS.register()
    ... def mlp2(): "A 2-layer MLP."
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str | None = None, *, description: str | None = None,
                 tags: tuple[str, ...] = ()) -> Callable[[T], T]:
        """Decorator registering a builder under `name` (default: the function's name)."""

        def deco(fn: T) -> T:
            key = name or fn.__name__
            if key in self._entries:
                raise RegistryError(f"{self.kind} {key!r} is registered twice "
                                    f"({self._entries[key].builder.__module__} and {fn.__module__})")
            doc = description or (inspect.getdoc(fn) or "").strip().splitlines()
            text = doc if isinstance(doc, str) else (doc[0] if doc else "")
            self._entries[key] = Entry(key, fn, text, tuple(tags))
            return fn

        return deco

    def get(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            hint = closest(name, list(self._entries))
            tip = f"; did you mean {hint!r}?" if hint else f"; see `nnstudy {self.kind}s`"
            raise RegistryError(f"unknown {self.kind} {name!r}{tip}") from None

    def names(self, pattern: str | None = None) -> list[str]:
        """Sorted names, optionally filtered by a glob pattern (`resnet*`) or a substring."""
        names = sorted(self._entries)
        if not pattern:
            return names
        if any(c in pattern for c in "*?["):
            return [n for n in names if fnmatch.fnmatch(n, pattern)]
        return [n for n in names if pattern in n]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[n] for n in sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)
