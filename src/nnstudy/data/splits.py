"""Seeded, stratified splits of a labelled set (validation carved from train, subsets for quick runs)."""
from __future__ import annotations

import torch

__all__ = ["stratified_take", "stratified_split"]


def stratified_take(labels: torch.Tensor, count: int,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(taken, rest): sorted indices into `labels`, `taken` holding `count` of them, classes in proportion.

    Each class c of n_c gives ⌊count·n_c/N⌋ images plus one more for the classes with the largest remainders
    (exact integer arithmetic, ties to the lower class id), chosen by a random permutation from `generator`.
    """
    n = len(labels)
    if not 0 <= count <= n:
        raise ValueError(f"cannot take {count} of {n} samples")
    classes, counts = torch.unique(labels, return_counts=True)
    share = [int(c) * count for c in counts]
    quota = [s // n for s in share] if n else []
    extra = count - sum(quota)
    for i in sorted(range(len(quota)), key=lambda i: (-(share[i] % n), i))[:extra]:
        quota[i] += 1
    taken, rest = [], []
    for cls, q in zip(classes, quota):
        idx = torch.nonzero(labels == cls).squeeze(1)
        idx = idx[torch.randperm(len(idx), generator=generator)]
        taken.append(idx[:q])
        rest.append(idx[q:])
    empty = torch.empty(0, dtype=torch.int64)
    return (torch.cat(taken).sort().values if taken else empty,
            torch.cat(rest).sort().values if rest else empty)


def stratified_split(labels: torch.Tensor, fraction: float,
                     generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(rest, held_out): hold out round(fraction·N) indices, stratified by class (see ``stratified_take``)."""
    held, rest = stratified_take(labels, round(fraction * len(labels)), generator)
    return rest, held
