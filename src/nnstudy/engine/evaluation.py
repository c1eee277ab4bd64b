"""Evaluation: the pure `evaluate(model, split, ...)` the loop calls, the summary of a finished run, and
re-evaluating a finished run or a published checkpoint on a dataset's test split."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from safetensors.torch import save as safetensors_bytes
from torch import nn

from ..config import RunConfig, apply_overrides, config_to_dict
from ..data.base import Dataset, Split
from ..data.transforms import tta_views
from ..errors import ConfigError, NnstudyError, RunDirError
from ..io import write_bytes
from ..resolution import load_config, resolve
from ..runs import RunDir, named, prepare_run_dir
from ..tasks import Task
from .build import build_parts
from .checkpoint import load_weights, save_weights, weights_config
from .device import pick_device, seed_everything, set_threads, to_memory_format
from .distributed import SINGLE, Group
from .runtime import Runtime
from .summary import RunSummary, Timing

__all__ = ["evaluate", "WithTTA", "RunResult", "save_predictions", "batches", "plain",
           "evaluate_run", "evaluate_weights", "weights_run"]


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]


def batches(split: Split, batch_size: int, order: torch.Tensor | None, device: torch.device, start: int = 0,
            stop: int | None = None, step: int = 1
            ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    """(inputs, targets, groups or None) of batches k = start, start + step, ... < stop, in `order` (None: as
    stored)."""
    n = len(split)
    stop = math.ceil(n / batch_size) if stop is None else stop
    for k in range(start, stop, step):
        # index tensors, not slices: lazy inputs (windows over a series) are indexed the same way
        idx = (order if order is not None else torch.arange(n))[k * batch_size:(k + 1) * batch_size]
        x, y = split.inputs[idx], split.targets[idx]
        g = split.groups[idx].to(device, non_blocking=True) if split.groups is not None else None
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True), g


def plain(sums: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Summed counts as Python numbers (scalars) or lists (per-group vectors): for finalize and checkpoints."""
    return {k: v.item() if v.numel() == 1 else v.tolist() for k, v in sums.items()}


class WithTTA(nn.Module):
    """`model` whose output is the weighted sum of its outputs on test-time views of the input
    (``nnstudy.data.transforms.tta_views``: flips, shifts)."""

    def __init__(self, model: nn.Module, mode: str, channels_last: bool = False) -> None:
        super().__init__()
        self.model, self.mode, self.channels_last = model, mode, channels_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = None
        for weight, view in tta_views(x, self.mode):
            y = self.model(to_memory_format(view, self.channels_last)) * weight
            out = y if out is None else out + y
        return out


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, task: Task, data: Dataset, *, batch_size: int = 1000,
             runtime: Runtime | None = None, keep_predictions: bool = False, tta: str = "none", group: Group = SINGLE
             ) -> tuple[dict[str, float], dict[str, torch.Tensor] | None]:
    """Metrics of `model` on `split` (eval mode, no augmentation; `tta` averages over test-time views of
    images); optionally the per-sample predictions (the task's named tensors, e.g. {'pred', 'score'}).

    With a `group` of several processes (one run on several processes), rank r scores batches r, r + world, ...
    of the same batches, the Task's sums are added over the ranks and the predictions gathered in sample order:
    every rank returns the same metrics (and predictions)."""
    # default: fp32 on the model's device, as stored
    rt = runtime or Runtime(next(model.parameters()).device, "fp32", "default", False, torch.get_num_threads())
    was_training = model.training
    model.eval()
    if tta != "none":
        if len(data.info.input_shape) != 3:
            raise NnstudyError(f"train.tta={tta}: test-time flips need images, {data.name} has inputs of shape "
                               f"{tuple(data.info.input_shape)}")
        model = WithTTA(model, tta, rt.channels_last)
    sums: dict[str, torch.Tensor] = {}
    preds: list[dict[str, torch.Tensor]] = []
    try:
        for x, y, g in batches(split, batch_size, None, rt.device, group.rank, step=group.world):
            x = rt.inputs(data.transform(x, False, None))
            with rt.autocast():
                _, batch_sums, outputs = task.compute(model, x, y, g)
            if keep_predictions:
                # in fp32 whatever autocast computed in: predictions.safetensors is read by NumPy (no bf16 there)
                preds.append({k: (v.float() if v.is_floating_point() else v).detach().cpu()
                              for k, v in task.predictions(outputs).items()})
            for k, v in batch_sums.items():
                sums[k] = sums[k] + v.to(rt.device) if k in sums else v.to(rt.device)
    finally:
        model.train(was_training)   # (a WithTTA wrapper passes this on to the model)
    metrics = task.finalize(group.add(plain(sums)))
    if not keep_predictions:
        return metrics, None
    preds = group.interleave(preds)   # batch k from rank k % world: back in sample order
    return metrics, {k: torch.cat([p[k] for p in preds]) for k in (preds[0] if preds else {})}


# Test images a report shows with their predictions: the same draw for every run of a study (seed 0), kept with the
# run's predictions so that the report needs the run directory only, not the dataset.
SAMPLE_IMAGES = 20


def sample_indices(n: int, k: int = SAMPLE_IMAGES, seed: int = 0) -> np.ndarray:
    """`k` of `n` test samples drawn at random with their own generator (the same for every run), in order."""
    return np.sort(np.random.default_rng(seed).choice(n, size=min(k, n), replace=False))


def save_predictions(run_dir: RunDir, preds: dict[str, torch.Tensor], split: Split) -> None:
    """predictions.safetensors: the task's per-sample predictions (pred, ...), the targets, (if any) the groups,
    and for image data a fixed sample of the test images themselves (sample_index, sample_images: the stored uint8
    pixels) for the report's prediction grid."""
    saved = {**{k: v.contiguous() for k, v in preds.items()}, "target": split.targets.contiguous()}
    if split.groups is not None:
        saved["group"] = split.groups.contiguous()
    inputs = split.inputs
    if isinstance(inputs, torch.Tensor) and inputs.dtype == torch.uint8 and inputs.ndim == 4 and len(inputs):
        index = torch.from_numpy(sample_indices(len(inputs)))
        saved.update(sample_index=index, sample_images=inputs[index].contiguous())
    write_bytes(run_dir.predictions_path, safetensors_bytes(saved))


def _evaluate_with(cfg: RunConfig, weights: Path, keep_predictions: bool = False):
    """(test metrics, predictions or None, parts, device, seconds) of `weights` loaded into cfg's model."""
    cfg = resolve(cfg)
    set_threads(cfg.train.threads)
    device = pick_device(cfg.train.device)   # a device not here: one line, before the data is read
    seed_everything(cfg.train.seed)
    parts = build_parts(cfg)
    load_weights(parts.model, weights)
    rt = Runtime.setup(device=device, precision=cfg.train.precision, threads=cfg.train.threads,
                       channels_last=cfg.train.channels_last, model=parts.model, task=parts.task,
                       data=parts.data, batch_size=cfg.train.batch_size)   # the precision the run trained in
    model = rt.prepare(parts.model)
    t0 = time.perf_counter()
    # predictions kept always: the final test's exact metrics (ROC AUC) come from them, as in training
    metrics, preds = evaluate(model, parts.data.test, parts.task, parts.data, batch_size=cfg.train.eval_batch_size,
                              runtime=rt, keep_predictions=True, tta=cfg.train.tta)
    metrics.update(parts.task.exact_metrics(preds, parts.data.test.targets))
    return ({f"test_{k}": v for k, v in metrics.items()}, preds if keep_predictions else None, parts, rt,
            time.perf_counter() - t0)


def weights_run(cfg: RunConfig, weights: str | Path) -> RunResult:
    """A run directory for published weights evaluated instead of trained (a study's `weights:` variants):
    config.yaml, model.safetensors, predictions and a summary with test metrics only (no epochs)."""
    weights = Path(weights)
    cfg, fmt = weights_config(cfg, weights)   # the normalisation the weights' format expects
    metrics, preds, parts, rt, seconds = _evaluate_with(cfg, weights, keep_predictions=True)
    cfg = named(parts.config)
    run, _ = prepare_run_dir(cfg, resume=True)
    try:
        run.write_config(cfg)
        save_weights(parts.model, run.weights_path)
        save_predictions(run, preds, parts.data.test)
        summary = RunSummary.of(
            cfg, parts.model, parts.data, rt, metrics=metrics, selected_epoch=None,
            selected_by=f"published weights {weights.name} ({fmt.name} format; evaluated, not trained)", attempts=1,
            time=Timing(0.0, seconds, seconds, None), weights=str(weights), task_fitted=parts.task.fitted()).to_dict()
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


def evaluate_weights(model: str, weights: str | Path, overrides: list[str] | tuple[str, ...] = (),
                     preset: str | None = None) -> dict:
    """Evaluate a published checkpoint for a zoo model (e.g. resnet18 + resnet18.pt) on the test split, its inputs
    normalised as its format expects (`preset`, or detected from the file: engine.checkpoint.WEIGHTS_FORMATS).

    Returns {'metrics': ..., 'format': the format's name, 'normalize': the normalisation used}."""
    cfg, fmt = weights_config(load_config(model, list(overrides)), Path(weights), preset)
    metrics, _, parts, _, _ = _evaluate_with(cfg, Path(weights))
    return {"metrics": metrics, "format": fmt.name, "normalize": (parts.config.data.model_extra or {}).get("normalize")}
