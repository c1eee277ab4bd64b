"""Lazy views: samples gathered per batch from one shared tensor, never materialised (a window over a series)."""
from __future__ import annotations

from typing import Any

import torch

__all__ = ["WindowView"]

class WindowView:
    """Lazy windows over one (steps × features) float32 tensor: sample k is ``features[starts[k]:][:lookback]``.

    Holds the shared feature tensor and one int64 start per window, so memory is O(steps), not
    O(windows × lookback). Indexing with a tensor of sample indices gathers the batch in one advanced-indexing
    op: ``view[idx]`` → float32 (B, lookback, features), contiguous.
    """

    def __init__(self, features: torch.Tensor, starts: torch.Tensor, lookback: int) -> None:
        if features.ndim != 2:
            raise ValueError(f"features must be (steps, features), got shape {tuple(features.shape)}")
        if starts.ndim != 1 or starts.dtype != torch.int64:
            raise ValueError("starts must be a 1-D int64 tensor")
        if len(starts) and (int(starts.min()) < 0 or int(starts.max()) + lookback > len(features)):
            raise ValueError(f"a window runs outside the {len(features)} steps of features")
        self.features = features
        self.starts = starts
        self.lookback = lookback
        self._steps = torch.arange(lookback, dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: Any) -> torch.Tensor:
        s = self.starts[index]
        if s.ndim == 0:
            return self.features[int(s):int(s) + self.lookback]
        return self.features[s.unsqueeze(1) + self._steps]

    def take(self, index: torch.Tensor) -> "WindowView":
        """The windows at `index`, still lazy."""
        return WindowView(self.features, self.starts[index], self.lookback)

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.starts), self.lookback, self.features.shape[1]))

    @property
    def ndim(self) -> int:
        return 3

    @property
    def dtype(self) -> torch.dtype:
        return self.features.dtype

    @property
    def device(self) -> torch.device:
        return self.features.device

    def __repr__(self) -> str:
        return (f"WindowView({len(self):,} windows × {self.lookback} steps × {self.features.shape[1]} features "
                f"over {len(self.features):,} steps)")
