"""A task of our own: classification whose default label smoothing is 0.1."""
from __future__ import annotations

from nnstudy.tasks.classification import Classification


class SmoothedClassification(Classification):
    """Classification with label smoothing 0.1 unless told otherwise."""

    def __init__(self, label_smoothing: float = 0.1) -> None:
        super().__init__(label_smoothing=label_smoothing)
