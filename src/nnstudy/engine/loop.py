"""The one training loop. Everything problem-specific is asked of the Task; everything hardware-specific of
`device.py`; what several processes share of `distributed.py`; everything about files of `runs.py` and
`checkpoint.py`.

Reproducibility: the model is initialised from `train.seed`; the data order and augmentation of epoch e come from
their own generators seeded from (seed, e); the global RNG (dropout) and the augmentation generator are saved in
every checkpoint (each rank's, on several processes). So a killed run resumed from its checkpoint ends with the same
numbers as an uninterrupted one (same machine, same threads, same number of processes).
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import torch

from ..config import RunConfig, config_to_dict
from ..data.base import Split
from ..errors import NnstudyError, RunDirError
from ..io import disk_full_error, is_disk_full
from ..measure import reset_peak_memory
from ..measure.environment import code_version
from ..resolution import load_config, resolve
from ..runs import RESUME_MAY_CHANGE, RunDir, first_difference, named, prepare_run_dir
from ..track import RunTrackers, check_installed, open_run_trackers
from . import distributed
from .build import build_parts, check_fit
from .checkpoint import (
    fit_optimizer_state,
    fit_state_dict,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    save_weights,
)
from .device import pick_device, seed_everything, set_threads
from .distributed import SINGLE, Group
from .evaluation import RunResult, WithTTA, batches, evaluate, plain, save_predictions
from .lookahead import Lookahead
from .optim import build_optimizer, build_scheduler
from .progress import TrainProgress, epoch_line
from .runtime import Runtime
from .summary import RunSummary, Timing

__all__ = ["train", "evaluate", "WithTTA", "RunResult", "TrainingDiverged", "save_predictions"]

CHECKPOINT_FORMAT = 1
# What a checkpoint must hold to be resumed ("config" is checked when present; older checkpoints lack it). A run on
# several processes adds "ranks": each rank's own sums of the epoch so far and its global generators (dropout).
_CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "lookahead", "epoch", "step", "sums", "history",
                    "step_history", "best", "timing", "attempts", "rng_torch", "rng_aug", "rng_cuda")


class TrainingDiverged(NnstudyError):
    """The training loss became NaN or infinite."""


# ------------------------------------------------------------------------------------------------- batching

def _epoch_generator(seed: int, epoch: int, stream: int) -> torch.Generator:
    """An independent CPU generator per (seed, epoch, stream): 0 = data order, 1 = augmentation."""
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 7 + stream)


# ------------------------------------------------------------------------------------------------- training

class _Trainer:
    """State of one run in progress; `run()` trains, selects on validation, tests once, writes the summary."""

    def __init__(self, cfg: RunConfig, resume: bool, progress: bool, group: Group = SINGLE) -> None:
        cfg = named(resolve(cfg))   # checked before anything is built
        check_installed(cfg.train.log)   # a tracker asked for and not installed: one line, before anything is written
        if group.world > 1:   # a generated name holds the time: rank 0's is the run's
            cfg = cfg.model_copy(update={"name": group.broadcast(cfg.name)})
        set_threads(cfg.train.threads)   # before anything is built (Runtime.setup below keeps it)
        self.group = group
        device = group.device or pick_device(cfg.train.device)   # a device not here: one line, before the data
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
        self.rt = Runtime.setup(device=device, precision=cfg.train.precision,
                                threads=cfg.train.threads, channels_last=cfg.train.channels_last, model=parts.model,
                                task=self.task, data=self.data, batch_size=cfg.train.batch_size,
                                compile=cfg.train.compile)
        self.device = self.rt.device
        self.model = self.rt.prepare(parts.model)
        self.scaler = self.rt.grad_scaler()   # fp16 only
        check_fit(self.model, self.task, self.data, self.rt, cfg)
        self.steps_per_epoch = distributed.train_steps(len(self.data.train), cfg.train.batch_size, group.world)
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
        self.world_sizes = [group.world]   # processes of each attempt (a run may resume with another --nproc)
        self.aug_gen = _epoch_generator(cfg.train.seed, 0, 1)
        self.trackers: RunTrackers | None = None   # opened in run(), on rank 0
        # last: from here on the run directory is this process's (rank 0's) until train() releases it
        self.run_dir, self.resuming = self._prepare_run_dir(cfg, resume)

    def _prepare_run_dir(self, cfg: RunConfig, resume: bool) -> tuple[RunDir, bool]:
        if self.group.world == 1:
            return prepare_run_dir(cfg, resume)
        mine: list[RunDir] = []   # rank 0's, locked; the others only name the same path

        def prepare() -> bool:
            run, resuming = prepare_run_dir(cfg, resume)
            mine.append(run)
            return resuming
        resuming = self.group.on_main(prepare)
        return (mine[0] if mine else RunDir(Path(cfg.out_dir) / str(cfg.name))), resuming

    # -- checkpoints -------------------------------------------------------------------------------------------
    def _rank_state(self) -> dict[str, Any]:
        """What differs between ranks: the epoch's sums so far (each rank's own share) and the global generators."""
        return {"sums": dict(self.sums), "rng_torch": torch.get_rng_state(),
                "rng_cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else []}

    def _state(self) -> dict[str, Any] | None:
        """The checkpoint (on rank 0; None on the others), with every rank's own state on several processes."""
        ranks = self.group.gather(self._rank_state()) if self.group.world > 1 else None
        if not self.group.main:
            return None
        state = {"format": CHECKPOINT_FORMAT, "config": config_to_dict(self.cfg), "model": self.model.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "lookahead": self.lookahead.state_dict() if self.lookahead else {},
                 "epoch": self.epoch, "step": self.step, "sums": dict(self.sums), "history": self.history,
                 "step_history": self.step_history, "best": dict(self.best), "timing": dict(self.timing),
                 "attempts": self.attempts, "world_sizes": self.world_sizes,
                 "scaler": self.scaler.state_dict() if self.scaler is not None else {},
                 "precision": [self.rt.precision, self.rt.precision_reason],
                 "rng_torch": torch.get_rng_state(), "rng_aug": self.aug_gen.get_state(),
                 "rng_cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else []}
        if ranks is not None:   # "sums": the whole epoch's so far, as one process would have them
            state.update(sums=distributed.add_sums([r["sums"] for r in ranks]), ranks=ranks)
        return state

    def _save(self) -> None:
        state = self._state()
        if state is not None:
            save_checkpoint(self.run_dir.checkpoint_path, state)

    def _read_checkpoint(self) -> dict[str, Any] | None:
        """(Rank 0) the checkpoint a resumed run continues from, checked against the config; None for a new run."""
        path = self.run_dir.checkpoint_path
        if not (self.resuming and path.is_file()):
            return None
        state = load_checkpoint(path, required=_CHECKPOINT_KEYS)
        # config.yaml is the run's record, but a user can edit it: the checkpoint remembers what the run trained
        # with (checkpoints from before this check have no "config")
        diff = first_difference(state.get("config", config_to_dict(self.cfg)), config_to_dict(self.cfg),
                                ignore=RESUME_MAY_CHANGE)
        if diff:
            raise RunDirError(f"{self.run_dir.config_path}: changed since the run started ({diff}); a run resumes "
                              f"with the config it started with: undo the edit, or start a new run")
        return state

    def _restore(self, state: dict[str, Any]) -> None:
        path = self.run_dir.checkpoint_path
        fit_state_dict(self.model, state["model"], path)
        fit_optimizer_state(self.optimizer, state["optimizer"], path)
        self.scheduler.load_state_dict(state["scheduler"])
        first = state.get("precision")   # precision auto: a run resumed on another machine keeps its first choice
        if self.cfg.train.precision == "auto" and first and first[0] != self.rt.precision:
            self.rt = dataclasses.replace(self.rt, precision=first[0], precision_reason=f"{first[1]} (kept on resume)")
            self.scaler = self.rt.grad_scaler()
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.lookahead = self._new_lookahead()
        if self.lookahead:
            self.lookahead.load_state_dict(state["lookahead"])
        self.epoch, self.step = state["epoch"], state["step"]
        self.sums, self.history, self.best = state["sums"], state["history"], state["best"]
        self.step_history = state["step_history"]
        self.timing, self.attempts = state["timing"], state["attempts"] + 1
        self.world_sizes = state.get("world_sizes", [1] * state["attempts"]) + [self.group.world]
        torch.set_rng_state(state["rng_torch"])
        self.aug_gen.set_state(state["rng_aug"])
        if self.device.type == "cuda" and state["rng_cuda"]:
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        if self.group.world > 1:
            self._restore_rank(state)
        self.group.on_main(self._check_best_weights)

    def _restore_rank(self, state: dict[str, Any]) -> None:
        """Each rank's own sums and generators when the run resumes on as many processes as it saved; otherwise
        rank 0 carries the epoch's sums so far and the other ranks draw fresh dropout streams."""
        rank, ranks = self.group.rank, state.get("ranks") or []
        if len(ranks) == self.group.world:
            mine = ranks[rank]
            self.sums = mine["sums"]
            torch.set_rng_state(mine["rng_torch"])
            if self.device.type == "cuda" and mine["rng_cuda"]:
                torch.cuda.set_rng_state_all(mine["rng_cuda"])
        elif rank > 0:
            self.sums = {}
            torch.manual_seed(distributed.rank_seed(self.cfg.train.seed, rank, self.attempts))

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
        cfg, group = self.cfg, self.group
        state = group.on_main(self._read_checkpoint)   # every rank continues from rank 0's checkpoint
        if state is not None:
            self._restore(state)
        else:
            if group.main:
                self.run_dir.path.mkdir(parents=True, exist_ok=True)
                self.run_dir.write_config(cfg)
            self._init_from_data()
            self.lookahead = self._new_lookahead()   # its slow copy starts from the data-initialised weights
            if group.rank > 0:   # same weights, own dropout masks; rank 0 draws what one process would
                torch.manual_seed(distributed.rank_seed(cfg.train.seed, group.rank, 1))
        # what trains: DDP of the model (the model itself alone), compiled when train.compile is on
        self.replica = self.rt.compiled(group.replicate(self.model))
        reset_peak_memory(self.device)
        total = cfg.train.epochs * self.steps_per_epoch
        title = f"{cfg.model.name} on {cfg.data.name}"
        with TrainProgress(total, cfg.train.epochs, self.progress_enabled and group.main, title=title) as bar:
            self.bar = bar
            if self.resuming:
                bar.log(f"resuming {self.run_dir.path} at epoch {self.epoch + 1}, step {self.step}")
            if cfg.train.log and group.main:
                self._open_trackers(bar)
            while self.epoch < cfg.train.epochs:
                self._train_epoch()
                self._end_epoch()
        return self._finish()

    def _open_trackers(self, bar: TrainProgress) -> None:
        # a tracker's failure is said even without a progress bar (a study's parallel runs)
        say = lambda text: bar.console.print(text, markup=False, highlight=False, soft_wrap=True)
        self.trackers = open_run_trackers(list(self.cfg.train.log), self.run_dir.path, config_to_dict(self.cfg),
                                          self.resuming, say, code=code_version())
        # a resumed run sends its history again: what its first attempt had queued may not have arrived (MLflow
        # keeps the steps it has; TensorBoard and W&B write the run whole)
        for row in self.history:
            self.trackers.epoch(row)
        for row in self.step_history:
            self.trackers.steps(row)

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
        init(self.rt.inputs(x))

    def _train_epoch(self) -> None:
        cfg, device, model, group = self.cfg, self.device, self.replica, self.group
        if self.step == 0:
            self.aug_gen = _epoch_generator(cfg.train.seed, self.epoch, 1)
            self.sums = {}
        order = torch.randperm(len(self.data.train), generator=_epoch_generator(cfg.train.seed, self.epoch, 0))
        model.train()
        sums = {k: torch.tensor(v, device=device) for k, v in self.sums.items()}
        t0 = last_save = last_show = time.perf_counter()
        seconds_before = self.timing["train_seconds"]
        n_seen, paused = 0, 0.0   # paused: seconds of step-level validation inside this epoch (not training)
        for x, y, g in batches(self.data.train, cfg.train.batch_size, order, device, self.step,
                               self.steps_per_epoch):
            x = self.rt.inputs(self.data.transform(x, True, self.aug_gen))
            size = len(y)   # the global batch, augmented whole: the same draws whatever the number of ranks
            if group.world > 1:
                part = group.share(size)
                x, y, g = x[part], y[part], (g[part] if g is not None else None)
            with self.rt.autocast():
                loss, batch_sums, _ = self.task.compute(model, x, y, g)
            self.optimizer.zero_grad(set_to_none=True)
            # DDP averages the ranks' gradients; weighted by share × world / batch, that average is the gradient of
            # the whole batch's mean loss, also when the shares differ by one
            scaled = loss * (len(y) * group.world / size) if group.world > 1 else loss
            if self.scaler is not None:   # fp16: the loss scaled up so small gradients survive, steps skipped on inf
                self.scaler.scale(scaled).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                scaled.backward()
                self.optimizer.step()
            self.scheduler.step()
            if self.lookahead:
                self.lookahead.after_step(self.epoch * self.steps_per_epoch + self.step + 1)
            for k, v in batch_sums.items():
                sums[k] = sums[k] + v.to(device) if k in sums else v.to(device)
            self.step += 1
            n_seen += size
            every = cfg.train.eval_every_steps
            if every and self.val_split is not None and (self.epoch * self.steps_per_epoch + self.step) % every == 0:
                paused += self._eval_step(sums)
            now = time.perf_counter()
            if group.main and (now - last_show > 0.25 or self.step == self.steps_per_epoch):
                # .item() synchronises the device: only a few times per second
                loss_value = float(loss.detach())
                if not math.isfinite(loss_value):
                    raise TrainingDiverged(f"training loss is {loss_value} at epoch {self.epoch + 1}, "
                                           f"step {self.step} (try a lower optim.lr)")
                self.bar.advance_to(self.epoch * self.steps_per_epoch + self.step, self.epoch, loss_value,
                                    n_seen / max(now - t0 - paused, 1e-9))
                last_show = now
            every_s = cfg.train.checkpoint_every   # None: epoch ends only; 0: after every step
            # (rank 0's clock decides, so that every rank saves at the same step)
            if every_s is not None and self.step < self.steps_per_epoch and group.flag(now - last_save >= every_s):
                self.sums = plain(sums)
                self.timing["train_seconds"] = seconds_before + (now - t0 - paused)
                self._save()
                last_save = time.perf_counter()
        self.rt.synchronize()
        self.timing["train_seconds"] = seconds_before + (time.perf_counter() - t0 - paused)
        self.sums = group.add(plain(sums))   # the epoch's sums over all ranks

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
            if self.group.main:
                save_weights(self.model, self.run_dir.weights_path)
        if self.group.main:
            self.run_dir.write_metrics(self.history)
        if self.trackers:
            self.trackers.epoch(row)
        self.bar.log(epoch_line(row, cfg.train.epochs))
        self.epoch, self.step, self.sums = self.epoch + 1, 0, {}
        self._save()

    def _eval_step(self, sums: dict[str, torch.Tensor]) -> float:
        """Validation metrics at this optimiser step, and with train.test_every_epoch the test curve's too (SPEC D
        logged test accuracy every N iterations: the curve beside ours; selection stays on validation). Its time
        counts as evaluation, not training."""
        t0 = time.perf_counter()
        val, _ = self._evaluate(self.val_split)
        test = self._evaluate(self.test_curve_split)[0] if self.test_curve_split is not None else {}
        self.model.train()
        running = self.task.finalize(self.group.add(plain(sums)))
        self.step_history.append({"step": self.epoch * self.steps_per_epoch + self.step, "epoch": self.epoch + 1,
                                  **{f"train_{k}": v for k, v in running.items()},
                                  **{f"val_{k}": v for k, v in val.items()},
                                  **{f"test_{k}": v for k, v in test.items()}})
        if self.group.main:
            self.run_dir.write_metrics(self.step_history, self.run_dir.steps_path)
        if self.trackers:
            self.trackers.steps(self.step_history[-1])
        seconds = time.perf_counter() - t0
        self.timing["eval_seconds"] += seconds
        return seconds

    def _evaluate(self, split: Split, keep_predictions: bool = False, tta: str = "none"):
        self.group.copy_buffers(self.model)   # (several ranks score shares of the split with rank 0's model)
        return evaluate(self.model, split, self.task, self.data, batch_size=self.cfg.train.eval_batch_size,
                        runtime=self.rt, keep_predictions=keep_predictions, tta=tta, group=self.group)

    def _finish(self) -> RunResult:
        cfg, group = self.cfg, self.group
        # the epoch selected on validation (rank 0 reads it; on other nodes the run directory may not be there)
        group.on_main(lambda: load_weights(self.model, self.run_dir.weights_path))
        group.load_main_state(self.model)
        t0 = time.perf_counter()
        test, preds = self._evaluate(self.data.test, keep_predictions=True, tta=cfg.train.tta)
        self.rt.synchronize()
        test_seconds = time.perf_counter() - t0
        self.timing["eval_seconds"] += test_seconds
        if not group.main:
            return RunResult(self.run_dir.path, group.broadcast(None))
        # metrics that do not add up over batches exactly (ROC AUC), from every test sample's prediction
        test.update(self.task.exact_metrics(preds, self.data.test.targets))
        save_predictions(self.run_dir, preds, self.data.test)
        selected = self.history[self.best["epoch"] - 1]
        metrics = {k: v for k, v in selected.items() if k.startswith(("train_", "val_")) and k != "train_seconds"}
        metrics.update({f"test_{k}": v for k, v in test.items()})
        train_seconds = self.timing["train_seconds"]
        summary = RunSummary.of(
            cfg, self.model, self.data, self.rt, metrics=metrics, selected_epoch=self.best["epoch"],
            selected_by=f"val_{self.task.monitor}" if self.data.val is not None else "last epoch",
            attempts=self.attempts, in_training_eval=self._in_training_eval(), task_fitted=self.task.fitted(),
            distributed={"world_size": group.world, "backend": group.backend, "world_sizes": self.world_sizes},
            time=Timing(train_seconds, self.timing["eval_seconds"], test_seconds,
                        len(self.data.train) * cfg.train.epochs / max(train_seconds, 1e-9))).to_dict()
        self.run_dir.write_summary(summary)
        if self.trackers:
            self.trackers.finish(summary)
        self.bar.log("test " + " ".join(f"{k} {v:.4f}" for k, v in test.items())
                     + f" (epoch {self.best['epoch']}, selected by {summary['selected_by']})")
        return RunResult(self.run_dir.path, group.broadcast(summary))

    def _in_training_eval(self) -> dict[str, int]:
        """How many samples the per-epoch evaluations scored (train.eval_samples may subsample)."""
        sizes = {}
        if self.val_split is not None:
            sizes["val_samples"] = len(self.val_split)
        if self.test_curve_split is not None:
            sizes["test_curve_samples"] = len(self.test_curve_split)
        return sizes


def train(cfg: RunConfig, *, resume: bool = False, progress: bool = True) -> RunResult:
    """Train one run described by `cfg`; write its run directory; return where it is and its summary.

    With resume=True an unfinished run of the same name and config continues from its checkpoint. With
    train.nproc = N > 1 this process launches N processes that train the run together (DDP, docs/cluster.md) and
    returns when they are done; a process started by torchrun joins torchrun's processes instead.
    """
    if cfg.train.nproc > 1 and not distributed.launched():
        cfg = named(resolve(cfg))   # one name, one directory for every rank
        run, _ = prepare_run_dir(cfg, resume)   # its refusals (finished, busy, no --resume) before any process starts
        run.unlock()
        distributed.launch(_rank_main, (config_to_dict(cfg), resume, progress), cfg)
        return RunResult(run.path, run.summary() or {})
    group = distributed.join(cfg)
    try:
        with group.reporting():
            return _train(cfg, resume, progress, group)
    finally:
        distributed.leave(group)


def _rank_main(raw: dict[str, Any], resume: bool, progress: bool) -> None:
    """One rank started by distributed.launch (its errors reach the launcher through torch's error file)."""
    train(load_config(raw), resume=resume, progress=progress)


def _train(cfg: RunConfig, resume: bool, progress: bool, group: Group) -> RunResult:
    trainer = _Trainer(cfg, resume, progress, group)
    finished = False
    try:
        result = trainer.run()
        finished = True
        return result
    except TrainingDiverged as e:
        if group.main:
            trainer.run_dir.write_summary({"status": "failed", "name": trainer.cfg.name, "error": str(e),
                                           "attempts": trainer.attempts, "history": trainer.history})
        raise
    except OSError as e:   # e.g. creating a folder; the files themselves are written by io.atomic_path
        if is_disk_full(e):
            raise disk_full_error(e.filename or trainer.run_dir.path) from None
        raise
    except RuntimeError as e:
        unused = distributed.unused_parameters(e, trainer.model) if group.world > 1 else None
        if unused is not None:
            raise unused from None
        raise
    finally:
        if trainer.trackers:   # what is queued is sent (within CLOSE_TIMEOUT_S) before the run returns
            trainer.trackers.close(failed=not finished)
        trainer.run_dir.unlock()
