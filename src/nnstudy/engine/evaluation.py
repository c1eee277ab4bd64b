"""Evaluate a finished run again, or a published checkpoint, on a dataset's test split."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import RunConfig, load_config
from ..errors import RunDirError
from ..runs import RunDir
from .build import build_data, build_parts
from .checkpoint import load_weights
from .device import pick_device, seed_everything, set_threads
from .loop import evaluate

__all__ = ["evaluate_run", "evaluate_weights"]


def _test_metrics(cfg: RunConfig, weights: Path, split: str = "test") -> dict[str, Any]:
    set_threads(cfg.train.threads)
    device = pick_device(cfg.train.device)
    seed_everything(cfg.train.seed)
    parts = build_parts(cfg, build_data(cfg))
    model = parts.model
    load_weights(model, weights)
    model.to(device)
    target = getattr(parts.data, split)
    if target is None:
        raise RunDirError(f"dataset {cfg.data.name!r} has no {split} split")
    metrics, _ = evaluate(model, target, parts.task, parts.data, batch_size=cfg.train.eval_batch_size,
                          device=device, precision=cfg.train.precision, channels_last=cfg.train.channels_last)
    return {f"{split}_{k}": v for k, v in metrics.items()}


def evaluate_run(run_dir: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Re-evaluate a finished run's selected weights on its test split (optionally with data overrides).

    Returns {'metrics': ..., 'recorded': the summary's test metrics}.
    """
    run = RunDir(run_dir)
    if not run.exists():
        raise RunDirError(f"{run.path}: not a run directory (no config.yaml)")
    if not run.weights_path.is_file():
        raise RunDirError(f"{run.path}: has no model.safetensors yet (the run has not finished an epoch)")
    cfg = run.read_config()
    if overrides:
        from ..config import apply_overrides, config_to_dict
        raw = apply_overrides(config_to_dict(cfg), overrides)
        cfg = load_config(raw)
    metrics = _test_metrics(cfg, run.weights_path)
    summary = run.summary() or {}
    recorded = {k: v for k, v in (summary.get("metrics") or {}).items() if k.startswith("test_")}
    return {"metrics": metrics, "recorded": recorded}


def evaluate_weights(model: str, weights: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """Evaluate a published checkpoint for a zoo model (e.g. resnet18 + resnet18.pt) on the test split."""
    cfg = load_config(model, list(overrides))
    return {"metrics": _test_metrics(cfg, Path(weights))}
