"""The user's own code, by name: import paths (``package.module:callable``), modules to import first
(``imports: [mypkg.models]``, ``--import``), and entry points that installed packages declare
(``nnstudy.models``, ``nnstudy.datasets``, ``nnstudy.tasks``).

Importing a module runs its code, exactly as Hydra's ``_target_`` or ``torch.hub`` do: name only modules you trust.
A study lists the modules it will import before it starts. Every failure is one line naming the module (and, for an
entry point, the distribution that declares it).
"""
from __future__ import annotations

import importlib
import importlib.metadata as metadata
import re
import sys
from typing import Any, Callable

from .errors import RegistryError, clip

__all__ = ["is_import_path", "import_object", "import_path_of", "import_modules", "entry_point_builders",
           "source_of"]

_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def is_import_path(name: str) -> bool:
    """`pkg.module:callable` (or `module:Class.attr`)."""
    return bool(_IMPORT_PATH.match(name))


def _import_module(module: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        raise RegistryError(f"{what}: module {module!r} cannot be imported (no module named {e.name!r}; is its "
                            f"package installed, or its folder on PYTHONPATH?)") from None
    except Exception as e:   # its own code failed: the user's error, said in one line
        raise RegistryError(f"{what}: importing module {module!r} failed ({type(e).__name__}: "
                            f"{clip(str(e), 200)})") from None


def import_object(path: str, kind: str) -> Callable[..., Any]:
    """The callable at `module:qualname`; RegistryError (one line) when the module or attribute is missing or the
    object is not callable."""
    what = f"{kind} {clip(path, quote=True)}"
    if not is_import_path(path):
        raise RegistryError(f"{what}: expected an import path 'package.module:callable'")
    module, _, qualname = path.partition(":")
    obj: Any = _import_module(module, what)
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise RegistryError(f"{what}: module {module!r} has no attribute {qualname!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise RegistryError(f"{what}: {qualname!r} is a {type(obj).__name__}, not a class or function")
    return obj


def import_path_of(obj: Any) -> str | None:
    """`module:qualname` of a class or function when importing that path gives `obj` back (not for what lives in
    __main__, a notebook or a function's locals); None otherwise."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return None
    path = f"{module}:{qualname}"
    if not is_import_path(path):
        return None
    try:
        return path if import_object(path, "object") is obj else None
    except RegistryError:
        return None


def import_modules(modules: list[str] | tuple[str, ...]) -> None:
    """Import each module (so that its `@register_*` decorators run); RegistryError naming the one that fails."""
    for module in modules:
        if not isinstance(module, str) or not re.fullmatch(r"[A-Za-z_][\w.]*", module):
            raise RegistryError(f"imports: {clip(module, quote=True)} is not a module name (e.g. mypkg.models)")
        if module not in sys.modules:
            _import_module(module, "imports")


def entry_point_builders(group: str) -> dict[str, metadata.EntryPoint]:
    """The entry points of `group` (e.g. nnstudy.models) that installed distributions declare, by name."""
    return {ep.name: ep for ep in metadata.entry_points(group=group)}


def load_entry_point(ep: metadata.EntryPoint, kind: str) -> Callable[..., Any]:
    dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "an installed package"
    try:
        obj = ep.load()
    except Exception as e:
        raise RegistryError(f"{kind} {ep.name!r}: the entry point {ep.value!r} of {dist} fails to load "
                            f"({type(e).__name__}: {clip(str(e), 200)})") from None
    if not callable(obj):
        raise RegistryError(f"{kind} {ep.name!r}: the entry point {ep.value!r} of {dist} is not callable")
    return obj


def source_of(obj: Callable[..., Any], how: str) -> dict[str, Any]:
    """Where a builder comes from, for the run directory: how it was named, its module, and the distribution
    (package and version) that installed that module, when one did."""
    module = getattr(obj, "__module__", None) or ""
    out: dict[str, Any] = {"how": how, "module": module,
                           "object": f"{module}:{getattr(obj, '__qualname__', getattr(obj, '__name__', '?'))}"}
    top = module.split(".")[0]
    dists = metadata.packages_distributions().get(top) if top else None
    if dists:
        out["package"] = dists[0]
        try:
            out["version"] = metadata.version(dists[0])
        except metadata.PackageNotFoundError:
            pass
    return out
