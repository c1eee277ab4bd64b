"""One run on several processes (DDP, gloo on CPU): the same weights as one process with the same global batch,
one-line errors from the ranks, and (slow) kill -9 of one rank resumed to the same numbers, torchrun on two
"nodes" of this machine."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from nnstudy import load_config
from nnstudy.engine import distributed, train
from nnstudy.engine.distributed import Group, RankFailed
from nnstudy.errors import ConfigError, RunDirError
from nnstudy.runs import RunDir

# The bundled sample (the ranks are fresh processes: they cannot see the test-only toy dataset). A model without
# BatchNorm or dropout, so that one process and two compute the same thing. 279 training images in batches of 25:
# an odd batch, so the two shares (13 and 12) differ at every step, and a last batch of 4 (2 + 2).
EQUAL = ["data.name=cifar10-sample", "data.subset=279", "data.augment=flip", "train.epochs=2",
         "train.batch_size=25", "train.threads=1", "optim.lr=0.05", "train.eval_every_steps=7",
         "train.test_every_epoch=true", "train.checkpoint_every=null",
         "train.precision=fp32"]   # equal up to float32 rounding: bf16 (auto on some machines) rounds far more


def _strip_seconds(text: str) -> list[str]:
    """CSV rows without their last column (wall seconds)."""
    return [",".join(line.split(",")[:-1]) for line in text.splitlines()]


# ------------------------------------------------------------------------------------------- the pieces alone

@pytest.mark.parametrize("n", [1, 2, 12, 13, 25])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_shares_cover_a_batch_once_in_order_and_differ_by_at_most_one(n, world):
    if n < world:
        return
    shares = [Group(rank=r, world=world).share(n) for r in range(world)]
    assert [i for s in shares for i in range(n)[s]] == list(range(n))
    sizes = [s.stop - s.start for s in shares]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_train_steps_keeps_the_single_process_rule_and_drops_a_last_batch_too_small_to_share():
    assert distributed.train_steps(101, 10) == 10          # one process: a last batch of 1 is dropped
    assert distributed.train_steps(102, 10) == 11
    assert distributed.train_steps(103, 10, world=2) == 10  # shares 2 + 1: dropped (BatchNorm needs 2)
    assert distributed.train_steps(104, 10, world=2) == 11  # shares 2 + 2: kept
    assert distributed.train_steps(100, 10, world=2) == 10
    assert distributed.train_steps(1, 10, world=2) == 1     # never no step at all


def test_sums_of_ranks_add_numbers_and_vectors_whatever_keys_each_rank_saw():
    parts = [{"loss": 1.5, "n": 3, "tp": [1, 0, 2]}, {}, {"loss": 0.25, "n": 1, "tp": [0, 1, 0]}]
    assert distributed.add_sums(parts) == {"loss": 1.75, "n": 4, "tp": [1, 1, 2]}


def test_a_global_batch_smaller_than_the_processes_or_one_gpu_for_all_is_a_one_line_error():
    with pytest.raises(ConfigError, match="global batch, split over 4 processes"):
        distributed.check(load_config("mlp2", ["train.batch_size=3", "train.device=cpu"]), 4, 4)
    with pytest.raises(ConfigError, match="train.nproc=3, but torchrun started 2"):
        distributed.check(load_config("mlp2", ["train.nproc=3"]), 2, 2, by_torchrun=True)
    if torch.cuda.is_available():
        with pytest.raises(ConfigError, match="names one GPU"):
            distributed.check(load_config("mlp2", ["train.device=cuda:0"]), 2, 2)


def _failure(exitcode: int, error_file: str = "/no/such/file", message=""):
    failure = SimpleNamespace(exitcode=exitcode, error_file=error_file, message=message,
                              signal_name=lambda: signal.Signals(-exitcode).name)
    return SimpleNamespace(get_first_failure=lambda: (1, failure))


def test_the_first_failing_rank_is_raised_as_its_own_one_line_error(tmp_path):
    where = Path("runs/r")
    died = distributed._first_failure(_failure(-9), where)
    assert isinstance(died, RankFailed) and str(died) == \
        "rank 1 died (SIGKILL); the run is kept: `nnstudy train runs/r --resume` continues it"
    recorded = tmp_path / "error.json"
    recorded.write_text("{}")
    error = distributed._first_failure(_failure(1, str(recorded), {"message": "RunDirError: runs/r: is a file"}),
                                       where)
    assert type(error) is RunDirError and str(error) == "runs/r: is a file"
    bug = distributed._first_failure(_failure(1, str(recorded), {
        "message": "ZeroDivisionError: division by zero",
        "extraInfo": {"py_callstack": "Traceback (most recent call last):\n  ...\nZeroDivisionError"}}), where)
    assert type(bug) is RuntimeError and "Traceback" in str(bug)   # a bug keeps its traceback


class _Steps(torch.nn.Module):
    """A model with a second entry point, as recurrent forecasters have (forward_steps), and a spare layer."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.spare = torch.nn.Linear(4, 2), torch.nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(x).sum(1)

    def forward_steps(self, x):
        return self.fc(x)


@pytest.fixture
def one_rank_group(tmp_path):
    """A gloo process group of this process alone: enough to build DDP in-process."""
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    yield
    torch.distributed.destroy_process_group()


def test_ddp_replica_sends_other_entry_points_through_its_forward(one_rank_group):
    """DDP averages the gradients of what passed through its forward only: forward_steps must go that way too."""
    model = _Steps()
    replica = distributed._Replica(distributed._Entry(model))
    seen = []
    replica.module.register_forward_hook(lambda module, args, kwargs_or_out: seen.append(True))
    x = torch.randn(3, 4)
    assert torch.equal(replica.forward_steps(x), model.forward_steps(x)) and seen == [True]
    assert not hasattr(replica, "init_from_data") and not hasattr(replica, "forward_nothing")


def test_parameters_without_gradient_are_named_in_one_line(one_rank_group):
    model = _Steps()
    replica = distributed._Replica(distributed._Entry(model))
    for _ in range(2):   # DDP notices at the second step
        try:
            replica.forward_steps(torch.randn(3, 4)).sum().backward()
        except RuntimeError as e:
            error = distributed.unused_parameters(e, model)
            break
    else:
        pytest.fail("DDP did not refuse the unused layer")
    assert isinstance(error, ConfigError) and "(spare.weight, spare.bias)" in str(error)
    assert distributed.unused_parameters(RuntimeError("something else"), model) is None


# ------------------------------------------------------------------------------------------------ two processes

def test_two_processes_train_the_same_weights_as_one(tmp_path):
    """Same global batches (the one-process permutation, shared out), same augmentation (drawn for the whole
    batch), each rank's mean loss weighted by share × 2 / batch: the same gradient up to float rounding. Not
    bit-identical: the batch's mean is summed in another order (two half-batch means averaged by all-reduce, and
    kernels that block a batch of 12 differently from one of 25), so weights differ by a few float32 ulps; an
    unweighted share loss would move them by ~3e-3 here."""
    out = tmp_path / "runs"
    one = train(load_config("tutorial_cnn", EQUAL + [f"out_dir={out}", "name=one"]), progress=False)
    two = train(load_config("tutorial_cnn", EQUAL + [f"out_dir={out}", "name=two", "train.nproc=2"]), progress=False)

    final = [torch.load(r.run_dir / "checkpoint.pt", weights_only=True) for r in (one, two)]
    for key, weights in final[0]["model"].items():
        torch.testing.assert_close(final[1]["model"][key], weights, rtol=1e-5, atol=1e-6)
    assert final[1]["world_sizes"] == [2] and len(final[1]["ranks"]) == 2
    for a, b in zip(*(load_file(r.run_dir / "model.safetensors").items() for r in (one, two))):
        torch.testing.assert_close(b[1], a[1], rtol=1e-5, atol=1e-6)

    for key, value in one.summary["metrics"].items():   # counts exactly, float sums to rounding
        assert two.summary["metrics"][key] == pytest.approx(value, rel=1e-5), key
    assert two.summary["selected_epoch"] == one.summary["selected_epoch"]
    assert two.summary["distributed"] == {"world_size": 2, "backend": "gloo", "world_sizes": [2]}
    assert one.summary["distributed"] == {"world_size": 1, "backend": None, "world_sizes": [1]}
    # per-epoch and per-step rows: same columns, the same numbers to rounding
    for name in ("metrics.csv", "steps.csv"):
        rows = [_strip_seconds((r.run_dir / name).read_text()) for r in (one, two)]
        assert rows[0][0] == rows[1][0] and len(rows[0]) == len(rows[1]) > 1
        for a, b in zip(rows[0][1:], rows[1][1:]):
            assert [float(v) for v in b.split(",")] == pytest.approx([float(v) for v in a.split(",")], rel=1e-5)
    # the sharded test pass gathers predictions back in sample order
    preds = [load_file(r.run_dir / "predictions.safetensors") for r in (one, two)]
    assert torch.equal(preds[0]["target"], preds[1]["target"]) and torch.equal(preds[0]["pred"], preds[1]["pred"])
    # rank 0 alone wrote the run directory: the same files as one process's, nothing else anywhere
    assert sorted(p.name for p in two.run_dir.iterdir()) == sorted(p.name for p in one.run_dir.iterdir())
    assert sorted(p.name for p in out.iterdir()) == ["one", "two"]


def test_an_error_in_the_ranks_ends_the_run_with_its_one_line_message(tmp_path):
    """The model does not fit the data: found by every rank once the data is built, raised here as it is."""
    cfg = load_config("tutorial_cnn", ["data.name=cifar10-sample", "data.subset=100", "model.num_classes=3",
                                       "train.threads=1", "train.nproc=2", f"out_dir={tmp_path}", "name=bad"])
    with pytest.raises(ConfigError, match=r"does not fit dataset 'cifar10-sample'") as e:
        train(cfg, progress=False)
    assert "\n" not in str(e.value)
    # a run directory is refused by the launcher, before any process starts
    RunDir(tmp_path / "bad").write_config(cfg)
    with pytest.raises(RunDirError, match="unfinished run is there; pass --resume"):
        train(cfg, progress=False)


# ---------------------------------------------------------------------------------------------- slow: faults

def _ranks_of(pid: int) -> list[int]:
    """PIDs of the worker processes the launcher `pid` spawned (not its resource tracker), oldest first."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            parent = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (d / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and b"spawn_main" in cmdline:
            found.append(int(d.name))
    return sorted(found)


KILL = ["data.name=cifar10-sample", "data.subset=600", "data.val_fraction=0.1", "train.epochs=4",
        "train.batch_size=8", "train.threads=1", "optim.lr=0.01", "model.act=tanh", "train.checkpoint_every=0"]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the ranks through /proc")
@pytest.mark.parametrize("victim", [1, 0])
def test_kill_one_rank_stops_the_run_with_one_line_and_resume_gives_the_same_numbers(tmp_path, victim):
    out = tmp_path / "runs"
    reference = train(load_config("tutorial_cnn", KILL + [f"out_dir={out}", "name=whole", "train.nproc=2"]),
                      progress=False)
    proc = subprocess.Popen([sys.executable, "-m", "nnstudy.cli", "train", "tutorial_cnn", *KILL, f"out_dir={out}",
                             "name=killed", "--quiet", "--nproc", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "killed" / "metrics.csv").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)   # into epoch 2
    ranks = _ranks_of(proc.pid)
    assert proc.poll() is None and len(ranks) == 2, proc.stderr.read() if proc.poll() is not None else ranks
    os.kill(ranks[victim], signal.SIGKILL)   # spawned in rank order
    try:
        _, err = proc.communicate(timeout=60)   # the others are ended by the launcher: no hang
    finally:
        proc.kill()
    assert proc.returncode == 75 and err.count("\n") == 1, err
    assert "died (SIGKILL); the run is kept" in err and "--resume" in err
    assert not (out / "killed" / "summary.json").exists()

    done = subprocess.run([sys.executable, "-m", "nnstudy.cli", "train", str(out / "killed"), "--resume", "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    resumed = json.loads((out / "killed" / "summary.json").read_text())
    assert resumed["attempts"] == 2 and resumed["distributed"]["world_sizes"] == [2, 2]
    assert resumed["metrics"] == reference.summary["metrics"]   # same processes: each rank resumed exactly
    assert _strip_seconds((out / "killed" / "metrics.csv").read_text()) == \
        _strip_seconds((out / "whole" / "metrics.csv").read_text())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_torchrun_on_two_nodes_joins_and_computes_what_nproc_2_computes(tmp_path):
    """Two torchrun agents of one process each, rendezvousing like two machines would: world size 2 across
    "nodes"; rank 0 (node 0) writes the run directory."""
    out = tmp_path / "runs"
    args = EQUAL + [f"out_dir={out}"]
    reference = train(load_config("tutorial_cnn", args + ["name=launched", "train.nproc=2"]), progress=False)
    port = _free_port()
    # each node's output goes to files, not pipes: waiting on node 0 while node 1 fills an unread pipe (its agent's
    # rendezvous retries on a loaded machine) would block node 1 inside the collective, and so node 0 too
    logs = [(tmp_path / f"node{rank}.out", tmp_path / f"node{rank}.err") for rank in (0, 1)]
    nodes = []
    for rank, (out_log, err_log) in enumerate(logs):
        with open(out_log, "w") as stdout, open(err_log, "w") as stderr:
            nodes.append(subprocess.Popen(
                [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
                 "--node-rank", str(rank), "--rdzv-backend", "c10d", "--rdzv-endpoint", f"localhost:{port}",
                 "--rdzv-id", "t", "-m", "nnstudy.cli", "train", "tutorial_cnn", *args, "name=torchrun", "--quiet"],
                stdout=stdout, stderr=stderr, start_new_session=True))
    try:
        for node in nodes:
            node.wait(timeout=300)
    finally:                 # a hung node, its agent and its worker, must not outlive the test
        for node in nodes:
            if node.poll() is None:
                os.killpg(node.pid, signal.SIGKILL)
    results = [(o.read_text(), e.read_text()[-4000:]) for o, e in logs]
    assert [node.returncode for node in nodes] == [0, 0], results
    assert sum("test_acc" in stdout for stdout, _ in results) == 1   # rank 0 alone prints the result
    summary = json.loads((out / "torchrun" / "summary.json").read_text())
    assert summary["distributed"]["world_size"] == 2
    assert summary["metrics"] == reference.summary["metrics"]
