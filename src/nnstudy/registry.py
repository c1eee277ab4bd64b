"""One small generic registry: register builders by name, look them up with a "did you mean" error.

Besides the names registered here (nnstudy's zoo, and whatever a user's module registers with the decorator), a
registry finds the user's own builders by import path (``mypkg.models:TinyNet``) and by the entry points that
installed packages declare in the group ``nnstudy.<kind>s`` (:mod:`nnstudy.plugins`); a registered name wins.
"""
from __future__ import annotations

import fnmatch
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

from .arguments import bind_arguments, defaults
from .errors import RegistryError, clip, closest

__all__ = ["Registry", "Entry", "closest"]

T = TypeVar("T", bound=Callable[..., Any])


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered builder with its name and one-line description."""

    name: str
    builder: T
    description: str
    tags: tuple[str, ...] = field(default=())
    how: str = "registered"     # registered, import path, entry point GROUP, or python object
    origin: Any = None          # for a python object: the object the user gave (a class, function or dataset)

    @property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.builder)

    def bind(self, given: dict[str, Any], section: str) -> dict[str, Any]:
        """`given` keyword arguments checked against the builder's signature and coerced to its annotations (a
        new dict); one-line ConfigError naming '<section>.<key>' otherwise."""
        return bind_arguments(self.builder, given, section, self.name)

    def defaults(self) -> dict[str, Any]:
        """The builder's keyword defaults."""
        return defaults(self.builder)

    def source(self) -> dict[str, Any]:
        """Where the builder comes from (for the run directory): nnstudy's zoo, or its module, package, version."""
        if self.how == "registered" and getattr(self.builder, "__module__", "").startswith("nnstudy."):
            return {"how": "nnstudy"}
        from .plugins import source_of
        if self.how == "python object":   # gone with the session that gave it: a later eval must give it again
            note = {"note": "given as a Python object in the session that ran it"}
            if callable(self.origin):
                return {**source_of(self.origin, self.how), **note}
            return {"how": self.how, "object": f"{type(self.origin).__name__} {self.name!r}",   # e.g. a Dataset
                    "source": str(getattr(self.origin, "source", "") or ""), **note}
        return source_of(self.builder, self.how)


def _first_line(fn: Any) -> str:
    doc = (inspect.getdoc(fn) or "").strip().splitlines()
    return doc[0] if doc else ""


class Registry(Generic[T]):
    """Builders of one kind of thing (models, datasets, ...) by unique name.

    >>> MODELS = Registry("model")
    >>> @MODELS.register()
    ... def mlp2(): "A 2-layer MLP."
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.group = f"nnstudy.{kind}s"              # the entry-point group installed packages declare
        self._entries: dict[str, Entry[T]] = {}
        self._external: dict[str, Entry[T]] = {}    # import paths and entry points, once resolved

    def register(self, name: str | None = None, *, description: str | None = None,
                 tags: tuple[str, ...] = ()) -> Callable[[T], T]:
        """Decorator registering a builder under `name` (default: the function's name)."""

        def deco(fn: T) -> T:
            key = name or fn.__name__
            if key in self._entries:
                raise RegistryError(f"{self.kind} {key!r} is registered twice "
                                    f"({self._entries[key].builder.__module__} and {fn.__module__})")
            self._entries[key] = Entry(key, fn, description or _first_line(fn), tuple(tags))
            return fn

        return deco

    def get(self, name: str) -> Entry[T]:
        """The entry called `name`: registered, an import path, or an installed entry point (in that order)."""
        entry = self._entries.get(name) or self._external.get(name)
        if entry is not None:
            return entry
        from . import plugins
        if isinstance(name, str) and plugins.is_import_path(name):
            fn = plugins.import_object(name, self.kind)
            entry = Entry(name, fn, _first_line(fn), how="import path")
        else:
            points = plugins.entry_point_builders(self.group)
            if name not in points:
                hint = closest(str(name), [*self._entries, *points])
                tip = f"; did you mean {hint!r}?" if hint else f"; see `nnstudy {self.kind}s`"
                raise RegistryError(f"unknown {self.kind} {clip(name, quote=True)}{tip} (or give an import "
                                    f"path, e.g. mypkg.{self.kind}s:MyBuilder)")
            fn = plugins.load_entry_point(points[name], self.kind)
            entry = Entry(name, fn, _first_line(fn), how=f"entry point {self.group}")
        self._external[name] = entry
        return entry

    def name_of(self, obj: Any, builder: Callable[..., Any] | None = None) -> str:
        """The name a config carries for `obj`, a builder given as a Python object rather than by name: its import
        path when importing that gives the same object back (then worker processes and a later ``nnstudy eval``
        find it too), else a name registered for this Python session (the object's own name, made unique).
        `builder` builds from `obj` when `obj` is not itself the builder (a dataset already built)."""
        from .plugins import import_path_of
        if builder is None and (path := import_path_of(obj)):
            return path
        for entry in self._entries.values():
            if entry.how == "python object" and entry.origin is obj:
                return entry.name
        base = str(getattr(obj, "__name__", None) or getattr(obj, "name", None) or type(obj).__name__)
        base = base.replace("<locals>.", "").replace("<", "").replace(">", "") or self.kind
        name, n = base, 1
        while name in self._entries or name in self._external:
            n += 1
            name = f"{base}-{n}"
        fn = builder or obj
        self._entries[name] = Entry(name, fn, _first_line(obj), how="python object", origin=obj)
        return name

    def names(self, pattern: str | None = None) -> list[str]:
        """Sorted names (registered, and the entry points installed packages declare), optionally filtered by a
        glob pattern (`resnet*`) or a substring."""
        from .plugins import entry_point_builders
        names = sorted({*self._entries, *entry_point_builders(self.group)})
        if not pattern:
            return names
        if any(c in pattern for c in "*?["):
            return [n for n in names if fnmatch.fnmatch(n, pattern)]
        return [n for n in names if pattern in n]

    def __contains__(self, name: object) -> bool:
        if name in self._entries or name in self._external:
            return True
        try:
            self.get(str(name))   # an import path or entry point: resolving it is the only way to know
            return True
        except RegistryError:
            return False

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[n] for n in sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)
