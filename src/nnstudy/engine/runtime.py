"""Where and how a model computes: device, precision, memory format and threads, set up once per run and shared by
the training loop, evaluation and the benchmarks.

``train.precision: auto`` (the default) is decided from the hardware by :func:`decide_precision`, a pure function
of what the machine reports, so the same machine always makes the same choice (and a seed gives the same numbers
there):

- CUDA with bf16 (compute capability ≥ 8.0) → bf16 autocast, and TF32 for the fp32 matmuls left;
  CUDA 7.x → fp16 autocast with a gradient scaler; older → fp32;
- a CPU whose bf16 arithmetic outruns its fp32 → bf16 autocast: AMX tiles (``amx_bf16``), or AVX-512 BF16
  (``avx512_bf16``) on an AMD core, where training is 1.5-2.2× faster than fp32 — unless a training step is too
  small for bf16 to pay (fewer than ``MIN_BF16_CPU_MACS`` forward multiply-adds). Not on an Intel core with
  ``avx512_bf16`` and no AMX: bf16 training was 0.58-0.97× fp32's speed on one (Xeon family 6 model 207), nor on
  AVX2-only CPUs, where bf16 is emulated and 4-5× slower (docs/benchmarks.md);
- anything else (MPS, other CPUs) → fp32;
- except a model or task that declares it loses accuracy in bf16 (``fp32_reason``; measured, see
  docs/benchmarks.md): auto keeps fp32 for it.

``fp32`` / ``bf16`` / ``fp16`` force one. The summary records the choice and why.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from typing import Any, Iterable

import torch
from torch import nn

from ..errors import ConfigError
from ..measure import forward_cost
from ..measure.environment import cpuinfo
from .device import pick_device, set_threads, to_memory_format, use_channels_last

__all__ = ["Runtime", "decide_precision", "cpu_flags", "cpu_vendor", "cuda_capability", "BF16_CPU_FLAGS",
           "MIN_BF16_CPU_MACS", "AVX512_BF16_VENDORS"]

# CPU flags (Linux /proc/cpuinfo names) of native bf16 arithmetic: AMX tiles, AVX-512 BF16 dot products
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
# The vendors (/proc/cpuinfo vendor_id) whose cores make AVX-512 BF16 pay without AMX. AMD Zen 4 and Zen 5: bf16
# training 1.5-2.2× fp32. Not Intel: on a Xeon (family 6 model 207, avx512_bf16 and avx512_fp16, AMX not exposed)
# bf16 matmuls ran at 0.5-0.6× fp32's GFLOP/s and training steps at 0.58-0.97× (benchmarks/matmul_precision.py,
# precision_speed.py). The likely reason: its bf16 dot products do no more multiply-adds per cycle than its two
# fp32 FMA ports, so only autocast's casts remain.
AVX512_BF16_VENDORS = ("AuthenticAMD",)
# Autocast casts weights and activations at every op: a cost per op that bf16's faster arithmetic repays only when
# the op has enough of it. Forward multiply-adds per training step (per-sample MACs × batch) below which bf16 is
# slower on a CPU (benchmarks/precision_speed.py, AMD EPYC Zen 4, 2 threads: MLP-2 at batch 4, 1.5 M, 16 % slower;
# the seizure 1-D CNN at 32, 4.1 M, 18 % slower; MLP-5 at batch 4, 7.0 M, 17 % faster; the tutorial CNN at 32,
# 21 M, even).
MIN_BF16_CPU_MACS = 5e6


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux names them (empty where they cannot be read: auto stays fp32 on the CPU)."""
    return frozenset(cpuinfo().get("flags", "").split())


def cpu_vendor() -> str:
    """The CPU's vendor as Linux names it ("AuthenticAMD", "GenuineIntel"; empty where it cannot be read)."""
    return cpuinfo().get("vendor_id", "")


def cuda_capability(device: torch.device) -> tuple[int, int] | None:
    if device.type != "cuda":
        return None
    return torch.cuda.get_device_capability(device)


def decide_precision(setting: str, device_type: str, *, flags: Iterable[str] = (), vendor: str = "",
                     capability: tuple[int, int] | None = None, fp32_reason: str | None = None,
                     step_macs: float | None = None) -> tuple[str, str]:
    """(precision, why) for `setting` (auto / fp32 / bf16 / fp16) on a device of `device_type` whose CPU (made by
    `vendor`) reports `flags`, or whose CUDA compute capability is `capability`. `fp32_reason`: the model or task
    keeps fp32 under auto, and why; `step_macs`: forward multiply-adds of one training step (None: not known, not
    used). Pure: tested on tables of flags, vendors and capabilities."""
    if setting != "auto":
        return setting, f"train.precision={setting}"
    if fp32_reason:
        return "fp32", fp32_reason
    if device_type == "cuda":
        if capability is None:
            return "fp32", "CUDA device of unknown compute capability"
        sm = f"sm_{capability[0]}{capability[1]}"
        if capability >= (8, 0):
            return "bf16", f"CUDA {sm}: native bf16 (TF32 for fp32 matmuls)"
        if capability >= (7, 0):
            return "fp16", f"CUDA {sm}: fp16 tensor cores, no bf16 (loss scaling)"
        return "fp32", f"CUDA {sm}: no fast half precision"
    if device_type == "cpu":
        flags = set(flags)
        if "amx_bf16" in flags:
            native = "amx_bf16"
        elif "avx512_bf16" in flags and vendor in AVX512_BF16_VENDORS:
            native = "avx512_bf16"
        elif "avx512_bf16" in flags:
            return "fp32", (f"cpu flags: avx512_bf16 without amx_bf16 on {vendor or 'a CPU of unknown vendor'}: "
                            "bf16 is slower than fp32 on such cores (measured 0.58-0.97× on an Intel Xeon)")
        else:
            return "fp32", "cpu flags: no avx512_bf16 or amx_bf16 (bf16 would be emulated, slower)"
        if step_macs is not None and step_macs < MIN_BF16_CPU_MACS:
            return "fp32", (f"cpu flags: {native}, but {step_macs / 1e6:.1f} M multiply-adds per training step: "
                            f"too few for bf16 to pay (< {MIN_BF16_CPU_MACS / 1e6:.0f} M)")
        return "bf16", f"cpu flags: {native}"
    return "fp32", f"{device_type}: fp32"


def fp32_reason(*parts: Any) -> str | None:
    """Why a model or task keeps fp32 under auto: the first ``fp32_reason`` attribute among `parts`."""
    for part in parts:
        reason = getattr(part, "fp32_reason", None)
        if reason:
            return str(reason)
    return None


@dataclass(frozen=True)
class Runtime:
    """Device, precision, memory format and threads of one run (or one evaluation, or one benchmark)."""

    device: torch.device
    precision: str                 # fp32, bf16 or fp16: what autocast computes in
    precision_reason: str          # why: "cpu flags: avx512_bf16", "train.precision=fp32", ...
    channels_last: bool            # NHWC activations (conv nets)
    threads: int                   # torch intra-op threads
    compile: bool = False          # the training step's model through torch.compile (inductor)
    cost: dict[str, Any] | None = field(default=None, compare=False)   # forward_cost, where auto counted it

    @classmethod
    def setup(cls, *, device: str | torch.device = "auto", precision: str = "auto", threads: int | None = None,
              channels_last: bool | str = "auto", model: nn.Module | None = None, task: Any = None,
              data: Any = None, batch_size: int | None = None, compile: bool = False) -> "Runtime":
        """Set the threads, pick the device and decide precision and memory format for `model` (and `task`);
        `data` and the training `batch_size` let auto weigh a step's arithmetic (the same choice for a run's
        training and for its later evaluation)."""
        set_threads(threads)
        dev = device if isinstance(device, torch.device) else pick_device(device)
        if compile and dev.type == "cpu" and not cpp_compiler():
            raise ConfigError("train.compile=true: torch.compile on the CPU needs a C++ compiler (inductor writes "
                              "C++); none found (CXX, g++, clang++, c++): install one, or set train.compile=false")
        keep = fp32_reason(model, task)
        flags = cpu_flags() if dev.type == "cpu" else frozenset()
        cost = macs = None
        if precision == "auto" and flags & set(BF16_CPU_FLAGS) and not keep and data is not None and batch_size \
                and model is not None:
            cost = forward_cost(model, data.info.input_shape)   # the run summary reuses it
            macs = _step_macs(cost, batch_size)
        chosen, why = decide_precision(precision, dev.type, flags=flags, vendor=cpu_vendor() if flags else "",
                                       capability=cuda_capability(dev),
                                       fp32_reason=keep, step_macs=macs)
        if dev.type == "cuda" and precision == "auto" and (cuda_capability(dev) or (0, 0)) >= (8, 0):
            torch.backends.cuda.matmul.allow_tf32 = True   # the fp32 matmuls autocast leaves (e.g. the loss)
            torch.backends.cudnn.allow_tf32 = True
        fmt = use_channels_last(channels_last, model) if model is not None else bool(channels_last is True)
        return cls(dev, chosen, why, fmt, torch.get_num_threads(), bool(compile), cost)

    def prepare(self, model: nn.Module) -> nn.Module:
        """`model` on this device, in this memory format."""
        model = model.to(self.device)
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def compiled(self, model: nn.Module) -> nn.Module:
        """What the training step calls: `model` through torch.compile when asked, sharing its parameters (the
        state_dict saved stays the model's own). Static shapes: the last, smaller batch of an epoch compiles once
        more, then both are cached."""
        return torch.compile(model, dynamic=False) if self.compile else model

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """A batch of inputs in this memory format."""
        return to_memory_format(x, self.channels_last)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """fp16 needs its loss scaled (its range ends at 65,504); bf16 and fp32 do not."""
        return torch.amp.GradScaler(self.device.type) if self.precision == "fp16" else None

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def describe(self) -> dict[str, Any]:
        """What the run summary records."""
        return {"device": str(self.device), "precision": self.precision, "precision_reason": self.precision_reason,
                "memory_format": "channels_last" if self.channels_last else "contiguous", "threads": self.threads,
                "compile": self.compile}


def _step_macs(cost: dict[str, Any], batch_size: int) -> float | None:
    """Forward multiply-adds of one training step: the per-sample count of nnstudy.measure (one pass on zeros in
    eval mode: no random draws, the model unchanged) × `batch_size`."""
    return float(cost["macs"]) * batch_size if "macs" in cost else None   # not countable: decide without it


def cpp_compiler() -> str | None:
    """The C++ compiler inductor would use on the CPU, if there is one."""
    for name in (os.environ.get("CXX"), "g++", "clang++", "c++"):
        if name and shutil.which(name):
            return name
    return None
