"""What each layer and each aten op costs: MACs and element-wise operations per call, by formula (conv, linear,
pooling, normalisation, RNN/LSTM/GRU steps, attention) or by the op table. summarize() (flops.py) adds them up per
module; docs/measurement.md states every convention."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

Number = int | float  # per-sample counts are exact ints unless the batch does not divide them (PackedSequence)

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


def _is_counted(module: nn.Module) -> bool:
    """Layers with a closed formula: the dispatch mode stays quiet inside them and their children get no row."""
    return isinstance(module, _COUNTED_TYPES) or _module_op(module) is not None


def _module_op(module: nn.Module) -> str | None:
    """The element-wise op of an activation module, through subclasses (ReLU6 is a Hardtanh)."""
    for cls in type(module).__mro__:
        if cls in _MODULE_OPS:
            return _MODULE_OPS[cls]
    return None
