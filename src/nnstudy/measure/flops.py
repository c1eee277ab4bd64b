"""Per-layer parameters, MACs and FLOPs of a model, measured on one forward pass (what each layer and op costs is
in costs.py; this module tracks the pass and adds the costs up per module).

Conventions (SPEC "Measurement conventions"; the full list of costs and the reasons is in docs/measurement.md):

- **params**: trainable parameters, ``sum(p.numel())`` over parameters with ``requires_grad``, each counted once.
- **macs**: multiply-accumulates of conv, linear, matmul, attention and recurrent layers. A bias adds none:
  a dot product of n terms into a bias-initialised accumulator is n multiplies and n adds.
- **flops**: 2 × MACs (one multiply and one add per MAC; torch's FlopCounterMode unit; fvcore counts 1 per MAC).
- **detailed**: flops + element-wise work (activations, pooling compares, normalisation, residual additions,
  recurrent gate products), with the per-element costs of :data:`ELEMENTWISE_COST`.

Every count is **per sample** (the batch's count divided by the batch size) and for the **forward pass** only,
in eval mode.

How: forward hooks on every module give each layer its count from a closed formula (so recurrent layers are
right, which hook-free counters get wrong), and a ``TorchDispatchMode`` sees the aten ops that run outside those
layers, in a custom module's ``forward`` (``q @ k.transpose(-2, -1)``, ``out + identity``), and charges them to
the innermost module running.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence
from torch.utils._python_dispatch import TorchDispatchMode

from .costs import (
    ELEMENTWISE_COST,
    Number,
    _Counts,
    _first_input,
    _functional_cost,
    _geometry,
    _is_counted,
    _module_cost,
    _per_sample,
    _sample_shape,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CONVENTIONS", "CONVENTION_TEXT", "ELEMENTWISE_COST", "LayerRow", "ModelSummary", "summarize"]


CONVENTIONS: tuple[str, ...] = ("macs", "flops", "detailed")

CONVENTION_TEXT: dict[str, str] = {
    "params": "trainable parameters, sum(p.numel()) over parameters with requires_grad",
    "macs": "multiply-accumulates of conv, linear, matmul, attention and recurrent layers (bias adds none)",
    "flops": "2 × MACs: one multiply and one add per MAC (torch FlopCounterMode's unit; fvcore and thop count "
             "MACs and call them FLOPs)",
    "detailed": "2 × MACs + element-wise work: activations, pooling compares/adds, normalisation, residual "
                "additions, recurrent gates (costs in docs/measurement.md)",
}

@dataclass(frozen=True)
class LayerRow:
    """One module of a summary. Counts are per sample, forward pass.

    Attributes:
        name: qualified module name (``layer1.0.conv1``); ``"<container> (functional)"`` for the ops a
            container's own ``forward`` runs (matmuls, residual additions) and parameters registered on it
            directly; ``""`` when the model itself is a single layer.
        type: class name; for a functional row, the aten ops counted (``"bmm+_softmax"``).
        depth: nesting level, 0 for the model's direct children.
        params: trainable parameters; a container's row holds the total of its subtree.
        macs, flops, detailed: the three conventions (see :data:`CONVENTIONS`); containers hold subtree totals.
        input_shape, output_shape: per sample (batch dimension dropped) on the module's first call; for a
            PackedSequence, (longest sequence, features).
        kernel, stride, padding: for conv and pool layers (an adaptive pool gets its window when the input
            divides evenly); padding may be ``"same"``/``"valid"``.
        calls: forward calls during the pass (a shared ``relu`` in a ResNet block is called 2-3 times; its
            counts sum over calls).
        container: True when the row is a total over the rows below it (skip these to sum a column).
    """

    name: str
    type: str
    depth: int
    params: int
    macs: Number
    flops: Number
    detailed: Number
    input_shape: tuple[int, ...] | None = None
    output_shape: tuple[int, ...] | None = None
    kernel: tuple[int, ...] | None = None
    stride: tuple[int, ...] | None = None
    padding: tuple[int, ...] | str | None = None
    calls: int = 0
    container: bool = False


@dataclass(frozen=True)
class ModelSummary:
    """Per-layer counts of one model on one input shape; totals are the sum of the non-container rows."""

    model: str
    input_shape: tuple[int, ...]
    batch_size: int
    rows: tuple[LayerRow, ...]
    total_params: int
    total_macs: Number
    total_flops: Number
    total_detailed: Number

    def totals(self, convention: str = "flops") -> Number:
        """The model's total under `convention` ("macs", "flops", "detailed", or "params")."""
        if convention == "params":
            return self.total_params
        if convention not in CONVENTIONS:
            raise ValueError(f"unknown convention {convention!r}; choose one of {', '.join(CONVENTIONS)}")
        return getattr(self, f"total_{convention}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict.

        Keys: ``model`` (class name), ``input_shape`` (per sample), ``batch_size`` (of the measured pass),
        ``per`` ("sample, forward pass"), ``conventions`` (name → definition), ``totals`` (params, macs, flops,
        detailed), ``rows`` (one dict per :class:`LayerRow`, same field names, shapes as lists).
        """
        def plain(value: Any) -> Any:
            return list(value) if isinstance(value, tuple) else value

        return {
            "model": self.model,
            "input_shape": list(self.input_shape),
            "batch_size": self.batch_size,
            "per": "sample, forward pass",
            "conventions": dict(CONVENTION_TEXT),
            "totals": {"params": self.total_params, "macs": self.total_macs, "flops": self.total_flops,
                       "detailed": self.total_detailed},
            "rows": [{k: plain(v) for k, v in asdict(row).items()} for row in self.rows],
        }

    def to_dataframe(self) -> "pd.DataFrame":
        """One row per :class:`LayerRow` (pandas is imported here, not at package import)."""
        import pandas as pd
        return pd.DataFrame([asdict(row) for row in self.rows])


# --------------------------------------------------------------------------------------------------- summarize

def summarize(model: nn.Module, input_shape: Sequence[int] | None = None, *, inputs: Any = None,
              batch_size: int | None = None, device: torch.device | str | None = None) -> ModelSummary:
    """Count params, MACs and FLOPs per layer on one forward pass (eval mode, no grad).

    Args:
        model: any module; its training flags are restored afterwards, its device is left alone.
        input_shape: shape of one sample without the batch dimension, e.g. ``(3, 32, 32)`` or ``(178,)``; the
            pass runs on zeros of shape ``(batch_size, *input_shape)`` in the model's floating dtype, or on
            ``model.example_input(batch_size, input_shape, dtype, device)`` where the model defines it.
        inputs: instead of ``input_shape``: the forward's argument(s) — a tensor, a tuple of arguments or a
            PackedSequence (for integer inputs, time-major sequences, several arguments).
        batch_size: samples in the pass; counts are divided by it. Default: 1 with ``input_shape``, else the
            first dimension of the first tensor (``batch_sizes[0]`` of a PackedSequence). Give it for inputs
            whose batch is not dimension 0 (time-major RNN inputs).
        device: where the zero input is created; default the device of the model's parameters.

    Returns:
        A :class:`ModelSummary`: rows in module order (containers before their children), counts per sample.
    """
    if (input_shape is None) == (inputs is None):
        raise ValueError("give exactly one of input_shape and inputs")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if input_shape is not None:
        shape = tuple(int(d) for d in input_shape)
        batch = batch_size or 1
        first = next(iter(model.parameters()), None)
        dtype = first.dtype if first is not None and first.is_floating_point() else torch.get_default_dtype()
        where = torch.device(device) if device is not None else (first.device if first is not None else None)
        # A model may say what a representative input is (e.g. VariableRNN: every step real, not padding);
        # otherwise zeros.
        example = getattr(model, "example_input", None)
        x = example(batch, shape, dtype, where) if callable(example) else \
            torch.zeros((batch, *shape), dtype=dtype, device=where)
        args: tuple[Any, ...] = (x,)
    else:
        # A PackedSequence is a namedtuple: it is one argument, not a tuple of them.
        args = tuple(inputs) if isinstance(inputs, (tuple, list)) and not isinstance(inputs, PackedSequence) \
            else (inputs,)
        shape, inferred = _input_shape(args)
        batch = batch_size or inferred

    tracker = _Tracker(model)
    flags = {m: m.training for m in model.modules()}
    fastpath = _set_mha_fastpath(False)  # the fused path skips child modules' hooks (TransformerEncoderLayer)
    try:
        tracker.attach()
        model.eval()
        with torch.no_grad(), _FunctionalCounter(tracker):
            model(*args)
    finally:
        tracker.remove()
        _set_mha_fastpath(fastpath)
        for m, training in flags.items():
            m.training = training
    return tracker.summary(shape, batch)


def forward_cost(model: nn.Module, input_shape: Sequence[int]) -> dict[str, Any]:
    """Params, MACs, FLOPs (2×MACs) and detailed FLOPs of one sample's forward pass, as a run's summary records
    them (docs/measurement.md); ``{"error": why}`` for a model that cannot be counted (the run itself is fine)."""
    try:
        totals = summarize(model, tuple(input_shape)).to_dict()["totals"]
    except (RuntimeError, ValueError, TypeError, AttributeError) as e:
        return {"error": f"could not count MACs: {(str(e).splitlines() or [type(e).__name__])[0]}"}
    return {**totals, "per": "sample, forward pass"}


def _input_shape(args: tuple[Any, ...]) -> tuple[tuple[int, ...], int]:
    """(per-sample shape, batch size) of the first tensor argument."""
    for a in args:
        if isinstance(a, PackedSequence):
            return (int(a.batch_sizes.numel()), *a.data.shape[1:]), int(a.batch_sizes[0])
        if isinstance(a, Tensor):
            return tuple(a.shape[1:]), int(a.shape[0]) if a.dim() else 1
    raise ValueError("inputs holds no tensor or PackedSequence")


def _set_mha_fastpath(enabled: bool) -> bool:
    mha = getattr(torch.backends, "mha", None)
    if mha is None:
        return enabled
    before = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(enabled)
    return before


# ------------------------------------------------------------------------------------------------- the tracker

class _Tracker:
    """Hooks every module; keeps the stack of running modules for the dispatch mode."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.counts: dict[str, _Counts] = {}
        self.stack: list[str] = []
        self.inside_counted = 0  # > 0 while a counted layer runs: its formula already covers its aten ops
        self.handles: list[Any] = []
        self._hooked: set[int] = set()
        # Set by summary(): the batch to divide by, and what has been given a row (shared modules and tied
        # parameters count once, at their first name).
        self.batch = 1
        self.seen_params: set[int] = set()
        self.seen_modules: set[int] = set()

    def attach(self) -> None:
        self._hook(self.model, "")

    def _hook(self, module: nn.Module, name: str) -> None:
        if id(module) in self._hooked:  # registered under two names: hooked (and counted) at the first
            return
        self._hooked.add(id(module))
        self.counts[name] = _Counts()
        counted = _is_counted(module)
        self.handles.append(module.register_forward_pre_hook(self._enter(name, counted)))
        self.handles.append(module.register_forward_hook(self._exit(name, counted), with_kwargs=True,
                                                         always_call=True))
        if counted:
            return
        for child_name, child in module.named_children():
            self._hook(child, f"{name}.{child_name}" if name else child_name)

    def _enter(self, name: str, counted: bool) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any) -> None:
            self.stack.append(name)
            self.inside_counted += counted
        return hook

    def _exit(self, name: str, counted: bool) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
            try:
                if output is None:  # the forward raised (always_call): just unwind
                    return
                c = self.counts[name]
                c.calls += 1
                if c.calls == 1:
                    c.input_shape = _sample_shape(_first_input(args, kwargs), module)
                    c.output_shape = _sample_shape(output, module)
                if counted:
                    macs, elementwise = _module_cost(module, args, kwargs, output, c)
                    c.macs += macs
                    c.elementwise += elementwise
            finally:
                self.stack.pop()
                self.inside_counted -= counted
        return hook

    def counting(self) -> bool:
        return self.inside_counted == 0

    def add_functional(self, op: str, macs: int, elementwise: int) -> None:
        c = self.counts[self.stack[-1] if self.stack else ""]
        c.macs += macs
        c.elementwise += elementwise
        c.ops[op] = None

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()

    # -- rows ------------------------------------------------------------------------------------------------

    def summary(self, input_shape: tuple[int, ...], batch: int) -> ModelSummary:
        self.batch = batch
        self.seen_params.clear()
        self.seen_modules.clear()
        rows: list[LayerRow] = []
        root = self.model
        if _is_counted(root) or not any(True for _ in root.children()):
            totals = self._leaf(root, "", 0, rows)
        else:
            totals = self._children(root, "", 0, rows)
        params, macs, elementwise = totals
        macs_ps = _per_sample(macs, batch)
        return ModelSummary(type(root).__name__, tuple(input_shape), batch, tuple(rows), params, macs_ps,
                            2 * macs_ps, 2 * macs_ps + _per_sample(elementwise, batch))

    def _params(self, module: nn.Module, recurse: bool) -> int:
        total = 0
        for p in module.parameters(recurse=recurse):
            if p.requires_grad and id(p) not in self.seen_params:  # a shared (tied) tensor counts once
                self.seen_params.add(id(p))
                total += p.numel()
        return total

    def _row(self, name: str, type_: str, depth: int, params: int, macs: int, elementwise: int,
             container: bool = False, **extra: Any) -> LayerRow:
        macs_ps = _per_sample(macs, self.batch)
        return LayerRow(name, type_, depth, params, macs_ps, 2 * macs_ps,
                        2 * macs_ps + _per_sample(elementwise, self.batch), container=container, **extra)

    def _leaf(self, module: nn.Module, name: str, depth: int, rows: list[LayerRow]) -> tuple[int, int, int]:
        c = self.counts.get(name, _Counts())
        params = self._params(module, recurse=True)
        kernel, stride, padding = _geometry(module, c)
        rows.append(self._row(name, type(module).__name__, depth, params, c.macs, c.elementwise,
                              input_shape=c.input_shape, output_shape=c.output_shape, kernel=kernel,
                              stride=stride, padding=padding, calls=c.calls))
        return params, c.macs, c.elementwise

    def _children(self, module: nn.Module, prefix: str, depth: int, rows: list[LayerRow]) -> tuple[int, int, int]:
        """Rows of `module`'s children (and of its own functional work) at `depth`; returns the subtree totals."""
        totals = [0, 0, 0]
        for child_name, child in module.named_children():
            if id(child) in self.seen_modules:  # registered twice: counted at its first name
                continue
            self.seen_modules.add(id(child))
            name = f"{prefix}.{child_name}" if prefix else child_name
            if _is_counted(child) or not any(True for _ in child.children()):
                sub = self._leaf(child, name, depth, rows)
            else:
                inner: list[LayerRow] = []  # the container's row goes first, once its totals are known
                sub = self._children(child, name, depth + 1, inner)
                c = self.counts.get(name, _Counts())
                rows.append(self._row(name, type(child).__name__, depth, *sub, container=True,
                                      input_shape=c.input_shape, output_shape=c.output_shape, calls=c.calls))
                rows.extend(inner)
            totals = [t + s for t, s in zip(totals, sub)]
        own = self.counts.get(prefix, _Counts())
        own_params = self._params(module, recurse=False)
        if own.macs or own.elementwise or own_params:
            label = "+".join(own.ops) or "parameters"
            rows.append(self._row(f"{prefix} (functional)" if prefix else "(functional)", label, depth,
                                  own_params, own.macs, own.elementwise, calls=own.calls))
            totals = [t + s for t, s in zip(totals, (own_params, own.macs, own.elementwise))]
        return totals[0], totals[1], totals[2]


class _FunctionalCounter(TorchDispatchMode):
    """Counts matmuls, convs and element-wise aten ops run while no counted layer is running."""

    def __init__(self, tracker: _Tracker) -> None:
        super().__init__()
        self.tracker = tracker

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.tracker.counting():
            name = func.overloadpacket.__name__
            name = name[:-1] if name.endswith("_") and not name.endswith("__") else name  # add_ → add
            macs, elementwise = _functional_cost(name, args, kwargs, out)
            if macs or elementwise:
                self.tracker.add_functional(name, macs, elementwise)
        return out
