"""Lookahead weight averaging as airbench94 uses it (Zhang et al., "Lookahead Optimizer", 2019; K. Jordan,
arXiv:2404.00498).

Every `every` optimiser steps the slow copy moves towards the model, and the model is reset onto the slow copy:
``slow = decay·slow + (1 − decay)·fast; fast = slow``. The decay grows with training progress p (0 → 1) as
``final_decay · p³``: no averaging early, when the weights move fast, and strong averaging at the end. After the
last step the model takes the slow weights (decay 1). Floating-point buffers (BatchNorm running statistics) are
averaged with the weights.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["Lookahead"]


class Lookahead:
    """Slow weights of `model`, synchronised every `every` steps (see the module docstring)."""

    def __init__(self, model: nn.Module, total_steps: int, every: int = 5, final_decay: float = 0.95 ** 5) -> None:
        self.model = model
        self.total = max(int(total_steps), 1)
        self.every = every
        self.final_decay = final_decay
        self.slow = {k: v.detach().clone() for k, v in self._floats().items()}

    def _floats(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.model.state_dict().items() if v.is_floating_point()}

    def decay(self, step: int) -> float:
        return self.final_decay * (min(step, self.total) / self.total) ** 3

    @torch.no_grad()
    def sync(self, decay: float) -> None:
        for (name, fast) in self._floats().items():
            slow = self.slow[name]
            slow.lerp_(fast, 1.0 - decay)
            fast.copy_(slow)

    def after_step(self, step: int) -> None:
        """Call after optimiser step number `step` (1-based, counted over the whole run)."""
        if step % self.every == 0:
            self.sync(self.decay(step))
        if step == self.total:
            self.sync(1.0)   # the model ends on the slow weights

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.slow)

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for name, value in state.items():
            self.slow[name].copy_(value)
