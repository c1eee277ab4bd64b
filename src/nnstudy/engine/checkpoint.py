"""Weights (safetensors) and resumable checkpoints (torch.save, loaded with weights_only=True).

Also imports published checkpoints: a plain state_dict ``.pt``/``.pth``, with or without DataParallel's
``module.`` prefix, or wrapped as ``{'state_dict': ...}`` / ``{'net': ...}`` / ``{'model': ...}``; or a
``.safetensors`` file. Mismatched keys or shapes are reported by name.

Each published format expects its inputs normalised its own way (``WEIGHTS_FORMATS``): the format is detected from
the file's structure (or named, ``--weights-preset``) and chooses the data's normalisation (``weights_config``),
since weights scored with another normalisation lose accuracy without any error.

Every file is loaded with ``weights_only=True``, whatever it holds. A file that does not load is described in one
line (empty, random bytes, a zip or pickle that is not a torch file, a pickle of other objects...) as a
CheckpointError; the message never suggests loading it unsafely.
"""
from __future__ import annotations

import io
import pickle
import pickletools
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import nn

from ..errors import CheckpointError, ConfigError, clip
from ..io import write_bytes

if TYPE_CHECKING:
    from ..config import RunConfig

__all__ = ["save_weights", "load_weights", "read_state_dict", "read_weights", "fit_state_dict",
           "fit_optimizer_state", "save_checkpoint", "load_checkpoint", "error_reason",
           "WeightsFormat", "WEIGHTS_FORMATS", "weights_format", "weights_config"]

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "net", "model")
_RESTART = "delete it to start the run again"


# Both writers serialise to memory first (a checkpoint is a few MB to a few hundred): the file is then written by
# Python, so a full disk is an OSError that io turns into "no space left on device at PATH", not torch's
# "enforce fail ... file write failed".

def save_weights(model: nn.Module, path: str | Path) -> None:
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    write_bytes(path, safetensors_bytes(state))


@dataclass(frozen=True)
class WeightsFormat:
    """A known layout of weights files, and the input normalisation its weights were trained with."""

    name: str
    normalize: str | None   # data normalisation preset (data.transforms.NORMALIZE); None: the run's own
    layout: str             # how a file of this format is recognised
    source: str             # where such files come from


# Detected in the order nnstudy → pytorch_resnet_cifar10 → huyvnphan; what no format claims is scored as ours.
WEIGHTS_FORMATS: dict[str, WeightsFormat] = {f.name: f for f in (
    WeightsFormat("nnstudy", None, "a .safetensors file, or any torch file no other format claims",
                  "nnstudy runs (model.safetensors): the normalisation the config names"),
    WeightsFormat("huyvnphan", "cifar10", "a plain state_dict with torchvision's ResNet names (layer4, fc)",
                  "huyvnphan/PyTorch_CIFAR10 (resnet18/34/50 .pt), trained on its CIFAR-10 mean/std"),
    WeightsFormat("pytorch_resnet_cifar10", "imagenet",
                  "{'best_prec1': ..., 'state_dict': {'module.…': ...}} (a .th file)",
                  "akamaster/pytorch_resnet_cifar10 (resnet20…110 .th), trained on ImageNet's mean/std"),
)}


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], WeightsFormat]:
    """Tensors from a safetensors file or a (possibly wrapped, possibly `module.`-prefixed) torch state_dict, and
    the format the file's structure shows (``WEIGHTS_FORMATS``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such weights file")
    if path.suffix == ".safetensors":
        return _read_safetensors(path), WEIGHTS_FORMATS["nnstudy"]
    obj = _torch_load(path)
    published = isinstance(obj, dict) and "best_prec1" in obj and isinstance(obj.get("state_dict"), dict)
    wrapped = False
    for key in _WRAPPER_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj, wrapped = obj[key], True
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: expected a state_dict of tensors (optionally under "
                              f"{', '.join(repr(k) for k in _WRAPPER_KEYS)})")
    if obj and all(isinstance(k, str) and k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    if published:
        return obj, WEIGHTS_FORMATS["pytorch_resnet_cifar10"]
    if not wrapped and "fc.weight" in obj and any(str(k).startswith("layer4.") for k in obj):
        return obj, WEIGHTS_FORMATS["huyvnphan"]
    return obj, WEIGHTS_FORMATS["nnstudy"]


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a safetensors file or a (possibly wrapped, possibly `module.`-prefixed) torch state_dict."""
    return read_weights(path)[0]


def weights_format(path: str | Path, preset: str | None = None) -> WeightsFormat:
    """The format named by `preset` (ConfigError listing the names when unknown), else the one `path` shows."""
    if preset is None:
        return read_weights(path)[1]
    if preset not in WEIGHTS_FORMATS:
        raise ConfigError(f"unknown weights preset {clip(preset, quote=True)}; choose one of "
                          f"{', '.join(WEIGHTS_FORMATS)}")
    return WEIGHTS_FORMATS[preset]


def weights_config(cfg: RunConfig, path: str | Path, preset: str | None = None) -> tuple[RunConfig, WeightsFormat]:
    """`cfg` with the data normalisation that the weights in `path` expect, and their format (`preset`, or detected
    from the file). A format with no normalisation of its own (nnstudy's) leaves `cfg` as it is.

    Raises ConfigError when the format needs a normalisation and the dataset takes no ``normalize`` argument.
    """
    from ..config import apply_overrides, config_to_dict
    from ..data import DATASETS
    from ..resolution import load_config, resolve
    fmt = weights_format(path, preset)
    if fmt.normalize is None:
        return cfg, fmt
    cfg = resolve(cfg)
    if "normalize" not in DATASETS.get(cfg.data.name).signature.parameters:
        raise ConfigError(f"{path}: {fmt.name} weights expect images normalised with the {fmt.normalize!r} "
                          f"preset, and dataset {cfg.data.name!r} has no normalize argument (--weights-preset "
                          f"nnstudy scores them as the config says)")
    if (cfg.data.model_extra or {}).get("normalize") == fmt.normalize:
        return cfg, fmt
    return load_config(apply_overrides(config_to_dict(cfg), [f"data.normalize={fmt.normalize}"])), fmt


def load_weights(model: nn.Module, path: str | Path) -> None:
    """Load weights strictly; any missing, unexpected or wrongly shaped tensor is a CheckpointError by name."""
    fit_state_dict(model, read_state_dict(path), path)


def fit_state_dict(model: nn.Module, state: Mapping[str, Any], path: str | Path) -> None:
    """Load `state` (a state_dict read from `path`) into `model` strictly.

    Raises CheckpointError "PATH: does not fit MODELCLASS: missing N (...); unexpected N (...); shape mismatch N
    (...)" when the keys or shapes differ (e.g. a checkpoint of another architecture), or when `state` is not a
    state_dict at all; one line, never torch's multi-line size-mismatch RuntimeError.
    """
    where = f"{path}: does not fit {type(model).__name__}"
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{where}: the weights are not a state_dict ({type(state).__name__})")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [str(k) for k in state if k not in own]
    not_tensors = [k for k in own if k in state and not isinstance(state[k], torch.Tensor)]
    shapes = [f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if isinstance(state.get(k), torch.Tensor) and state[k].shape != own[k].shape]
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} ({_few(missing)})")
    if unexpected:
        parts.append(f"unexpected {len(unexpected)} ({_few(unexpected)})")
    if shapes:
        parts.append(f"shape mismatch {len(shapes)} ({_few(shapes)})")
    if not_tensors:
        parts.append(f"not tensors {len(not_tensors)} ({_few(not_tensors)})")
    if parts:
        raise CheckpointError(f"{where}: " + clip("; ".join(parts), 320))
    try:
        model.load_state_dict(state, strict=True)   # as given: keeps its _metadata (module versions)
    except (RuntimeError, ValueError, TypeError, KeyError) as e:   # e.g. a module's own _load_from_state_dict
        raise CheckpointError(f"{where}: {error_reason(e)}") from None


def fit_optimizer_state(optimizer: Any, state: Any, path: str | Path, what: str = "optimizer state") -> None:
    """optimizer.load_state_dict(state), with a mismatch (another number or size of parameter groups, a state
    that is not an optimizer's) raised as one-line CheckpointError "PATH: WHAT does not fit OPTIMIZERCLASS: ...".

    Works for anything with load_state_dict (an LR scheduler, Lookahead); `what` names it in the message.
    """
    where = f"{path}: {what} does not fit {type(optimizer).__name__}"
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{where}: not a state dict ({type(state).__name__})")
    try:
        optimizer.load_state_dict(state)
    except (ValueError, KeyError, TypeError, IndexError, RuntimeError) as e:
        reason = f"no {e.args[0]!r} entry" if isinstance(e, KeyError) and e.args else error_reason(e)
        raise CheckpointError(f"{where}: {clip(reason, 200)}") from None


def _few(items: list[str], n: int = 3) -> str:
    return ", ".join(clip(str(i), 60) for i in items[:n]) + (f", … {len(items) - n} more" if len(items) > n else "")


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | Path, required: Iterable[str] = ()) -> dict[str, Any]:
    """A training checkpoint (a dict saved by save_checkpoint), loaded with weights_only=True.

    Raises CheckpointError (one line, ending with the advice to delete the file) when the file does not load, is
    not a dict, or lacks any of the `required` top-level keys (named in the message).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    obj = _torch_load(path, _RESTART)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: not a training checkpoint (a {type(obj).__name__}, not a dict); "
                              f"{_RESTART}")
    missing = [str(k) for k in ((required,) if isinstance(required, str) else required) if k not in obj]
    if missing:
        raise CheckpointError(f"{path}: not a training checkpoint of this nnstudy version (missing "
                              f"{clip(', '.join(missing), 200)}); {_RESTART}")
    return obj


# -------------------------------------------------------------------------------------------- reading files

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# torch.save's legacy (non-zip) format starts with a protocol-2 pickle of this magic number
_LEGACY_TORCH = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."
# globals of a plain state_dict: its container and the tensor rebuilders (anything else is an object of a class)
_PLAIN_GLOBALS = re.compile(r"(collections OrderedDict|torch\._utils _rebuild_\w+|torch \w+)$")


def error_reason(e: BaseException, limit: int = 200) -> str:
    """Why something failed, as one short line: the first non-empty line of the exception's message (its type
    when the message is empty or says nothing on its own). Never torch's advice to load with weights_only=False."""
    line = next((" ".join(s.split()) for s in _ANSI.sub("", str(e)).splitlines() if s.strip()), "")
    if "weights_only" in line.lower():
        return "refused by the safe loader: only tensors and plain containers are loaded"
    if not line:
        return {"EOFError": "the file ends too early"}.get(type(e).__name__, type(e).__name__)
    if isinstance(e, (KeyError, IndexError)) or len(line) < 4:
        line = f"{type(e).__name__}: {line}"
    return clip(line, limit)


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as e:
        raise CheckpointError(f"{path}: {_describe_safetensors(path, e)}") from None


def _describe_safetensors(path: Path, e: BaseException) -> str:
    if _size(path) == 0:
        return "empty file (0 bytes), not a safetensors file"
    reason = error_reason(e, 160).removeprefix("Error while deserializing header: ")
    return f"not a readable safetensors file ({reason})"


def _torch_load(path: Path, advice: str = "") -> Any:
    """torch.load(path, weights_only=True), any failure raised as a one-line CheckpointError describing the file."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise CheckpointError(f"{path}: not a torch checkpoint (random or corrupt bytes: it asks for more "
                              f"memory than there is)" + (f"; {advice}" if advice else "")) from None
    except Exception as e:          # any failure to parse a user's file is about the file, not nnstudy
        raise CheckpointError(f"{path}: {_describe(path, e)}" + (f"; {advice}" if advice else "")) from None


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _describe(path: Path, e: BaseException) -> str:
    """What the file that torch.load refused is, from its first bytes (and torch's error only where it says)."""
    if isinstance(e, SafetensorError) or path.suffix == ".safetensors":   # torch.load hands these to safetensors
        return _describe_safetensors(path, e)
    size = _size(path)
    if size is None:
        return f"cannot be read ({error_reason(e)})"
    if size == 0:
        return "empty file (0 bytes)"
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError as err:
        return f"cannot be read ({error_reason(err)})"
    refused = _refused_global(str(e)) if isinstance(e, pickle.UnpicklingError) else None
    if refused:
        return _objects(refused)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            return "a truncated or corrupt zip archive (not a complete torch file)"
        if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return "a zip archive that is not a torch file"
        return f"a torch file that cannot be read ({error_reason(e)})"
    if len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < size:
        return "a safetensors file without the .safetensors suffix (rename it to end in .safetensors)"
    if head.startswith(_LEGACY_TORCH):
        return f"a truncated or corrupt torch file (old format; {error_reason(e)})"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:       # a pickle (protocol 2 and newer)
        classes = [g for g in _pickle_globals(head) if not _PLAIN_GLOBALS.match(g)]
        if classes:
            return _objects(classes[0].replace(" ", "."))
        return "a Python pickle, not a torch file (save it with torch.save or as .safetensors)"
    return "not a torch checkpoint (random or corrupt bytes)"


def _objects(name: str) -> str:
    return (f"a pickle with objects other than tensors (refused: only tensors and plain containers are loaded; "
            f"it refers to {clip(name, 80)})")


def _refused_global(message: str) -> str | None:
    """The class the safe loader refused, from its message ('Unsupported global: GLOBAL pkg.Class was not ...')."""
    # torch words it 'Unsupported global: GLOBAL pkg.Class' or 'unsupported GLOBAL posix.system whose module ...'
    m = re.search(r"unsupported global:? (?:GLOBAL )?(\S+)", _ANSI.sub("", message), re.IGNORECASE)
    return m.group(1) if m else None


def _pickle_globals(head: bytes, max_ops: int = 20_000) -> list[str]:
    """'module name' of every class a pickle refers to, from its opcodes (read, never executed): GLOBAL's
    argument, or for STACK_GLOBAL the two strings pushed before it."""
    found, strings = [], []
    try:
        for i, (op, arg, _) in enumerate(pickletools.genops(io.BytesIO(head))):
            if i >= max_ops:
                break
            if op.name == "GLOBAL":
                found.append(str(arg))
            elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
                strings.append(str(arg))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]} {strings[-1]}")
    except Exception:               # the 64 KiB read ends mid-pickle, or it is not a pickle after all
        pass
    return found
