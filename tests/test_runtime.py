"""The runtime: precision decided from the hardware (a pure function, on tables of CPU flags and CUDA capabilities),
and the engine's numbers equal to a bare hand-written loop of the same recipe."""
from __future__ import annotations

import csv

import pytest
import torch
import torch.nn.functional as F

from nnstudy.engine import train
from nnstudy.engine.build import build_parts
from nnstudy.engine.runtime import BF16_CPU_FLAGS, Runtime, cpu_vendor, decide_precision, fp32_reason
from nnstudy.resolution import load_config

# (setting, device, CPU flags, CPU vendor, CUDA capability, model/task fp32 reason) -> (precision, reason contains)
AMD, INTEL = "AuthenticAMD", "GenuineIntel"
CASES = [
    ("auto", "cpu", {"avx2", "fma"}, AMD, None, None, "fp32", "no avx512_bf16"),                # AMD EPYC AVX2 only
    ("auto", "cpu", {"avx2", "avx512f", "avx512_bf16"}, AMD, None, None, "bf16", "avx512_bf16"),  # Zen 4 / Zen 5
    ("auto", "cpu", {"avx512f", "amx_bf16", "amx_tile", "avx512_bf16"}, INTEL, None, None, "bf16",
     "amx_bf16"),                                                                                 # Xeon SPR with AMX
    ("auto", "cpu", {"avx2", "avx512f", "avx512_bf16", "avx512_fp16"}, INTEL, None, None, "fp32",
     "avx512_bf16 without amx_bf16 on GenuineIntel"),                                  # Xeon model 207, AMX hidden
    ("auto", "cpu", {"avx512_bf16"}, "", None, None, "fp32", "unknown vendor"),         # vendor unreadable: no bet
    ("auto", "cpu", {"avx512f", "avx512_vnni"}, INTEL, None, None, "fp32", "no avx512_bf16"),     # Cascade Lake
    ("auto", "cpu", set(), "", None, None, "fp32", "no avx512_bf16"),                             # flags unreadable
    ("auto", "cuda", set(), "", (9, 0), None, "bf16", "sm_90"),                                   # H100 / H200
    ("auto", "cuda", set(), "", (8, 0), None, "bf16", "sm_80"),                                   # A100
    ("auto", "cuda", set(), "", (7, 5), None, "fp16", "sm_75"),                                   # T4
    ("auto", "cuda", set(), "", (6, 1), None, "fp32", "sm_61"),                                   # GTX 10xx
    ("auto", "mps", set(), "", None, None, "fp32", "mps"),
    ("auto", "cpu", {"avx512_bf16"}, AMD, None, "GRU loses accuracy", "fp32", "GRU loses accuracy"),
    ("fp32", "cpu", {"avx512_bf16"}, AMD, None, None, "fp32", "train.precision=fp32"),
    ("bf16", "cpu", {"avx2"}, AMD, None, None, "bf16", "train.precision=bf16"),          # forced: the user's call
    ("bf16", "cpu", {"avx512_bf16"}, INTEL, None, None, "bf16", "train.precision=bf16"),
    ("fp16", "cuda", set(), "", (9, 0), "GRU", "fp16", "train.precision=fp16"),
]


@pytest.mark.parametrize("setting, device, flags, vendor, capability, keep, precision, why", CASES)
def test_auto_precision_follows_the_hardware(setting, device, flags, vendor, capability, keep, precision, why):
    chosen, reason = decide_precision(setting, device, flags=flags, vendor=vendor, capability=capability,
                                      fp32_reason=keep)
    assert chosen == precision and why in reason


@pytest.mark.parametrize("setting, device, flags, macs, precision, why", [
    ("auto", "cpu", {"avx512_bf16"}, 1.5e6, "fp32", "1.5 M multiply-adds per training step: too few"),  # MLP-2 @4
    ("auto", "cpu", {"avx512_bf16"}, 4.9e6, "fp32", "too few for bf16 to pay (< 5 M)"),
    ("auto", "cpu", {"avx512_bf16"}, 5e6, "bf16", "avx512_bf16"),
    ("auto", "cpu", {"amx_bf16"}, 7e6, "bf16", "amx_bf16"),                                      # MLP-5 @4
    ("auto", "cpu", {"avx512_bf16"}, None, "bf16", "avx512_bf16"),                               # not countable
    ("auto", "cpu", {"avx2"}, 1e9, "fp32", "no avx512_bf16"),                                    # big, emulated
    ("bf16", "cpu", {"avx512_bf16"}, 1e3, "bf16", "train.precision=bf16"),                       # forced
    ("auto", "cuda", set(), 1e3, "bf16", "sm_90"),                                               # CPU rule only
])
def test_auto_keeps_fp32_on_a_cpu_where_a_step_is_too_small_for_bf16(setting, device, flags, macs, precision, why):
    capability = (9, 0) if device == "cuda" else None
    chosen, reason = decide_precision(setting, device, flags=flags, vendor=AMD, capability=capability,
                                      step_macs=macs)
    assert chosen == precision and why in reason


def test_the_runtime_weighs_the_training_step_of_the_model_and_batch(monkeypatch):
    """MLP-2 (369,840 MACs per image) at batch 4 is 1.5 M multiply-adds a step: fp32 on a bf16 CPU; at batch 64,
    23.7 M: bf16. Counting them draws no random numbers (a seed's numbers stay those of the run)."""
    _on_zen4(monkeypatch)
    parts = build_parts(load_config("mlp2", ["data.name=cifar10-sample"]))
    torch.manual_seed(0)
    small = Runtime.setup(device="cpu", model=parts.model, data=parts.data, batch_size=4)
    after = torch.rand(1)
    large = Runtime.setup(device="cpu", model=parts.model, data=parts.data, batch_size=64)
    assert (small.precision, large.precision) == ("fp32", "bf16")
    assert "1.5 M multiply-adds per training step" in small.precision_reason
    torch.manual_seed(0)
    assert torch.equal(torch.rand(1), after)


def test_a_run_counts_its_multiply_adds_once(monkeypatch, toy_overrides):
    """auto's count (deciding bf16 on a bf16 CPU) is the one the summary records: one counting pass per run."""
    from nnstudy.measure import flops
    _on_zen4(monkeypatch)
    passes = []
    count = flops.summarize
    monkeypatch.setattr(flops, "summarize", lambda *a, **k: passes.append(1) or count(*a, **k))
    cfg = load_config("mlp2", toy_overrides + ["train.epochs=1", "name=once"])
    summary = train(cfg, progress=False).summary
    assert len(passes) == 1 and summary["compute"]["macs"] > 0
    assert "multiply-adds per training step" in summary["runtime"]["precision_reason"]


def test_the_summary_records_the_choice_and_why(tmp_path, toy_overrides):
    cfg = load_config("tutorial_cnn", toy_overrides + ["train.epochs=1", "name=a"])
    summary = train(cfg, progress=False).summary
    runtime = summary["runtime"]
    parts = build_parts(cfg)
    macs = summary["compute"]["macs"] * cfg.train.batch_size if _flags() & set(BF16_CPU_FLAGS) else None
    expected = decide_precision("auto", "cpu", flags=_flags(), vendor=cpu_vendor(), step_macs=macs,
                                fp32_reason=fp32_reason(parts.model, parts.task))
    assert (runtime["precision"], runtime["precision_reason"]) == expected
    assert runtime["memory_format"] == "channels_last" and runtime["device"] == "cpu"


def _flags():
    from nnstudy.engine.runtime import cpu_flags
    return cpu_flags()


def _on_zen4(monkeypatch):
    """This machine, as far as auto can tell, is an AMD Zen 4 (AVX-512 BF16, where bf16 pays)."""
    from nnstudy.engine import runtime
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx2", "avx512_bf16"}))
    monkeypatch.setattr(runtime, "cpu_vendor", lambda: AMD)


def test_the_engine_equals_a_bare_loop_of_the_same_recipe(tmp_path, toy_overrides):
    """fp32: the engine's per-epoch training loss and final weights are those of the plain loop people write (same
    data order, same model, SGD with momentum), to 1e-6."""
    overrides = toy_overrides + ["train.epochs=3", "train.precision=fp32", "optim.momentum=0.9", "name=engine"]
    cfg = load_config("tutorial_cnn", overrides)
    result = train(cfg, progress=False)
    with open(result.run_dir / "metrics.csv") as f:
        engine_losses = [float(r["train_loss"]) for r in csv.DictReader(f)]

    torch.manual_seed(cfg.train.seed)   # the same initial weights (nnstudy seeds before building)
    parts = build_parts(cfg)
    rt = Runtime.setup(device="cpu", precision="fp32", threads=1, model=parts.model)
    model, data = rt.prepare(parts.model), parts.data
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.optim.lr, momentum=0.9)
    losses = []
    n, batch = len(data.train), cfg.train.batch_size
    for epoch in range(cfg.train.epochs):
        order = torch.randperm(n, generator=torch.Generator().manual_seed((cfg.train.seed * 1_000_003 + epoch) * 7))
        total = 0.0
        for k in range(0, n, batch):
            idx = order[k:k + batch]
            x = rt.inputs(data.transform(data.train.inputs[idx], True, None))
            loss = F.cross_entropy(model(x), data.train.targets[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / n)
    assert engine_losses == pytest.approx(losses, abs=1e-6)
    from nnstudy.engine.checkpoint import read_state_dict
    final = read_state_dict(result.run_dir / "model.safetensors")   # the epoch selected on validation
    if result.summary["selected_epoch"] == cfg.train.epochs:
        for key, value in model.state_dict().items():
            torch.testing.assert_close(final[key], value, atol=1e-6, rtol=0)


@pytest.mark.slow
def test_bf16_accuracy_on_the_cifar_sample_is_within_noise_of_fp32(tmp_path):
    """The tutorial CNN on the bundled sample, 3 seeds each: bf16 autocast's test accuracy is fp32's within noise
    (the 500 test images alone give a standard error of ~0.02)."""
    accuracy = {}
    for precision in ("fp32", "bf16"):
        accuracy[precision] = [train(load_config("tutorial_cnn", [
            "data.name=cifar10-sample", "train.epochs=8", "train.batch_size=32", "optim.lr=0.01",
            "optim.momentum=0.9", f"train.precision={precision}", f"train.seed={seed}",
            f"out_dir={tmp_path}", f"name={precision}-{seed}"]), progress=False).summary["metrics"]["test_acc"]
            for seed in range(3)]
    mean = {k: sum(v) / len(v) for k, v in accuracy.items()}
    assert mean["fp32"] > 0.3, accuracy   # learned something: the comparison means something
    assert abs(mean["bf16"] - mean["fp32"]) < 0.04, accuracy


def test_a_run_resumed_on_another_machine_type_keeps_its_first_precision(tmp_path, toy_overrides, monkeypatch):
    from nnstudy.engine import loop, runtime
    _on_zen4(monkeypatch)
    monkeypatch.setattr(runtime, "MIN_BF16_CPU_MACS", 0)   # the toy step is small: bf16 all the same
    ends = loop._Trainer._end_epoch

    def stop_after_first_epoch(self):
        ends(self)
        raise KeyboardInterrupt   # killed after epoch 1's checkpoint
    monkeypatch.setattr(loop._Trainer, "_end_epoch", stop_after_first_epoch)
    cfg = load_config("mlp2", toy_overrides + ["name=moved"])   # a model that does not keep fp32 itself
    with pytest.raises(KeyboardInterrupt):
        train(cfg, progress=False)
    monkeypatch.setattr(loop._Trainer, "_end_epoch", ends)
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx2"}))   # an AVX2-only machine now
    summary = train(cfg, resume=True, progress=False).summary
    assert summary["attempts"] == 2
    assert summary["runtime"]["precision"] == "bf16"
    assert summary["runtime"]["precision_reason"] == "cpu flags: avx512_bf16 (kept on resume)"


def test_auto_keeps_fp32_for_a_model_that_says_why():
    from nnstudy.models import build_model
    rt = Runtime.setup(device="cpu", precision="auto", model=build_model("variable_rnn"))
    assert rt.precision == "fp32" and rt.precision_reason.startswith("variable_rnn: bf16 autocast is slower")


@pytest.mark.slow   # inductor compiles for ~30 s on 2 cores
def test_train_compile_computes_the_same_run_and_saves_the_models_own_weights(tmp_path, toy_overrides):
    """train.compile=true: the same losses as eager (inductor fuses and reorders: to 1e-4), the summary says it, and
    the weights saved carry the model's own names (no `_orig_mod.` prefix), so they load without compile."""
    common = toy_overrides + ["train.precision=fp32"]
    eager = train(load_config("mlp2", common + ["name=eager"]), progress=False)
    compiled = train(load_config("mlp2", common + ["name=compiled", "train.compile=true"]), progress=False)
    assert compiled.summary["runtime"]["compile"] is True and eager.summary["runtime"]["compile"] is False
    losses = [[float(r["train_loss"]) for r in csv.DictReader(open(r.run_dir / "metrics.csv"))]
              for r in (eager, compiled)]
    assert losses[1] == pytest.approx(losses[0], abs=1e-4)
    from nnstudy.engine.checkpoint import read_state_dict
    names = set(read_state_dict(compiled.run_dir / "model.safetensors"))
    assert names == set(read_state_dict(eager.run_dir / "model.safetensors"))


def test_train_compile_without_a_cpp_compiler_is_one_line(tmp_path, toy_overrides, monkeypatch):
    from nnstudy.errors import ConfigError
    monkeypatch.setattr("nnstudy.engine.runtime.cpp_compiler", lambda: None)
    with pytest.raises(ConfigError, match="train.compile=true: .*C\\+\\+ compiler"):
        train(load_config("mlp2", toy_overrides + ["train.compile=true"]), progress=False)
    assert not (tmp_path / "runs").exists()   # refused before anything was written


def test_auto_keeps_fp32_for_forecasting():
    """bf16 costs the energy GRU accuracy on every seed (benchmarks/precision_accuracy.py): the task says so."""
    from nnstudy.tasks import build_task
    rt = Runtime.setup(device="cpu", precision="auto", task=build_task("forecasting"))
    assert rt.precision == "fp32" and rt.precision_reason.startswith("forecasting: bf16 rounds each forecast")
