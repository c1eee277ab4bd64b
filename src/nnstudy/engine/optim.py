"""Optimisers (SGD with momentum/nesterov, Adam, AdamW) and per-step learning-rate schedules."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..config import OptimConfig
from ..errors import ConfigError

__all__ = ["build_optimizer", "build_scheduler", "param_groups", "LRSchedule"]


_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def param_groups(model: nn.Module, cfg: OptimConfig) -> list[dict]:
    """The trainable parameters in optimiser groups: one, or with ``norm_lr_scale`` ≠ 1 the normalisation
    layers' parameters apart, at lr × scale and weight_decay / scale (so lr × weight_decay, the decay per step,
    is the same in both groups)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.norm_lr_scale == 1.0:
        return [{"params": params}]
    norm_ids = {id(p) for m in model.modules() if isinstance(m, _NORMS) for p in m.parameters(recurse=False)}
    norms = [p for p in params if id(p) in norm_ids]
    if not norms:
        raise ConfigError(f"optim.norm_lr_scale={cfg.norm_lr_scale}: the model has no trainable normalisation "
                          f"parameters to scale")
    others = [p for p in params if id(p) not in norm_ids]
    scale = cfg.norm_lr_scale
    return [{"params": others},
            {"params": norms, "lr": cfg.lr * scale, "weight_decay": cfg.weight_decay / scale}]


def build_optimizer(params: list[nn.Parameter] | nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    if isinstance(params, nn.Module):
        params = param_groups(params, cfg)
    if cfg.name == "sgd":
        if cfg.nesterov and cfg.momentum == 0:
            raise ConfigError("optim.nesterov=true needs optim.momentum > 0")
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    raise ConfigError(f"optim.name={cfg.name!r}: expected one of sgd, adam, adamw")


class LRSchedule:
    """Multiplier of the base lr as a function of the optimiser step (0-based), for LambdaLR.

    - warm-up: linear from 1/warmup_steps to 1 over `warmup_steps` (all schedules);
    - "none": constant; "step": × gamma every `step_size` epochs; "multistep": × gamma at each of `milestones`
      (fractions of training: the step round(fraction × total steps) is the first at the lower lr);
    - "cosine": cosine from 1 down to `min_ratio` over the steps after warm-up;
    - "onecycle": like PyTorch's OneCycleLR — warm-up from 1/25 of the lr (30% of training unless warmup_epochs
      is set), then cosine down to `min_ratio` (default 1/25 × 1e-4 of the lr);
    - "linear": after warm-up, a straight line down to `min_ratio` at the last step (airbench's triangle).

    `start` (optim.warmup_from) sets the multiplier the warm-up starts at; by default 1/25 for onecycle and
    1/warmup_steps otherwise.

    A plain object (not a lambda) so LambdaLR can save and restore it in a checkpoint.
    """

    def __init__(self, kind: str, total_steps: int, steps_per_epoch: int, warmup_epochs: float = 0.0,
                 step_size: float = 30.0, gamma: float = 0.1, min_ratio: float = 0.0,
                 start: float | None = None, milestones: tuple[float, ...] = ()) -> None:
        self.kind = kind
        self.total = max(int(total_steps), 1)
        self.per_epoch = max(int(steps_per_epoch), 1)
        if kind == "onecycle" and warmup_epochs == 0:
            warmup_epochs = 0.3 * self.total / self.per_epoch
        self.warmup = min(int(round(warmup_epochs * self.per_epoch)), self.total - 1)
        self.step_size = step_size
        self.gamma = gamma
        self.milestones = [round(m * self.total) for m in milestones]   # in optimiser steps
        self.start = start if start is not None else (1 / 25 if kind == "onecycle" else 0.0)
        self.min_ratio = min_ratio if (min_ratio or kind != "onecycle") else 1 / 25 * 1e-4

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            # onecycle starts exactly at lr/25; a plain warm-up skips the useless lr = 0 step
            frac = step / self.warmup if self.start else (step + 1) / self.warmup
            return self.start + (1 - self.start) * frac
        if self.kind == "none":
            return 1.0
        if self.kind == "step":
            return self.gamma ** math.floor(step / self.per_epoch / self.step_size)
        if self.kind == "multistep":
            return self.gamma ** sum(step >= m for m in self.milestones)
        t = (step - self.warmup) / max(self.total - self.warmup, 1)
        if self.kind == "linear":
            return 1.0 - (1.0 - self.min_ratio) * min(t, 1.0)
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: OptimConfig, epochs: int,
                    steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A scheduler stepped once per optimiser step."""
    schedule = LRSchedule(cfg.schedule, epochs * steps_per_epoch, steps_per_epoch, cfg.warmup_epochs,
                          cfg.step_size, cfg.gamma, cfg.min_lr_ratio, cfg.warmup_from, tuple(cfg.milestones))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
