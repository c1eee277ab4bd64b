"""A builder's keyword arguments, checked against its signature: names (with "did you mean"), and values against the
type annotations, strictly where lax coercion would change a run silently (`true` is no 1, `"3"` no 3).

Used by :meth:`nnstudy.registry.Entry.bind`, so that a zoo builder, an import path and an entry point are checked
alike, once, when a config is resolved (:func:`nnstudy.resolution.resolve`).
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Callable

from pydantic import TypeAdapter, ValidationError

from .errors import ConfigError, clip, closest, expected_text

__all__ = ["parameters", "bind_arguments", "defaults"]


def parameters(fn: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The arguments a config can set: `fn`'s keyword-capable parameters, in signature order."""
    try:
        sig = inspect.signature(fn, eval_str=True)
    except (TypeError, ValueError, NameError) as e:   # a C callable, or an annotation naming a missing type
        raise ConfigError(f"{getattr(fn, '__qualname__', fn)!s}: its signature cannot be read ({clip(str(e))})") \
            from None
    return {n: p for n, p in sig.parameters.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def defaults(fn: Callable[..., Any]) -> dict[str, Any]:
    """`fn`'s keyword defaults (what a resolved config records for the arguments it leaves unset)."""
    return {n: p.default for n, p in parameters(fn).items() if p.default is not inspect.Parameter.empty}


def bind_arguments(fn: Callable[..., Any], given: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    """`given` checked against `fn`'s signature and coerced to its annotated types (a new dict, in `given`'s
    order). One-line ConfigError for an unknown key (with the closest valid one) or a value of the wrong type."""
    params = parameters(fn)
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key not in params:
            hint = closest(key, list(params))
            tip = f"; did you mean '{section}.{hint}'?" if hint else ""
            valid = ", ".join(params) or "none"
            raise ConfigError(f"unknown key '{section}.{key}' for {section} {clip(name, quote=True)}{tip} "
                              f"(valid: {valid})")
        ann = params[key].annotation
        if ann is inspect.Parameter.empty:
            out[key] = value
            continue
        try:
            out[key] = TypeAdapter(ann).validate_python(value)
            _same_kinds(value, out[key])
        except ValidationError as exc:
            raise ConfigError(f"{section}.{key}={clip(value, quote=True)}: expected {_type_name(ann)}"
                              f" ({expected_text(exc.errors()[0])})") from None
        except TypeError as e:
            raise ConfigError(f"{section}.{key}={clip(value, quote=True)}: expected {_type_name(ann)} ({e})") from None
    return out


def _same_kinds(given: Any, coerced: Any) -> None:
    """TypeError where lax validation changed a value's kind: true became 1, 1 became true, "3" became 3.

    A builder's annotation may be any type (tuples from YAML lists, unions), so validation stays lax; this check
    keeps it from turning booleans into numbers and back.
    """
    if isinstance(given, (list, tuple)) and isinstance(coerced, (list, tuple)):
        for g, c in zip(given, coerced):
            _same_kinds(g, c)
    elif isinstance(given, bool) != isinstance(coerced, bool):
        raise TypeError("true or false" if isinstance(coerced, bool) else "a number, not true/false")
    elif isinstance(given, str) and isinstance(coerced, (int, float)) and not isinstance(coerced, bool):
        raise TypeError("a number, not a quoted string")
    elif isinstance(coerced, float) and not math.isfinite(coerced):
        raise TypeError("a finite number")


def _type_name(ann: Any) -> str:
    return getattr(ann, "__name__", None) or str(ann).replace("typing.", "")
