"""Normalising the mortality tensors: statistics fitted on the training stays only (or read from a run, to score
another set with them), and the model inputs built with them."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..errors import DataError
from .files import check_text
from .files import one_line as _one_line
from .mortality_schema import _STATIC, _V, FEATURES, HOURS, ICU_TYPES, SINCE_CAP_HOURS, VARIABLES

__all__ = ["fit_stats", "load_stats", "model_inputs", "static_inputs"]

if TYPE_CHECKING:
    from .mortality import MortalityTable

def _moments(x: np.ndarray) -> dict[str, float]:
    """mean, std (ddof 0) and median of the finite values of `x`; std 1 when it would be 0 or undefined, so a
    constant channel (MechVent is always 1) is centred but not divided by zero."""
    x = x[np.isfinite(x)].astype(np.float64)
    if not len(x):
        return {"mean": 0.0, "std": 1.0, "median": 0.0, "n": 0}
    std = float(x.std())
    return {"mean": float(x.mean()), "std": std if std > 0 else 1.0, "median": float(np.median(x)), "n": len(x)}


def fit_stats(table: MortalityTable, index: np.ndarray, fit_on: str) -> dict[str, Any]:
    """Normalisation statistics of the stays at `index` (the training stays): per variable, mean / std / median
    of its observed bin values; for Age, Height and admission Weight, of the known values. JSON-ready."""
    obs, last = table.observed[index], table.last[index]
    per_var = [_moments(last[:, :, v][obs[:, :, v]]) for v in range(_V)]
    static = {name.lower(): _moments(table.static[index, _STATIC.index(name)]) for name in ("Age", "Height", "Weight")}
    return {"fit_on": fit_on, "stays": len(index), "variables": list(VARIABLES),
            "mean": [s["mean"] for s in per_var], "std": [s["std"] for s in per_var],
            "median": [s["median"] for s in per_var], "observations": [s["n"] for s in per_var],
            "static": static, "hours_since_cap": SINCE_CAP_HOURS,
            "how": "value channels: (bin mean − mean) / std, before the first observation (median − mean) / std; "
                   "mean, std (ddof 0, 1 when 0) and median of the observed hourly bins of the training stays"}


def load_stats(path: str | Path) -> dict[str, Any]:
    """Normalisation statistics from a run directory (its summary.json), a summary.json, or a JSON file holding
    the ``normalization`` dict of a mortality dataset's ``info.extra``."""
    p = Path(path).expanduser().absolute()
    f = p / "summary.json" if p.is_dir() else p
    try:
        raw = f.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{f}: no such file (data.stats names a run directory, its summary.json, or a statistics "
                        f"JSON)") from None
    except OSError as e:
        raise DataError(f"{f}: cannot be read ({e.strerror or e})") from None
    try:
        doc = json.loads(check_text(raw, str(f)).decode("utf-8-sig"))   # empty, UTF-16, binary: said as such
    except ValueError as e:
        raise DataError(f"{f}: not a readable JSON file ({_one_line(e)})") from None
    for key in (("data", "info", "normalization"), ("normalization",), ()):
        found: Any = doc
        for k in key:
            found = found.get(k) if isinstance(found, dict) else None
        if isinstance(found, dict) and "variables" in found:
            break
    else:
        raise DataError(f"{f}: holds no mortality normalisation statistics (data.info.normalization of a run's "
                        f"summary.json)")
    if list(found.get("variables", [])) != list(VARIABLES) or any(
            len(found.get(k, [])) != _V for k in ("mean", "std", "median")):
        raise DataError(f"{f}: its normalisation statistics are for other variables than the challenge's 37")
    if not all(k in found.get("static", {}) for k in ("age", "height", "weight")):
        raise DataError(f"{f}: its normalisation statistics lack static age/height/weight")
    return found


def model_inputs(table: MortalityTable, index: np.ndarray, stats: dict[str, Any]) -> torch.Tensor:
    """float32 (n, 48, F) inputs of the stays at `index`, scaled with `stats`; zeros after each stay's end."""
    n = len(index)
    x = np.zeros((n, HOURS, len(FEATURES)), dtype=np.float32)
    present = np.arange(HOURS)[None, :] < table.lengths[index][:, None]
    mean, std = np.asarray(stats["mean"]), np.asarray(stats["std"])
    fill = (np.asarray(stats["median"]) - mean) / std
    z = (table.last[index] - mean) / std
    x[:, :, 1:1 + _V] = np.where(np.isnan(z), fill, z)
    x[:, :, 1 + _V:1 + 2 * _V] = table.observed[index]
    x[:, :, 1 + 2 * _V:1 + 3 * _V] = table.since[index] / np.float32(SINCE_CAP_HOURS)
    x[:, :, 1 + 3 * _V:] = static_inputs(table.static[index], stats["static"])[:, None, :]
    x *= present[:, :, None]          # padding: every channel 0, step_present included
    x[:, :, 0] = present
    return torch.from_numpy(x)


def static_inputs(raw: np.ndarray, stats: dict[str, Any]) -> np.ndarray:
    """(n, 11) static channels: z-scored age, height and weight (unknown → the training median, with a flag for
    height and weight), gender and ICU type one-hot (all 0 when unknown)."""
    age, gender, height, icu, weight = raw.T

    def z(col: np.ndarray, s: dict[str, float]) -> np.ndarray:
        return (np.where(np.isnan(col), s["median"], col) - s["mean"]) / s["std"]

    out = [z(age, stats["age"]), gender == 0, gender == 1, z(height, stats["height"]), np.isnan(height),
           z(weight, stats["weight"]), np.isnan(weight), *(icu == t for t in ICU_TYPES)]
    return np.stack(out, axis=1).astype(np.float32)
