"""What every dataset gives the engine: splits of in-memory tensors plus what the task needs to know."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

__all__ = ["Split", "DataInfo", "Dataset", "BatchTransform"]

# (inputs, train, generator) -> model-ready inputs. Runs on whole batches, on the batch's device.
BatchTransform = Callable[[torch.Tensor, bool, torch.Generator | None], torch.Tensor]


@dataclass
class Split:
    """One split held in memory: inputs (e.g. uint8 N×C×H×W images) and targets (int64 class ids).

    ``inputs`` may also be a lazy view that supports ``len()`` and indexing by a tensor of sample indices
    (e.g. windows over a time series, built per batch instead of materialised). ``groups`` optionally names the
    group of each sample (e.g. the region of a forecast window) for per-group metrics.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    groups: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if len(self.inputs) != len(self.targets):
            raise ValueError(f"inputs ({len(self.inputs)}) and targets ({len(self.targets)}) differ in length")
        if self.groups is not None and len(self.groups) != len(self.targets):
            raise ValueError(f"groups ({len(self.groups)}) and targets ({len(self.targets)}) differ in length")

    def __len__(self) -> int:
        return len(self.targets)

    def take(self, index: torch.Tensor) -> "Split":
        """The samples at `index` (int64), as a Split; a lazy view stays lazy if it offers ``take`` itself."""
        inputs = self.inputs.take(index) if hasattr(self.inputs, "take") and not isinstance(
            self.inputs, torch.Tensor) else self.inputs[index]
        return Split(inputs, self.targets[index], self.groups[index] if self.groups is not None else None)

    def sample(self, at_most: int | None, seed: int = 0) -> "Split":
        """A fixed random subset of at most `at_most` samples (in stored order), drawn with its own generator
        seeded `seed`: every run that asks gets the same samples. None or ≥ len: the split itself."""
        if at_most is None or at_most >= len(self):
            return self
        keep = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:at_most]
        return self.take(keep.sort().values)


@dataclass
class DataInfo:
    """What a model builder and a task need to know about the data."""

    input_shape: tuple[int, ...]            # one sample, e.g. (3, 32, 32)
    num_classes: int | None = None          # None for regression
    class_names: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    task: str = "classification"            # the task the data implies: a config without task.name gets it


def _identity(x: torch.Tensor, train: bool, generator: torch.Generator | None) -> torch.Tensor:
    return x


@dataclass
class Dataset:
    """Train / validation / test splits and the batch transform that turns stored inputs into model inputs.

    ``transform`` is applied by the engine to whole batches on the training device: for images it converts
    uint8 to float, normalises, and (when ``train`` is true) augments with ``generator``.
    """

    name: str
    train: Split
    val: Split | None
    test: Split
    info: DataInfo
    transform: BatchTransform = _identity
    source: str = ""                         # where the files came from, for the run's summary
