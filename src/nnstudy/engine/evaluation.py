"""Evaluate a finished run again, or a published checkpoint, on a dataset's test split."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from ..config import RunConfig, apply_overrides, config_to_dict
from ..errors import ConfigError, RunDirError
from ..resolution import load_config, resolve
from ..runs import RunDir, named, prepare_run_dir
from .build import build_parts
from .checkpoint import load_weights, save_weights
from .device import pick_device, seed_everything, set_threads, use_channels_last
from .loop import RunResult, evaluate, finished_summary, save_predictions

__all__ = ["evaluate_run", "evaluate_weights", "weights_run"]


def _evaluate_with(cfg: RunConfig, weights: Path, keep_predictions: bool = False):
    """(test metrics, predictions or None, parts, device, seconds) of `weights` loaded into cfg's model."""
    cfg = resolve(cfg)
    set_threads(cfg.train.threads)
    device = pick_device(cfg.train.device)
    seed_everything(cfg.train.seed)
    parts = build_parts(cfg)
    load_weights(parts.model, weights)
    parts.model.to(device)
    channels_last = use_channels_last(cfg.train.channels_last, parts.model)
    if channels_last:
        parts.model.to(memory_format=torch.channels_last)
    t0 = time.perf_counter()
    metrics, preds = evaluate(parts.model, parts.data.test, parts.task, parts.data,
                              batch_size=cfg.train.eval_batch_size, device=device, precision=cfg.train.precision,
                              channels_last=channels_last, keep_predictions=keep_predictions, tta=cfg.train.tta)
    return {f"test_{k}": v for k, v in metrics.items()}, preds, parts, device, time.perf_counter() - t0


def weights_run(cfg: RunConfig, weights: str | Path) -> RunResult:
    """A run directory for published weights evaluated instead of trained (a study's `weights:` variants):
    config.yaml, model.safetensors, predictions and a summary with test metrics only (no epochs)."""
    weights = Path(weights)
    metrics, preds, parts, device, seconds = _evaluate_with(cfg, weights, keep_predictions=True)
    cfg = named(parts.config)
    run, _ = prepare_run_dir(cfg, resume=True)
    try:
        run.write_config(cfg)
        save_weights(parts.model, run.weights_path)
        save_predictions(run, preds, parts.data.test)
        summary = finished_summary(
            cfg, parts.model, parts.data, device, metrics=metrics, selected_epoch=None,
            selected_by=f"published weights {weights.name} (evaluated, not trained)", attempts=1,
            timing={"train_seconds": 0.0, "eval_seconds": round(seconds, 3), "test_seconds": round(seconds, 3),
                    "train_samples_per_second": None}, weights=str(weights),
            task_fitted=parts.task.fitted())
        run.write_summary(summary)
    finally:
        run.unlock()
    return RunResult(run.path, summary)


def _scoring_overrides(cfg: RunConfig, run: RunDir, data: str | None, on: str | Path | None) -> list[str]:
    """Overrides that point a run's config at another dataset (`data`) and/or another copy of it (`on`): a
    dataset whose builder takes `stats` (e.g. mortality) scores every sample of that copy, normalised with the
    statistics the run fitted on its own training split."""
    from ..data import DATASETS
    name = data or cfg.data.name
    if name not in DATASETS:
        raise ConfigError(f"eval --data: unknown dataset {name!r}; see `nnstudy data list`")
    out = [f"data.name={name}"] if data else []
    if on is not None:
        params = DATASETS.get(name).signature.parameters
        if "path" not in params:
            raise ConfigError(f"eval --on: dataset {name!r} reads no data.path; name one that does with --data "
                              f"(e.g. --data {name.removesuffix('-sample')})")
        out.append(f"data.path={Path(on).expanduser().resolve()}")
        if "stats" in params:
            out += [f"data.stats={run.path.resolve()}", "data.test_fraction=1"]
    return out


def evaluate_run(run_dir: str | Path, overrides: list[str] | tuple[str, ...] = (), *, data: str | None = None,
                 on: str | Path | None = None) -> dict[str, Any]:
    """Re-evaluate a finished run's selected weights on its test split (optionally with data overrides), or on
    another dataset (`data`) / another copy of the data (`on`, e.g. PhysioNet set-b).

    Returns {'metrics': ..., 'recorded': the summary's test metrics, 'data': what was scored}.
    """
    run = RunDir(run_dir)
    if not run.exists():
        raise RunDirError(f"{run.path}: not a run directory (no config.yaml)")
    if not run.weights_path.is_file():
        raise RunDirError(f"{run.path}: has no model.safetensors yet (the run has not finished an epoch)")
    cfg = resolve(run.read_config())   # imports the run's own modules (its model may be the user's)
    summary = run.summary() or {}
    # `data.path=DIR` among the overrides means what --on means: score all of DIR with the run's statistics
    paths = [o for o in overrides if o.startswith("data.path=")]
    if paths and on is None:
        on, overrides = paths[-1].partition("=")[2], [o for o in overrides if o not in paths]
    raw = apply_overrides(config_to_dict(cfg), [*_scoring_overrides(cfg, run, data, on), *overrides])
    # what the task fitted on the run's training split (e.g. balanced class weights) is reused, not refitted on
    # whatever is being scored
    raw["task"].update(summary.get("task_fitted") or {})
    cfg = load_config(raw)
    metrics, _, parts, _, _ = _evaluate_with(cfg, run.weights_path)
    recorded = {k: v for k, v in (summary.get("metrics") or {}).items() if k.startswith("test_")}
    return {"metrics": metrics, "recorded": recorded if not (data or on) else {},
            "data": {"name": cfg.data.name, "test": len(parts.data.test), "source": parts.data.source}}


def evaluate_weights(model: str, weights: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """Evaluate a published checkpoint for a zoo model (e.g. resnet18 + resnet18.pt) on the test split."""
    cfg = load_config(model, list(overrides))
    return {"metrics": _evaluate_with(cfg, Path(weights))[0]}
