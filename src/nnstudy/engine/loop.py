"""The one training loop. Everything problem-specific is asked of the Task; everything hardware-specific of
`device.py`; everything about files of `runs.py` and `checkpoint.py`.

Reproducibility: the model is initialised from `train.seed`; the data order and augmentation of epoch e come from
their own generators seeded from (seed, e); the global RNG (dropout) and the augmentation generator are saved in
every checkpoint. So a killed run resumed from its checkpoint ends with the same numbers as an uninterrupted one
(same machine, same threads).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch
from safetensors.torch import save as safetensors_bytes
from torch import nn

from ..config import RunConfig, config_to_dict
from ..data.base import Dataset, Split
from ..data.transforms import tta_views
from ..errors import ConfigError, NnstudyError, RunDirError, clip
from ..io import disk_full_error, is_disk_full, write_bytes
from ..measure import environment, peak_memory_mb, reset_peak_memory, summarize
from ..models import count_params
from ..resolution import resolve, sources
from ..runs import RESUME_MAY_CHANGE, RunDir, first_difference, named, prepare_run_dir
from ..tasks import Task
from .build import build_parts
from .checkpoint import (
    fit_optimizer_state,
    fit_state_dict,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    save_weights,
)
from .device import autocast, pick_device, seed_everything, set_threads, to_memory_format, use_channels_last
from .lookahead import Lookahead
from .optim import build_optimizer, build_scheduler
from .progress import TrainProgress

__all__ = ["train", "evaluate", "WithTTA", "RunResult", "TrainingDiverged", "finished_summary", "save_predictions"]

CHECKPOINT_FORMAT = 1
# What a checkpoint must hold to be resumed ("config" is checked when present; older checkpoints lack it).
_CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "lookahead", "epoch", "step", "sums", "history",
                    "step_history", "best", "timing", "attempts", "rng_torch", "rng_aug", "rng_cuda")


class TrainingDiverged(NnstudyError):
    """The training loss became NaN or infinite."""


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]


# ------------------------------------------------------------------------------------------------- batching

def _epoch_generator(seed: int, epoch: int, stream: int) -> torch.Generator:
    """An independent CPU generator per (seed, epoch, stream): 0 = data order, 1 = augmentation."""
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 7 + stream)


def _train_steps(n: int, batch_size: int) -> int:
    # A final batch of one sample would break BatchNorm in train mode; it is dropped (the next epoch's
    # shuffle covers it).
    steps = math.ceil(n / batch_size)
    return steps - 1 if n % batch_size == 1 and steps > 1 else steps


def _batches(split: Split, batch_size: int, order: torch.Tensor | None, device: torch.device,
             start: int = 0, stop: int | None = None
             ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    """(inputs, targets, groups or None) of batches k = start..stop-1, in `order` (None: as stored)."""
    n = len(split)
    stop = math.ceil(n / batch_size) if stop is None else stop
    for k in range(start, stop):
        # index tensors, not slices: lazy inputs (windows over a series) are indexed the same way
        idx = (order if order is not None else torch.arange(n))[k * batch_size:(k + 1) * batch_size]
        x, y = split.inputs[idx], split.targets[idx]
        g = split.groups[idx].to(device, non_blocking=True) if split.groups is not None else None
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True), g


def _plain(sums: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Summed counts as Python numbers (scalars) or lists (per-group vectors): for finalize and checkpoints."""
    return {k: v.item() if v.numel() == 1 else v.tolist() for k, v in sums.items()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ----------------------------------------------------------------------------------------------- evaluation

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
             device: torch.device | None = None, precision: str = "fp32", channels_last: bool = False,
             keep_predictions: bool = False, tta: str = "none"
             ) -> tuple[dict[str, float], dict[str, torch.Tensor] | None]:
    """Metrics of `model` on `split` (eval mode, no augmentation; `tta` averages over test-time views of
    images); optionally the per-sample predictions (the task's named tensors, e.g. {'pred', 'score'})."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    if tta != "none":
        if len(data.info.input_shape) != 3:
            raise NnstudyError(f"train.tta={tta}: test-time flips need images, {data.name} has inputs of shape "
                               f"{tuple(data.info.input_shape)}")
        model = WithTTA(model, tta, channels_last)
    sums: dict[str, torch.Tensor] = {}
    preds: list[dict[str, torch.Tensor]] = []
    try:
        for x, y, g in _batches(split, batch_size, None, device):
            x = to_memory_format(data.transform(x, False, None), channels_last)
            with autocast(device, precision):
                _, batch_sums, outputs = task.compute(model, x, y, g)
            if keep_predictions:
                preds.append({k: v.detach().cpu() for k, v in task.predictions(outputs).items()})
            for k, v in batch_sums.items():
                sums[k] = sums[k] + v.to(device) if k in sums else v.to(device)
    finally:
        model.train(was_training)   # (a WithTTA wrapper passes this on to the model)
    metrics = task.finalize(_plain(sums))
    if not keep_predictions:
        return metrics, None
    return metrics, {k: torch.cat([p[k] for p in preds]) for k in (preds[0] if preds else {})}


# ------------------------------------------------------------------------------------------------- training

class _Trainer:
    """State of one run in progress; `run()` trains, selects on validation, tests once, writes the summary."""

    def __init__(self, cfg: RunConfig, resume: bool, progress: bool) -> None:
        cfg = named(resolve(cfg))   # checked before anything is built
        set_threads(cfg.train.threads)
        self.device = pick_device(cfg.train.device)
        seed_everything(cfg.train.seed)
        parts = build_parts(cfg)
        self.cfg = cfg = parts.config   # complete: what config.yaml records
        self.data, self.task = parts.data, parts.task
        # In-training evaluations (validation each epoch / every N steps, test curves) may use a fixed subset:
        # the same samples for every run and seed (seeded 0), so curves and selections compare. The final test
        # always scores the whole test split.
        every = cfg.train.eval_samples
        self.val_split = self.data.val.sample(every) if self.data.val is not None else None
        self.test_curve_split = self.data.test.sample(every) if cfg.train.test_every_epoch else None
        self.model = parts.model.to(self.device)
        self.channels_last = use_channels_last(cfg.train.channels_last, self.model)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        _check_fit(self.model, self.task, self.data, self.device, self.channels_last, cfg)
        self.steps_per_epoch = _train_steps(len(self.data.train), cfg.train.batch_size)
        self.optimizer = build_optimizer(self.model, cfg.optim)
        self.scheduler = build_scheduler(self.optimizer, cfg.optim, cfg.train.epochs, self.steps_per_epoch)
        self.lookahead: Lookahead | None = None   # made in run(): after the data-dependent init, or restored
        self.progress_enabled = progress
        # progress of the run, all saved in checkpoints
        self.epoch, self.step = 0, 0
        self.sums: dict[str, float] = {}
        self.history: list[dict[str, Any]] = []
        self.step_history: list[dict[str, Any]] = []   # train.eval_every_steps rows
        self.best: dict[str, Any] = {"epoch": None, "value": None}
        self.timing = {"train_seconds": 0.0, "eval_seconds": 0.0}
        self.attempts = 1
        self.aug_gen = _epoch_generator(cfg.train.seed, 0, 1)
        # last: from here on the run directory is this process's until train() releases it
        self.run_dir, self.resuming = prepare_run_dir(cfg, resume)

    # -- checkpoints -------------------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT, "config": config_to_dict(self.cfg), "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "lookahead": self.lookahead.state_dict() if self.lookahead else {},
                "epoch": self.epoch, "step": self.step, "sums": dict(self.sums), "history": self.history,
                "step_history": self.step_history, "best": dict(self.best), "timing": dict(self.timing),
                "attempts": self.attempts,
                "rng_torch": torch.get_rng_state(), "rng_aug": self.aug_gen.get_state(),
                "rng_cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else []}

    def _save(self) -> None:
        save_checkpoint(self.run_dir.checkpoint_path, self._state())

    def _restore(self) -> None:
        path = self.run_dir.checkpoint_path
        state = load_checkpoint(path, required=_CHECKPOINT_KEYS)
        # config.yaml is the run's record, but a user can edit it: the checkpoint remembers what the run trained
        # with (checkpoints from before this check have no "config")
        diff = first_difference(state.get("config", config_to_dict(self.cfg)), config_to_dict(self.cfg),
                                ignore=RESUME_MAY_CHANGE)
        if diff:
            raise RunDirError(f"{self.run_dir.config_path}: changed since the run started ({diff}); a run resumes "
                              f"with the config it started with: undo the edit, or start a new run")
        fit_state_dict(self.model, state["model"], path)
        fit_optimizer_state(self.optimizer, state["optimizer"], path)
        self.scheduler.load_state_dict(state["scheduler"])
        self.lookahead = self._new_lookahead()
        if self.lookahead:
            self.lookahead.load_state_dict(state["lookahead"])
        self.epoch, self.step = state["epoch"], state["step"]
        self.sums, self.history, self.best = state["sums"], state["history"], state["best"]
        self.step_history = state["step_history"]
        self.timing, self.attempts = state["timing"], state["attempts"] + 1
        torch.set_rng_state(state["rng_torch"])
        self.aug_gen.set_state(state["rng_aug"])
        if self.device.type == "cuda" and state["rng_cuda"]:
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        self._check_best_weights()

    def _check_best_weights(self) -> None:
        """The selected epoch's weights must be there, or the run would train to its end and then fail."""
        best = self.best["epoch"]
        if best is None or self.run_dir.weights_path.is_file():
            return
        if best == self.epoch and self.step == 0:   # checkpointed at the end of the selected epoch: same weights
            save_weights(self.model, self.run_dir.weights_path)
            return
        raise RunDirError(f"{self.run_dir.weights_path}: missing (the weights of epoch {best}, selected on "
                          f"validation); the run cannot finish without them: start it again under a new name")

    # -- the loop ------------------------------------------------------------------------------------------------
    def run(self) -> RunResult:
        cfg = self.cfg
        if self.resuming and self.run_dir.checkpoint_path.is_file():
            self._restore()
        else:
            self.run_dir.path.mkdir(parents=True, exist_ok=True)
            self.run_dir.write_config(cfg)
            self._init_from_data()
            self.lookahead = self._new_lookahead()   # its slow copy starts from the data-initialised weights
        reset_peak_memory(self.device)
        total = cfg.train.epochs * self.steps_per_epoch
        title = f"{cfg.model.name} on {cfg.data.name}"
        with TrainProgress(total, cfg.train.epochs, self.progress_enabled, title=title) as bar:
            self.bar = bar
            if self.resuming:
                bar.log(f"resuming {self.run_dir.path} at epoch {self.epoch + 1}, step {self.step}")
            while self.epoch < cfg.train.epochs:
                self._train_epoch()
                self._end_epoch()
        return self._finish()

    def _new_lookahead(self) -> Lookahead | None:
        if not self.cfg.optim.lookahead:
            return None
        return Lookahead(self.model, self.cfg.train.epochs * self.steps_per_epoch)

    def _init_from_data(self) -> None:
        """Data-dependent initialisation for models that have one (``init_from_data``, e.g. airbench's whitening
        filters): a fixed sample of ``init_samples`` training inputs, transformed as for evaluation. Before the
        first step only; a resumed run restores it from the checkpoint."""
        init = getattr(self.model, "init_from_data", None)
        if init is None:
            return
        sample = self.data.train.sample(getattr(self.model, "init_samples", 5000))
        x = self.data.transform(sample.inputs.to(self.device), False, None)
        init(to_memory_format(x, self.channels_last))

    def _train_epoch(self) -> None:
        cfg, device, model = self.cfg, self.device, self.model
        if self.step == 0:
            self.aug_gen = _epoch_generator(cfg.train.seed, self.epoch, 1)
            self.sums = {}
        order = torch.randperm(len(self.data.train), generator=_epoch_generator(cfg.train.seed, self.epoch, 0))
        model.train()
        sums = {k: torch.tensor(v, device=device) for k, v in self.sums.items()}
        t0 = last_save = last_show = time.perf_counter()
        seconds_before = self.timing["train_seconds"]
        n_seen, paused = 0, 0.0   # paused: seconds of step-level validation inside this epoch (not training)
        for x, y, g in _batches(self.data.train, cfg.train.batch_size, order, device, self.step,
                             self.steps_per_epoch):
            x = to_memory_format(self.data.transform(x, True, self.aug_gen), self.channels_last)
            with autocast(device, cfg.train.precision):
                loss, batch_sums, _ = self.task.compute(model, x, y, g)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            if self.lookahead:
                self.lookahead.after_step(self.epoch * self.steps_per_epoch + self.step + 1)
            for k, v in batch_sums.items():
                sums[k] = sums[k] + v.to(device) if k in sums else v.to(device)
            self.step += 1
            n_seen += len(y)
            every = cfg.train.eval_every_steps
            if every and self.val_split is not None and (self.epoch * self.steps_per_epoch + self.step) % every == 0:
                paused += self._eval_step(sums)
            now = time.perf_counter()
            if now - last_show > 0.25 or self.step == self.steps_per_epoch:
                # .item() synchronises the device: only a few times per second
                loss_value = float(loss.detach())
                if not math.isfinite(loss_value):
                    raise TrainingDiverged(f"training loss is {loss_value} at epoch {self.epoch + 1}, "
                                           f"step {self.step} (try a lower optim.lr)")
                self.bar.advance_to(self.epoch * self.steps_per_epoch + self.step, self.epoch, loss_value,
                                    n_seen / max(now - t0 - paused, 1e-9))
                last_show = now
            every_s = cfg.train.checkpoint_every   # None: epoch ends only; 0: after every step
            if every_s is not None and now - last_save >= every_s and self.step < self.steps_per_epoch:
                self.sums = _plain(sums)
                self.timing["train_seconds"] = seconds_before + (now - t0 - paused)
                self._save()
                last_save = time.perf_counter()
        _sync(device)
        self.timing["train_seconds"] = seconds_before + (time.perf_counter() - t0 - paused)
        self.sums = _plain(sums)

    def _end_epoch(self) -> None:
        cfg = self.cfg
        train_metrics = self.task.finalize(self.sums)
        row: dict[str, Any] = {"epoch": self.epoch + 1, "lr": self.optimizer.param_groups[0]["lr"]}
        row.update({f"train_{k}": v for k, v in train_metrics.items()})
        if not math.isfinite(train_metrics.get("loss", 0.0)):
            raise TrainingDiverged(f"training loss is {train_metrics['loss']} in epoch {self.epoch + 1} "
                                   f"(try a lower optim.lr)")
        value = None
        t0 = time.perf_counter()
        if self.val_split is not None:
            val, _ = self._evaluate(self.val_split)
            row.update({f"val_{k}": v for k, v in val.items()})
            value = val[self.task.monitor]
        if self.test_curve_split is not None:   # for curves only: selection stays on validation
            test, _ = self._evaluate(self.test_curve_split)
            row.update({f"test_{k}": v for k, v in test.items()})
        self.timing["eval_seconds"] += time.perf_counter() - t0
        row["train_seconds"] = round(self.timing["train_seconds"], 3)
        self.history.append(row)
        if value is None or self.task.better(value, self.best["value"]):
            self.best = {"epoch": self.epoch + 1, "value": value}
            save_weights(self.model, self.run_dir.weights_path)
        self.run_dir.write_metrics(self.history)
        self.bar.log(_epoch_line(row, cfg.train.epochs))
        self.epoch, self.step, self.sums = self.epoch + 1, 0, {}
        self._save()

    def _eval_step(self, sums: dict[str, torch.Tensor]) -> float:
        """Validation metrics at this optimiser step (SPEC D logs accuracy every N iterations; we log validation,
        not test, so the test split is still touched once). Its time counts as evaluation, not training."""
        t0 = time.perf_counter()
        val, _ = self._evaluate(self.val_split)
        self.model.train()
        running = self.task.finalize(_plain(sums))
        self.step_history.append({"step": self.epoch * self.steps_per_epoch + self.step, "epoch": self.epoch + 1,
                                  **{f"train_{k}": v for k, v in running.items()},
                                  **{f"val_{k}": v for k, v in val.items()}})
        self.run_dir.write_metrics(self.step_history, self.run_dir.steps_path)
        seconds = time.perf_counter() - t0
        self.timing["eval_seconds"] += seconds
        return seconds

    def _evaluate(self, split: Split, keep_predictions: bool = False, tta: str = "none"):
        return evaluate(self.model, split, self.task, self.data, batch_size=self.cfg.train.eval_batch_size,
                        device=self.device, precision=self.cfg.train.precision,
                        channels_last=self.channels_last, keep_predictions=keep_predictions, tta=tta)

    def _finish(self) -> RunResult:
        cfg = self.cfg
        load_weights(self.model, self.run_dir.weights_path)   # the epoch selected on validation
        t0 = time.perf_counter()
        test, preds = self._evaluate(self.data.test, keep_predictions=True, tta=cfg.train.tta)
        _sync(self.device)
        test_seconds = time.perf_counter() - t0
        self.timing["eval_seconds"] += test_seconds
        save_predictions(self.run_dir, preds, self.data.test)
        selected = self.history[self.best["epoch"] - 1]
        metrics = {k: v for k, v in selected.items() if k.startswith(("train_", "val_")) and k != "train_seconds"}
        metrics.update({f"test_{k}": v for k, v in test.items()})
        train_samples = len(self.data.train) * cfg.train.epochs
        summary = finished_summary(
            cfg, self.model, self.data, self.device, metrics=metrics, selected_epoch=self.best["epoch"],
            selected_by=f"val_{self.task.monitor}" if self.data.val is not None else "last epoch",
            attempts=self.attempts, in_training_eval=self._in_training_eval(), task_fitted=self.task.fitted(),
            memory_format="channels_last" if self.channels_last else "contiguous",
            timing={"train_seconds": round(self.timing["train_seconds"], 3),
                  "eval_seconds": round(self.timing["eval_seconds"], 3), "test_seconds": round(test_seconds, 3),
                  "train_samples_per_second": round(train_samples / max(self.timing["train_seconds"], 1e-9), 1)})
        self.run_dir.write_summary(summary)
        self.bar.log("test " + " ".join(f"{k} {v:.4f}" for k, v in test.items())
                     + f" (epoch {self.best['epoch']}, selected by {summary['selected_by']})")
        return RunResult(self.run_dir.path, summary)

    def _in_training_eval(self) -> dict[str, int]:
        """How many samples the per-epoch evaluations scored (train.eval_samples may subsample)."""
        sizes = {}
        if self.val_split is not None:
            sizes["val_samples"] = len(self.val_split)
        if self.test_curve_split is not None:
            sizes["test_curve_samples"] = len(self.test_curve_split)
        return sizes


@torch.no_grad()
def _check_fit(model: nn.Module, task: Task, data: Dataset, device: torch.device, channels_last: bool,
               cfg: RunConfig) -> None:
    """Two training samples through the model and the task's loss before anything is written: a model whose
    input or output does not fit the data (another image size, too few classes) is one line, not a traceback an
    epoch in. In eval mode: no dropout, no batch statistics, no random numbers drawn."""
    split = data.train
    x, y = split.inputs[:2].to(device), split.targets[:2].to(device)
    g = split.groups[:2].to(device) if split.groups is not None else None
    was_training = model.training
    model.eval()
    try:
        task.compute(model, to_memory_format(data.transform(x, False, None), channels_last), y, g)
    except (RuntimeError, IndexError, ValueError) as e:
        raise ConfigError(f"model {clip(cfg.model.name, quote=True)} does not fit dataset {cfg.data.name!r} "
                          f"(inputs {tuple(x.shape[1:])}, {data.info.num_classes or 'no'} classes) for task "
                          f"{cfg.task.name!r}: {clip(' '.join(str(e).split()), 200)}") from None
    finally:
        model.train(was_training)


def save_predictions(run_dir: RunDir, preds: dict[str, torch.Tensor], split: Split) -> None:
    """predictions.safetensors: the task's per-sample predictions (pred, ...), the targets and (if any) the
    groups."""
    saved = {**{k: v.contiguous() for k, v in preds.items()}, "target": split.targets.contiguous()}
    if split.groups is not None:
        saved["group"] = split.groups.contiguous()
    write_bytes(run_dir.predictions_path, safetensors_bytes(saved))


def _compute(model: nn.Module, data: Dataset) -> dict[str, Any]:
    """Params, MACs, FLOPs (2×MACs) and detailed FLOPs per sample, forward pass (docs/measurement.md)."""
    try:
        totals = summarize(model, tuple(data.info.input_shape)).to_dict()["totals"]
    except RuntimeError as e:   # recorded, not hidden: the run itself is fine
        return {"error": f"could not count MACs: {str(e).splitlines()[0]}"}
    return {**totals, "per": "sample, forward pass"}


def finished_summary(cfg: RunConfig, model: nn.Module, data: Dataset, device: torch.device, *,
                     metrics: dict[str, float], selected_epoch: int | None, selected_by: str, attempts: int,
                     timing: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """summary.json of a finished run (trained, or published weights evaluated): what studies and reports read."""
    return {
        "status": "finished",
        "name": cfg.name, "model": cfg.model.name, "dataset": cfg.data.name, "task": cfg.task.name,
        "seed": cfg.train.seed, "selected_epoch": selected_epoch, "selected_by": selected_by, **extra,
        "metrics": metrics, "params": count_params(model), "compute": _compute(model, data), "time": timing,
        "memory": peak_memory_mb(device),
        "data": {"train": len(data.train), "val": len(data.val) if data.val else 0, "test": len(data.test),
                 "source": data.source, "info": data.info.extra},   # e.g. normalisation, scalers, cleaning
        "attempts": attempts, "environment": environment(device), "sources": sources(cfg),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _epoch_line(row: dict[str, Any], epochs: int) -> str:
    """e.g. 'epoch 2/10  train loss 1.3834 acc 0.5017 | val loss 1.2905 acc 0.5428 | lr 0.001'."""
    groups = []
    for split in ("train", "val"):
        items = [f"{k[len(split) + 1:]} {v:.4f}" for k, v in row.items()
                 if k.startswith(split + "_") and k != "train_seconds"]
        if items:
            groups.append(f"{split} " + " ".join(items))
    return f"epoch {row['epoch']}/{epochs}  " + " | ".join(groups) + f" | lr {row['lr']:.3g}"


def train(cfg: RunConfig, *, resume: bool = False, progress: bool = True) -> RunResult:
    """Train one run described by `cfg`; write its run directory; return where it is and its summary.

    With resume=True an unfinished run of the same name and config continues from its checkpoint.
    """
    trainer = _Trainer(cfg, resume, progress)
    try:
        return trainer.run()
    except TrainingDiverged as e:
        trainer.run_dir.write_summary({"status": "failed", "name": trainer.cfg.name, "error": str(e),
                                       "attempts": trainer.attempts, "history": trainer.history})
        raise
    except OSError as e:   # e.g. creating a folder; the files themselves are written by io.atomic_path
        if is_disk_full(e):
            raise disk_full_error(e.filename or trainer.run_dir.path) from None
        raise
    finally:
        trainer.run_dir.unlock()
