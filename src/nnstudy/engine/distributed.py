"""One run on several processes (DistributedDataParallel): the process group, each rank's share of a batch, the
collectives the loop needs, and the launcher.

`nnstudy train CONFIG --nproc N` (train.nproc=N) starts N local processes through torch's elastic launcher (what
torchrun runs); the same `nnstudy train` started by `torchrun --nnodes M --nproc-per-node N` joins the process group
torchrun made instead. gloo on CPU, nccl on CUDA (one GPU per process: cuda:LOCAL_RANK).

Every rank builds the same data, model and optimiser. The per-epoch order is the single-process one; each global
batch (train.batch_size) is augmented whole, with the generator every rank holds in the same state, and rank r
trains on its contiguous share of it, its mean loss weighted by share × world / batch: DDP's average of the ranks'
gradients is then the gradient of the global batch's mean loss, whatever the split. The Task's per-batch sums add
over ranks. Rank 0 alone touches the run directory. docs/cluster.md says what equals a single-process run.
"""
from __future__ import annotations

import contextlib
import datetime
import logging
import math
import os
import re
import signal
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..config import RunConfig
from ..errors import EXIT_TRY_AGAIN, ConfigError, NnstudyError, clip
from .device import pick_device, set_threads

__all__ = ["Group", "SINGLE", "RankFailed", "TIMEOUT", "join", "leave", "launch", "launched", "check",
           "train_steps", "rank_seed", "add_sums", "unused_parameters"]

T = TypeVar("T")

# How long a rank waits in a collective before the run ends with an error: the backstop for a rank that hangs, or
# dies on another node (on this node the launcher ends the others at once). Nothing in the loop makes ranks wait on
# each other for more than seconds (evaluation is sharded; rank 0 writes a checkpoint), so this fires on failures
# only. 10 minutes, NCCL's default.
TIMEOUT = datetime.timedelta(minutes=10)
# Seconds a rank that lost contact with the others waits before it ends: the launcher then sees the rank that
# failed first (it polls every 0.1 s) and reports that one, not the ranks that merely lost their peer.
_PAUSE_S = 3.0


class RankFailed(NnstudyError):
    """A rank of a run on several processes died or lost contact with the others: the run is kept (--resume)."""

    exit_code = EXIT_TRY_AGAIN


@dataclass(frozen=True)
class Group:
    """This process's place in a run and the collectives the loop needs; with one process every one is the
    identity, so the single-process path computes exactly what it computed before."""

    rank: int = 0
    world: int = 1
    local_world: int = 1
    backend: str | None = None          # "gloo" (CPU) or "nccl" (CUDA); None: one process
    device: torch.device | None = None  # cuda:LOCAL_RANK or cpu; None: one process (the loop picks the device)
    owned: bool = False                 # this module made the process group (and destroys it in leave())
    # the process group of the small messages below (a flag per step, gathered sums, checkpoints): gloo on the
    # CPU, so that none of them waits for the GPU; None = the default group (already gloo on CPU)
    control: Any = None

    @property
    def main(self) -> bool:
        return self.rank == 0

    def share(self, n: int) -> slice:
        """This rank's contiguous share of a global batch of n samples (the first n % world ranks take one more)."""
        base, extra = divmod(n, self.world)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (self.rank < extra))

    def gather(self, obj: T) -> list[T]:
        """Every rank's `obj`, in rank order, on every rank (any picklable object; put tensors on the CPU)."""
        if self.world == 1:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj, group=self.control)
        return out

    def broadcast(self, obj: T) -> T:
        """Rank 0's `obj` on every rank."""
        if self.world == 1:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0, group=self.control)
        return box[0]

    def flag(self, value: bool) -> bool:
        """Rank 0's `value` on every rank: a decision rank 0 takes by its clock (a mid-epoch checkpoint), which the
        others must take at the same step. One tiny broadcast on the CPU."""
        if self.world == 1:
            return value
        t = torch.tensor([int(value)])
        dist.broadcast(t, src=0, group=self.control)
        return bool(t.item())

    def add(self, sums: dict[str, Any]) -> dict[str, Any]:
        """Plain sums (numbers, lists of numbers; see evaluation.plain) added over the ranks in rank order: the
        same result on every rank, whichever keys each rank saw."""
        return sums if self.world == 1 else add_sums(self.gather(sums))

    def interleave(self, per_batch: list[T]) -> list[T]:
        """Batches k = rank, rank + world, ... of every rank, gathered back into the order k = 0, 1, 2, ..."""
        if self.world == 1:
            return per_batch
        parts = self.gather(per_batch)
        return [parts[k % self.world][k // self.world] for k in range(sum(len(p) for p in parts))]

    def on_main(self, fn: Callable[[], T]) -> T:
        """Rank 0 calls `fn` (reads or checks files only rank 0 may touch); its result, or the NnstudyError it
        raised, reaches every rank, so all ranks go on or all end with the same one-line error."""
        if self.world == 1:
            return fn()
        outcome: tuple[str, Any] = ("ok", None)
        if self.main:
            try:
                outcome = ("ok", fn())
            except NnstudyError as e:
                outcome = ("error", e)
        kind, value = self.broadcast(outcome)
        if kind == "error":
            raise value
        return value

    def replicate(self, model: nn.Module) -> nn.Module:
        """`model` in DistributedDataParallel (gradients averaged over ranks in backward), or `model` itself."""
        if self.world == 1:
            return model
        ids = [self.device] if self.device is not None and self.device.type == "cuda" else None
        return _Replica(_Entry(model), device_ids=ids)

    def copy_buffers(self, model: nn.Module) -> None:
        """Rank 0's buffers (BatchNorm running statistics) into every rank's model before a sharded evaluation:
        in training each rank updates them from its own share, and rank 0's are the ones saved."""
        if self.world == 1 or not any(True for _ in model.buffers()):
            return
        self.load_main_state(model, dict(model.named_buffers()), strict=False)

    def load_main_state(self, model: nn.Module, state: dict[str, torch.Tensor] | None = None,
                        strict: bool = True) -> None:
        """Rank 0's `state` (default: its model's state_dict) loaded into every rank's model (rank 0 may be the only
        one that can read the run directory, on another node)."""
        if self.world == 1:
            return
        own = state if state is not None else model.state_dict()
        received = self.broadcast({k: v.detach().cpu() for k, v in own.items()} if self.main else None)
        if not self.main:
            model.load_state_dict(received, strict=strict)

    @contextlib.contextmanager
    def reporting(self) -> Iterator[None]:
        """A collective that fails because another rank is gone (died, ended with an error, timed out) becomes a
        one-line RankFailed, after a pause that lets the launcher report the rank that failed first."""
        try:
            yield
        except Exception as e:
            if self.world == 1 or isinstance(e, NnstudyError) or not _lost_contact(e):
                raise
            time.sleep(_PAUSE_S)
            raise RankFailed(f"rank {self.rank} lost contact with the other processes "
                             f"({clip(' '.join(str(e).split()), 160)})") from None


SINGLE = Group()


class _Entry(nn.Module):
    """The model behind DDP, with its other entry points (a recurrent forecaster's forward_steps) routed through
    forward: DDP averages the gradients only of what went through its own forward."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *args: Any, _method: str = "forward", **kwargs: Any) -> Any:
        return getattr(self.model, _method)(*args, **kwargs)


class _Replica(DistributedDataParallel):
    """DDP of an _Entry that also answers the model's forward_* methods (a Task asks for forward_steps)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.startswith("forward_") and callable(getattr(self.module.model, name, None)):
                return lambda *args, **kwargs: self(*args, _method=name, **kwargs)
            raise


def add_sums(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Plain sums of several ranks added key by key, in the order given."""
    out: dict[str, Any] = {}
    for part in parts:
        for k, v in part.items():
            out[k] = _add(out[k], v) if k in out else v
    return out


def _add(a: Any, b: Any) -> Any:
    return [_add(x, y) for x, y in zip(a, b, strict=True)] if isinstance(a, list) else a + b


def _lost_contact(e: BaseException) -> bool:
    if isinstance(e, dist.DistError):
        return True
    text = str(e)   # gloo raises plain RuntimeErrors ("...gloo/transport/tcp/pair.cc: Connection closed by peer")
    return isinstance(e, RuntimeError) and any(s in text for s in ("gloo", "NCCL", "Connection closed by peer",
                                                                   "Connection reset by peer"))


def unused_parameters(e: BaseException, model: nn.Module) -> ConfigError | None:
    """DDP's error for trainable parameters that got no gradient, as one line naming them (None for others)."""
    if "find_unused_parameters" not in str(e):
        return None
    found = re.search(r"did not receive grad for rank \d+: ([\d ]+)", str(e))
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]   # DDP's numbering
    names = [trainable[int(i)] for i in found.group(1).split() if int(i) < len(trainable)] if found else []
    return ConfigError(f"{type(model).__name__} has trainable parameters that take no part in the loss"
                       f"{' (' + clip(', '.join(names), 160) + ')' if names else ''}; on several processes every "
                       f"one needs a gradient (DDP): freeze them (requires_grad=False) or leave them out")


def train_steps(n: int, batch_size: int, world: int = 1) -> int:
    """Optimiser steps per epoch over n training samples. A last batch in which some rank's share would have
    fewer than 2 samples (n % batch_size < 2 × world) is dropped, the next epoch's shuffle covers it: BatchNorm
    cannot train on one sample. With one process that is the last batch of exactly one sample."""
    steps = math.ceil(n / batch_size)
    rest = n % batch_size
    return steps - 1 if 0 < rest < 2 * world and steps > 1 else steps


def rank_seed(seed: int, rank: int, attempt: int) -> int:
    """The global generator's seed of rank r > 0 (its dropout masks) in attempt a of a run: each rank draws its
    own. Rank 0 keeps the single-process stream."""
    return ((seed * 1_000_003 + rank) * 1_009 + attempt) * 7 + 2


# ---------------------------------------------------------------------------------------------- joining a group

def launched() -> bool:
    """Whether this process is one rank of several, started by torchrun or by launch()."""
    return "RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1") or 1) > 1


def check(cfg: RunConfig, world: int, local_world: int, by_torchrun: bool = False) -> torch.device:
    """This rank's device type for a run on `world` processes, `local_world` of them on this machine; one-line
    ConfigErrors for what cannot work."""
    t = cfg.train
    if by_torchrun and t.nproc not in (1, local_world):
        raise ConfigError(f"train.nproc={t.nproc}, but torchrun started {local_world} processes on this machine: "
                          f"drop --nproc (torchrun's --nproc-per-node decides)")
    if t.batch_size < world:
        raise ConfigError(f"train.batch_size={t.batch_size} is the global batch, split over {world} processes: it "
                          f"must be at least {world}")
    device = pick_device(t.device)
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"a run on several processes trains on cpu (gloo) or cuda (nccl), not {device.type}: "
                          f"set train.device=cpu")
    if device.index is not None:
        raise ConfigError(f"train.device={clip(t.device, quote=True)} names one GPU; with several processes each "
                          f"takes GPU LOCAL_RANK: use train.device=cuda (or auto)")
    if device.type == "cuda" and local_world > torch.cuda.device_count():
        raise ConfigError(f"{local_world} processes on this machine need {local_world} GPUs, it has "
                          f"{torch.cuda.device_count()}")
    return device


def join(cfg: RunConfig) -> Group:
    """The group this process trains in: one rank of torchrun's (or launch's) processes, or SINGLE alone."""
    if not launched():
        return SINGLE
    world, rank = int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    # (under launch() train.nproc equals local_world, so the check for torchrun's count holds there too)
    device = check(cfg, world, local_world, by_torchrun=True)
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    elif cfg.train.threads is None:   # the machine's cores shared between its ranks, not each taking them all
        set_threads(max(1, torch.get_num_threads() // local_world))
    backend = "nccl" if device.type == "cuda" else "gloo"
    owned = not dist.is_initialized()
    if owned:
        dist.init_process_group(backend, timeout=TIMEOUT)
    control = dist.new_group(backend="gloo", timeout=TIMEOUT) if backend == "nccl" else None
    return Group(rank, world, local_world, backend, device, owned, control)


def leave(group: Group) -> None:
    if group.owned and dist.is_initialized():
        dist.destroy_process_group()


# ------------------------------------------------------------------------------------------------- launching

def launch(entry: Callable[..., Any], args: tuple, cfg: RunConfig) -> None:
    """`entry(*args)` in cfg.train.nproc local processes started by torch's elastic launcher (no restarts: a
    rank that fails ends the others at once). The first rank to fail is raised here as its own error class and
    one-line message, or as RankFailed when it died of a signal."""
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    nproc = cfg.train.nproc
    check(cfg, nproc, nproc)
    where = Path(cfg.out_dir) / str(cfg.name)
    with tempfile.TemporaryDirectory(prefix="nnstudy-ranks-") as logs, _supervising():
        # as `torchrun --standalone`: a rendezvous on a free local port
        config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=uuid.uuid4().hex,
                              rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0,
                              monitor_interval=0.1, start_method="spawn", logs_specs=DefaultLogsSpecs(log_dir=logs))
        try:
            elastic_launch(config, entry)(*args)
        except ChildFailedError as e:
            raise _first_failure(e, where) from None
        except SignalException:
            raise KeyboardInterrupt from None


@contextlib.contextmanager
def _supervising() -> Iterator[None]:
    """While the launcher supervises: torch's own log lines about the failure we report are quiet (LOGLEVEL=INFO
    shows them), and the signal handlers and environment variable it sets in this process are undone after."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    env = {k: os.environ.get(k) for k in ("TORCHELASTIC_SIGNALS_TO_HANDLE",)}
    levels = {}
    if "LOGLEVEL" not in os.environ:
        for name in list(logging.root.manager.loggerDict):
            if name.startswith(("torch.distributed", "torch.multiprocessing")):
                logger = logging.getLogger(name)
                levels[name] = logger.level
                logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for s, h in handlers.items():
            signal.signal(s, h)


def _errors() -> dict[str, type[NnstudyError]]:
    """NnstudyError and its subclasses by name (TrainingDiverged too, once the loop is imported)."""
    found, todo = {}, [NnstudyError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.__name__, cls)
        todo += cls.__subclasses__()
    return found


def _first_failure(e: Any, where: Path) -> BaseException:
    """The error to raise for the rank that failed first (a ChildFailedError's root cause)."""
    rank, failure = e.get_first_failure()
    if not os.path.isfile(failure.error_file):   # nothing recorded: a signal, or an exit from outside Python
        how = f"died ({failure.signal_name()})" if failure.exitcode < 0 else f"ended with exit code {failure.exitcode}"
        return RankFailed(f"rank {rank} {how}; the run is kept: `nnstudy train {where} --resume` continues it")
    message = failure.message   # what torch's @record wrote: {"message": "ErrorClass: text", "extraInfo": ...}
    text = message.get("message", "") if isinstance(message, dict) else str(message)
    name, _, rest = text.partition(": ")
    cls = _errors().get(name)
    if cls is not None:
        return cls(rest)
    stack = message.get("extraInfo", {}).get("py_callstack") if isinstance(message, dict) else None
    return RuntimeError(f"rank {rank} failed:\n{stack or text}")   # a bug in nnstudy: its traceback, in full
