"""The training engine end to end on a tiny dataset: run directory, determinism, selection, resume, eval."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from nnstudy import load_config
from nnstudy.engine import evaluate_run, train
from nnstudy.engine.loop import TrainingDiverged
from nnstudy.errors import RunDirError
from nnstudy.models import count_params


def _train(overrides, *extra, resume=False):
    return train(load_config("tutorial_cnn", [*overrides, *extra]), resume=resume, progress=False)


def test_run_directory_contents(toy_overrides):
    result = _train(toy_overrides, "name=r1")
    files = {p.name for p in result.run_dir.iterdir()}
    assert {"config.yaml", "metrics.csv", "summary.json", "model.safetensors", "checkpoint.pt",
            "predictions.safetensors"} <= files
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["status"] == "finished"
    m = summary["metrics"]
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc"} <= set(m)
    assert m["test_acc"] > 0.5          # 4 classes: chance is 0.25; the toy task is easy
    assert summary["params"] == count_params(load_config("tutorial_cnn").model and
                                             __import__("nnstudy.models", fromlist=["x"]).build_model(
                                                 "tutorial_cnn", input_shape=(3, 16, 16), num_classes=4))
    compute = summary["compute"]
    assert compute["params"] == summary["params"] and compute["flops"] == 2 * compute["macs"] > 0
    assert compute["detailed"] > compute["flops"]
    assert summary["time"]["train_seconds"] > 0 and summary["time"]["eval_seconds"] > 0
    assert summary["memory"]["peak_rss_mb"] > 0
    assert summary["environment"]["torch"] == torch.__version__
    lines = (result.run_dir / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,lr,train_loss,train_acc,val_loss,val_acc") and len(lines) == 3
    config = (result.run_dir / "config.yaml").read_text()
    assert "num_classes: 4" in config and "conv_layers: 2" in config   # resolved: builder defaults filled in
    preds = load_file(str(result.run_dir / "predictions.safetensors"))
    assert preds["pred"].shape == preds["target"].shape == (64,)
    assert (preds["pred"] == preds["target"]).float().mean().item() == pytest.approx(m["test_acc"])


def test_selected_epoch_is_best_on_validation(toy_overrides):
    summary = _train(toy_overrides, "name=sel", "train.epochs=4", "optim.lr=0.5").summary
    rows = [line.split(",") for line in
            (summary and (__import__("pathlib").Path(toy_overrides[-1].split("=", 1)[1]) / "sel" /
                          "metrics.csv").read_text().splitlines())]
    header, rows = rows[0], rows[1:]
    val = [float(r[header.index("val_acc")]) for r in rows]
    assert summary["selected_epoch"] == val.index(max(val)) + 1
    assert summary["metrics"]["val_acc"] == max(val)


def test_same_seed_same_numbers_other_seed_differs(toy_overrides):
    a = _train(toy_overrides, "name=a").summary["metrics"]
    b = _train(toy_overrides, "name=b").summary["metrics"]
    c = _train(toy_overrides, "name=c", "train.seed=1").summary["metrics"]
    assert a == b
    assert a != c


def test_finished_run_is_never_overwritten(toy_overrides):
    _train(toy_overrides, "name=done", "train.epochs=1")
    with pytest.raises(RunDirError, match="finished run and is never overwritten"):
        _train(toy_overrides, "name=done", "train.epochs=1")
    with pytest.raises(RunDirError, match="finished run"):
        _train(toy_overrides, "name=done", "train.epochs=1", resume=True)


def test_eval_run_equals_summary(toy_overrides):
    result = _train(toy_overrides, "name=ev")
    again = evaluate_run(result.run_dir)
    assert again["metrics"] == again["recorded"]
    assert again["metrics"]["test_acc"] == result.summary["metrics"]["test_acc"]


def test_diverging_run_is_recorded_as_failed(toy_overrides):
    with pytest.raises(TrainingDiverged, match="lower optim.lr"):
        _train(toy_overrides, "name=nan", "optim.lr=1e12", "optim.momentum=0.99")
    summary = json.loads((__import__("pathlib").Path(toy_overrides[-1].split("=", 1)[1]) / "nan" /
                          "summary.json").read_text())
    assert summary["status"] == "failed" and "loss is" in summary["error"]


def test_bf16_and_channels_last_run(toy_overrides):
    summary = _train(toy_overrides, "name=bf", "train.epochs=1", "train.precision=bf16",
                     "train.channels_last=true").summary
    assert summary["status"] == "finished"
    assert 0.0 <= summary["metrics"]["test_acc"] <= 1.0


def test_eval_every_steps_logs_validation_curve(toy_overrides):
    result = _train(toy_overrides, "name=steps", "train.eval_every_steps=4")
    lines = (result.run_dir / "steps.csv").read_text().splitlines()
    assert lines[0] == "step,epoch,train_loss,train_acc,val_loss,val_acc"
    steps = [int(line.split(",")[0]) for line in lines[1:]]
    assert steps == list(range(4, 2 * 12 + 1, 4))       # 192 training images / 16 = 12 steps per epoch


def test_test_every_epoch_also_logs_test_every_n_steps(toy_overrides):
    """SPEC D: the write-up logged test accuracy every 250 iterations; with eval_every_steps and test_every_epoch the
    steps.csv has it beside validation, and the step at an epoch's end scores the weights metrics.csv scores."""
    result = _train(toy_overrides, "name=steptest", "train.eval_every_steps=6", "train.test_every_epoch=true")
    lines = (result.run_dir / "steps.csv").read_text().splitlines()
    assert lines[0] == "step,epoch,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc"
    rows = [dict(zip(lines[0].split(","), line.split(","))) for line in lines[1:]]
    epochs = (result.run_dir / "metrics.csv").read_text().splitlines()
    per_epoch = [dict(zip(epochs[0].split(","), line.split(","))) for line in epochs[1:]]
    at_end = [r for r in rows if int(r["step"]) % 12 == 0]   # 12 steps per epoch: steps 12 and 24
    assert [float(r["test_acc"]) for r in at_end] == pytest.approx([float(r["test_acc"]) for r in per_epoch])


def test_test_every_epoch_logs_a_test_curve_that_matches_the_final_test(toy_overrides):
    result = _train(toy_overrides, "name=tcurve", "train.epochs=1", "train.test_every_epoch=true")
    header, row = (result.run_dir / "metrics.csv").read_text().splitlines()
    values = dict(zip(header.split(","), row.split(",")))
    # one epoch: the curve's only point scored the same weights on the same (whole) test split
    assert float(values["test_acc"]) == pytest.approx(result.summary["metrics"]["test_acc"], abs=1e-9)
    assert result.summary["in_training_eval"] == {"val_samples": result.summary["data"]["val"],
                                                  "test_curve_samples": result.summary["data"]["test"]}


def test_eval_samples_subsamples_in_training_evaluation_only(toy_overrides):
    result = _train(toy_overrides, "name=sub", "train.test_every_epoch=true", "train.eval_samples=10")
    assert result.summary["in_training_eval"] == {"val_samples": 10, "test_curve_samples": 10}
    assert result.summary["data"]["test"] > 10        # the final test scored every sample
    header = (result.run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"val_acc", "test_acc", "test_loss"} <= set(header)


def test_split_sample_is_fixed_sorted_and_distinct():
    from nnstudy.data.base import Split
    split = Split(torch.arange(100).float().unsqueeze(1), torch.arange(100))
    a, b = split.sample(20), split.sample(20)
    assert torch.equal(a.targets, b.targets) and len(set(a.targets.tolist())) == 20
    assert torch.equal(a.targets, a.targets.sort().values) and torch.equal(a.inputs[:, 0].long(), a.targets)
    assert split.sample(None) is split and split.sample(500) is split
    assert not torch.equal(split.sample(20, seed=1).targets, a.targets)


def test_written_files_are_readable_by_others(toy_overrides):
    import os
    import stat
    result = _train(toy_overrides, "name=perm", "train.epochs=1")
    mask = os.umask(0)
    os.umask(mask)
    for name in ("summary.json", "config.yaml", "model.safetensors"):
        mode = stat.S_IMODE((result.run_dir / name).stat().st_mode)
        assert mode == 0o666 & ~mask, (name, oct(mode))


def test_channels_last_auto_is_on_for_conv_nets_only_and_changes_results_at_rounding_level(toy_overrides):
    from nnstudy.engine.device import use_channels_last
    from nnstudy.models import build_model
    assert use_channels_last("auto", build_model("tutorial_cnn")) is True
    assert use_channels_last("auto", build_model("mlp3")) is False
    assert use_channels_last(False, build_model("tutorial_cnn")) is False
    auto = _train(toy_overrides, "name=nhwc").summary
    off = _train(toy_overrides, "name=nchw", "train.channels_last=false").summary
    assert auto["memory_format"] == "channels_last" and off["memory_format"] == "contiguous"
    # the same seed in either format: the same trajectory up to float rounding
    for key in ("train_loss", "val_loss", "test_loss"):
        assert auto["metrics"][key] == pytest.approx(off["metrics"][key], rel=1e-4, abs=1e-5)
    torch.manual_seed(0)
    model = build_model("resnet18").eval()
    x = torch.randn(8, 3, 32, 32)
    with torch.no_grad():
        nchw = model(x)
        nhwc = model.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(nchw, nhwc, atol=1e-4)
