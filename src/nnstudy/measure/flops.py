"""Per-layer parameters, MACs and FLOPs of a model, measured on one forward pass.

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

import math
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence
from torch.utils._python_dispatch import TorchDispatchMode

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CONVENTIONS", "CONVENTION_TEXT", "ELEMENTWISE_COST", "LayerRow", "ModelSummary", "summarize"]

Number = int | float  # per-sample counts are exact ints unless the batch does not divide them (PackedSequence)

CONVENTIONS: tuple[str, ...] = ("macs", "flops", "detailed")

CONVENTION_TEXT: dict[str, str] = {
    "params": "trainable parameters, sum(p.numel()) over parameters with requires_grad",
    "macs": "multiply-accumulates of conv, linear, matmul, attention and recurrent layers (bias adds none)",
    "flops": "2 × MACs: one multiply and one add per MAC (torch FlopCounterMode's unit; fvcore and thop count "
             "MACs and call them FLOPs)",
    "detailed": "2 × MACs + element-wise work: activations, pooling compares/adds, normalisation, residual "
                "additions, recurrent gates (costs in docs/measurement.md)",
}

# Operations per output element under "detailed", by op name (aten names, so the dispatch mode and the module
# formulas share one table). Transcendentals (exp, log, erf) count as one op each.
ELEMENTWISE_COST: dict[str, int] = {
    "relu": 1,         # compare with 0
    "leaky_relu": 2,   # compare + multiply by the slope (vectorised kernels compute both for every element)
    "prelu": 2,        # as leaky_relu, with a learned slope
    "hardtanh": 2,     # two compares (also ReLU6)
    "threshold": 1,    # compare
    "sigmoid": 3,      # 1 / (1 + exp(−x)): exp, add, divide (the write-up's count)
    "tanh": 5,         # (eˣ − e⁻ˣ) / (eˣ + e⁻ˣ): two exps, subtract, add, divide
    "gelu": 5,         # x · ½ · (1 + erf(x/√2)): divide, erf, add, two multiplies
    "gelu_tanh": 13,   # x·½·(1 + tanh(√(2/π)(x + 0.044715x³))): x³ 2, ·c, +x, ·c, tanh 5, +1, ·½, ·x
    "silu": 4,         # x · sigmoid(x): sigmoid (3) + multiply
    "elu": 4,          # compare, exp, subtract 1, multiply by α
    "softplus": 3,     # log(1 + exp(x)): exp, add, log
    "_softmax": 3,     # exp, add to the row sum, divide by it (the max-subtraction for stability not counted)
    "_log_softmax": 3,  # exp, add to the row sum, subtract log(sum) (one log per row not counted)
    "add": 1, "sub": 1, "rsub": 1, "mul": 1, "div": 1, "neg": 1,
    "maximum": 1, "minimum": 1, "clamp_min": 1, "clamp_max": 1,
    "exp": 1, "log": 1, "sqrt": 1, "rsqrt": 1, "reciprocal": 1, "pow": 1, "erf": 1,
    "batch_norm_eval": 2,  # y = a·x + b with a = γ/√(var+ε), b = β − a·mean folded per channel: multiply, add
    "norm_stats": 5,       # batch statistics: add (mean), subtract, square, add (variance), divide by σ
    "norm_affine": 2,      # γ·x̂ + β: multiply, add
    "rms_norm": 3,         # square, add (mean square), divide by the root (one root per row not counted)
}

# Element-wise modules and the op (above) each output element costs.
_MODULE_OPS: dict[type[nn.Module], str] = {
    nn.ReLU: "relu", nn.LeakyReLU: "leaky_relu", nn.PReLU: "prelu", nn.Hardtanh: "hardtanh",  # ReLU6 ⊂ Hardtanh
    nn.Threshold: "threshold", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.SiLU: "silu", nn.ELU: "elu",
    nn.Softplus: "softplus", nn.Softmax: "_softmax", nn.LogSoftmax: "_log_softmax",
}
# Layers that do no arithmetic: reshapes, a lookup, dropout (identity in eval).
_FREE = (nn.Identity, nn.Flatten, nn.Unflatten, nn.Embedding, nn.modules.dropout._DropoutNd)

_MATMUL_OPS = ("mm", "addmm", "bmm", "baddbmm", "addbmm", "mv", "addmv", "dot", "vdot", "_addmm_activation")
_CONV_OPS = ("convolution", "_convolution")
_SDPA_OPS = ("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
             "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
             "_scaled_dot_product_fused_attention_overrideable")
# Gates per recurrent cell: rows of W_ih / W_hh in units of the hidden size.
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


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

@dataclass
class _Counts:
    """What one module did during the pass, summed over its calls, for the whole batch."""

    calls: int = 0
    macs: int = 0
    elementwise: int = 0
    ops: dict[str, None] = field(default_factory=dict)  # functional aten ops seen, in first-seen order
    input_shape: tuple[int, ...] | None = None
    output_shape: tuple[int, ...] | None = None
    window: tuple[int, ...] | None = None  # an adaptive pool's derived kernel


def _is_counted(module: nn.Module) -> bool:
    """Layers with a closed formula: the dispatch mode stays quiet inside them and their children get no row."""
    return isinstance(module, _COUNTED_TYPES) or _module_op(module) is not None


def _module_op(module: nn.Module) -> str | None:
    """The element-wise op of an activation module, through subclasses (ReLU6 is a Hardtanh)."""
    for cls in type(module).__mro__:
        if cls in _MODULE_OPS:
            return _MODULE_OPS[cls]
    return None


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


def _per_sample(total: int, batch: int) -> Number:
    q, r = divmod(total, batch)
    return q if r == 0 else total / batch


def _first_input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    for a in (*args, *kwargs.values()):
        if isinstance(a, (Tensor, PackedSequence)):
            return a
    return None


def _first_tensor(value: Any) -> Tensor | PackedSequence | None:
    if isinstance(value, (Tensor, PackedSequence)):
        return value
    if isinstance(value, (tuple, list)):
        for v in value:
            t = _first_tensor(v)
            if t is not None:
                return t
    return None


def _sample_shape(value: Any, module: nn.Module) -> tuple[int, ...] | None:
    """Shape of one sample: drop the batch dimension (dim 1 for time-major RNN/attention inputs)."""
    t = _first_tensor(value)
    if t is None:
        return None
    if isinstance(t, PackedSequence):
        return (int(t.batch_sizes.numel()), *t.data.shape[1:])  # (longest sequence, features)
    batch_dim = 0
    if isinstance(module, (nn.RNNBase, nn.MultiheadAttention)) and not module.batch_first:
        batch_dim = 1
    if isinstance(module, nn.RNNBase) and t.dim() == 2:  # unbatched sequence (T, features)
        return tuple(t.shape)
    return tuple(d for i, d in enumerate(t.shape) if i != batch_dim) if t.dim() > batch_dim else tuple(t.shape)


def _geometry(module: nn.Module, c: _Counts) -> tuple[Any, Any, Any]:
    """(kernel, stride, padding) of a conv or pool layer, as tuples over its spatial dimensions."""
    if isinstance(module, nn.modules.conv._ConvNd):
        padding = module.padding if isinstance(module.padding, str) else tuple(module.padding)
        return tuple(module.kernel_size), tuple(module.stride), padding
    if isinstance(module, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)):
        n = _spatial_dims(module)
        def expand(v: Any) -> tuple[int, ...]:
            return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n
        return expand(module.kernel_size), expand(module.stride or module.kernel_size), expand(module.padding)
    if c.window is not None:
        return c.window, c.window, (0,) * len(c.window)
    return None, None, None


def _spatial_dims(module: nn.Module) -> int:
    match = re.search(r"(\d)d$", type(module).__name__)
    return int(match.group(1)) if match else 1


# ----------------------------------------------------------------------------------------------- layer formulas
# Each returns (MACs, element-wise ops) for the whole batch of one call.

def _conv(m: nn.modules.conv._ConvNd, x: Tensor, out: Tensor) -> tuple[int, int]:
    # Each output element is a dot product over (C_in/groups) × prod(kernel) inputs; a transposed conv instead
    # scatters each input element to (C_out/groups) × prod(kernel) outputs. Dilation changes neither.
    if m.transposed:
        return x.numel() * (m.out_channels // m.groups) * math.prod(m.kernel_size), 0
    return out.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size), 0


def _linear(m: nn.Linear, x: Tensor, out: Tensor) -> tuple[int, int]:
    return out.numel() * m.in_features, 0  # in_features MACs per output element, any leading dims


def _adaptive_windows(in_sizes: Sequence[int], out_sizes: Sequence[int]) -> list[list[int]]:
    """Per spatial dim, the window length of each output index: [⌊i·n/m⌋, ⌈(i+1)·n/m⌉) as PyTorch."""
    return [[-((-(i + 1) * n) // m) - (i * n) // m for i in range(m)] for n, m in zip(in_sizes, out_sizes)]


def _pool(m: nn.Module, x: Tensor, out: Tensor, c: _Counts) -> tuple[int, int]:
    is_max = isinstance(m, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd))
    if isinstance(m, (nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd)):
        n = _spatial_dims(m)
        windows = _adaptive_windows(x.shape[-n:], out.shape[-n:])
        if c.window is None and all(len(set(w)) == 1 for w in windows):
            c.window = tuple(w[0] for w in windows)
        planes = out.numel() // max(1, math.prod(out.shape[-n:]))
        inputs_read = math.prod(sum(w) for w in windows)  # Σ over outputs of the window size, per plane
        # max: k − 1 compares per output; avg: k − 1 adds + 1 divide = k per output
        per_plane = inputs_read - math.prod(out.shape[-n:]) if is_max else inputs_read
        return 0, planes * per_plane
    kernel = _geometry(m, c)[0]
    k = math.prod(kernel)
    return 0, out.numel() * (k - 1 if is_max else k)


def _norm(m: nn.Module, x: Tensor, out: Tensor) -> tuple[int, int]:
    cost = ELEMENTWISE_COST
    if isinstance(m, nn.modules.batchnorm._NormBase) and m.track_running_stats and not m.training \
            and m.running_mean is not None:
        per = cost["batch_norm_eval"]  # running statistics: normalisation and affine fold into a·x + b
    elif isinstance(m, getattr(nn, "RMSNorm", ())):
        per = cost["rms_norm"] + (1 if m.elementwise_affine else 0)  # affine: multiply by γ only
    else:
        affine = getattr(m, "affine", getattr(m, "elementwise_affine", False))
        per = cost["norm_stats"] + (cost["norm_affine"] if affine else 0)
    return 0, out.numel() * per


def _recurrent_step(mode: str, input_size: int, hidden: int, proj: int = 0) -> tuple[int, int]:
    """(MACs, element-wise ops) of one time step of one direction of one layer.

    MACs: gates × H × (I + H_r) with H_r = proj or H (the size of the fed-back state) — the input and hidden
    products of a gate share one bias-initialised accumulator — plus an LSTM projection's P × H.
    Element-wise, per hidden unit, with s = sigmoid (3) and t = tanh (5):
      RNN  t (or relu 1);
      LSTM 3s (i, f, o) + t (g) + 3 (c = f⊙c + i⊙g) + t (tanh c) + 1 (o⊙) = 23;
      GRU  2s (r, z) + 2 (r⊙(W_hn h + b_hn), + input part) + t (n) + 4 (h = (1−z)⊙n + z⊙h) = 17.
    """
    s, t = ELEMENTWISE_COST["sigmoid"], ELEMENTWISE_COST["tanh"]
    fed_back = proj or hidden
    macs = _GATES[mode] * hidden * (input_size + fed_back) + proj * hidden
    elementwise = {
        "RNN_TANH": t,
        "RNN_RELU": ELEMENTWISE_COST["relu"],
        "LSTM": 3 * s + 2 * t + 4,
        "GRU": 2 * s + t + 6,
    }[mode] * hidden
    return macs, elementwise


def _rnn(m: nn.RNNBase, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[int, int]:
    x = args[0] if args else kwargs["input"]
    if isinstance(x, PackedSequence):
        steps = int(x.data.shape[0])  # Σ lengths: padded steps are never computed
    elif x.dim() == 2:
        steps = int(x.shape[0])  # one unbatched sequence
    else:
        steps = int(x.shape[0] * x.shape[1])  # T × N either way round
    directions = 2 if m.bidirectional else 1
    proj = getattr(m, "proj_size", 0)
    per_step = [0, 0]
    for layer in range(m.num_layers):
        # Layer 0 reads the input; deeper layers read the previous layer's outputs, both directions concatenated.
        in_size = m.input_size if layer == 0 else (proj or m.hidden_size) * directions
        macs, elementwise = _recurrent_step(m.mode, in_size, m.hidden_size, proj)
        per_step[0] += directions * macs
        per_step[1] += directions * elementwise
    return steps * per_step[0], steps * per_step[1]


def _cell(m: nn.RNNCellBase, x: Tensor) -> tuple[int, int]:
    rows = x.numel() // m.input_size  # (N, I) or one unbatched (I,)
    if isinstance(m, nn.LSTMCell):
        mode = "LSTM"
    elif isinstance(m, nn.GRUCell):
        mode = "GRU"
    else:
        mode = "RNN_RELU" if m.nonlinearity == "relu" else "RNN_TANH"
    macs, elementwise = _recurrent_step(mode, m.input_size, m.hidden_size)
    return rows * macs, rows * elementwise


def _attention(m: nn.MultiheadAttention, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[int, int]:
    names = ("query", "key", "value")
    q, k, v = (args[i] if len(args) > i else kwargs[n] for i, n in enumerate(names))
    if q.dim() == 2:  # unbatched (L, E)
        n, length, source = 1, q.shape[0], k.shape[0]
    elif m.batch_first:
        n, length, source = q.shape[0], q.shape[1], k.shape[1]
    else:
        length, n, source = q.shape[0], q.shape[1], k.shape[0]
    source += (m.bias_k is not None) + bool(m.add_zero_attn)  # extra key/value positions appended
    e = m.embed_dim
    macs = (length * e * e                    # q projection
            + source * (m.kdim + m.vdim) * e  # k and v projections
            + 2 * length * source * e         # QKᵀ and attention × V, all heads together
            + length * e * e)                 # output projection
    # Scaling q by 1/√d_head (L·E multiplies) and the softmax over heads × L × S scores.
    elementwise = length * e + ELEMENTWISE_COST["_softmax"] * m.num_heads * length * source
    return n * macs, n * elementwise


_COUNTED_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.conv._ConvNd, nn.Linear, nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd,
    nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()),
    nn.RNNBase, nn.RNNCellBase, nn.MultiheadAttention, nn.GELU, *_FREE,
)


def _module_cost(m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any,
                 c: _Counts) -> tuple[int, int]:
    if isinstance(m, nn.RNNBase):
        return _rnn(m, args, kwargs)
    if isinstance(m, nn.MultiheadAttention):
        return _attention(m, args, kwargs)
    if isinstance(m, _FREE):
        return 0, 0
    x, out = _first_input(args, kwargs), _first_tensor(output)
    if isinstance(m, nn.RNNCellBase):
        return _cell(m, x)
    if isinstance(m, nn.modules.conv._ConvNd):
        return _conv(m, x, out)
    if isinstance(m, nn.Linear):
        return _linear(m, x, out)
    if isinstance(m, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd,
                      nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd)):
        return _pool(m, x, out, c)
    if isinstance(m, nn.GELU):
        return 0, out.numel() * ELEMENTWISE_COST["gelu_tanh" if m.approximate == "tanh" else "gelu"]
    op = _module_op(m)
    if op is not None:
        return 0, out.numel() * ELEMENTWISE_COST[op]
    return _norm(m, x, out)


# -------------------------------------------------------------------------------------- ops outside the layers

def _functional_cost(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> tuple[int, int]:
    """(MACs, element-wise ops) of one aten op run outside any counted layer; (0, 0) for the rest."""
    if name in _MATMUL_OPS:
        a, b = (args[1], args[2]) if name.startswith("add") or name == "baddbmm" else (args[0], args[1])
        return a.numel() * (b.shape[-1] if b.dim() >= 2 else 1), 0  # (…, n, k) @ (…, k, m): n·k·m per matrix
    if name in _CONV_OPS:
        x, w = args[0], args[1]
        transposed = bool(args[6]) if len(args) > 6 else False
        return (x.numel() if transposed else _first_tensor(out).numel()) * math.prod(w.shape[1:]), 0
    if name in _SDPA_OPS:
        q, k, v = args[:3]
        scores = math.prod(q.shape[:-1]) * k.shape[-2]  # batch × heads × L × S
        # QKᵀ and attention × V; scaling each score and the softmax
        return scores * (q.shape[-1] + v.shape[-1]), scores * (1 + ELEMENTWISE_COST["_softmax"])
    t = _first_tensor(out)
    if not isinstance(t, Tensor) or not (t.is_floating_point() or t.is_complex()):
        return 0, 0  # integer arithmetic is index bookkeeping, not the model's maths
    if name == "gelu" and kwargs.get("approximate", args[1] if len(args) > 1 else "none") == "tanh":
        name = "gelu_tanh"
    if name == "clamp":
        bounds = [b for b in (*args[1:3], kwargs.get("min"), kwargs.get("max")) if b is not None]
        return 0, t.numel() * min(2, max(1, len(bounds)))  # one compare per bound
    if name in ("sum", "mean") and isinstance(args[0], Tensor):
        # n − 1 adds per output element, plus the divide of a mean
        return 0, args[0].numel() - (t.numel() if name == "sum" else 0)
    if name in ELEMENTWISE_COST:
        return 0, t.numel() * ELEMENTWISE_COST[name]
    return 0, 0


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
