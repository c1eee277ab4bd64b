"""The parts of the cifar-speedrun recipe: airbench net and whitening, mirrored translations, test-time
augmentation, BN-shift learning rates, the triangular schedule and lookahead — each against its definition, and
in a run (data-initialised, resumable)."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from nnstudy import load_config
from nnstudy.config import OptimConfig
from nnstudy.data.transforms import ImageTransform, random_crop, tta_views
from nnstudy.engine import loop, train
from nnstudy.engine.lookahead import Lookahead
from nnstudy.engine.loop import WithTTA
from nnstudy.engine.optim import build_optimizer, build_scheduler, param_groups
from nnstudy.errors import ConfigError, NnstudyError
from nnstudy.models import build_model, count_params
from nnstudy.models.airbench import Whitening
from nnstudy.study.spec import load_study_spec

TINY = ["model.name=airbench", "model.widths=[8,8,16]", "data.name=cifar10-sample", "data.subset=300",
        "data.val_fraction=0", "data.augment=crop_flip", "data.crop_padding=2", "data.crop_fill=reflect",
        "train.epochs=3", "train.batch_size=64", "train.threads=1", "train.tta=flip_translate",
        "optim.lr=0.2", "optim.momentum=0.85", "optim.nesterov=true", "optim.norm_lr_scale=64",
        "optim.schedule=linear", "optim.warmup_epochs=0.5", "optim.warmup_from=0.2", "optim.min_lr_ratio=0.07",
        "optim.lookahead=true", "task.label_smoothing=0.2"]


# ------------------------------------------------------------------------------------------------------ model

def test_airbench94_size_and_shape():
    net = build_model("airbench")
    # airbench94's 1.97 M trainable parameters: the frozen whitening filters and BN scales are not counted
    assert count_params(net) == 1_971_352
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    frozen = [n for n, p in net.named_parameters() if not p.requires_grad]
    assert "whiten.weight" in frozen and all(n == "whiten.weight" or n.endswith("norm1.weight")
                                             or n.endswith("norm2.weight") for n in frozen)
    with pytest.raises(ValueError, match="widths"):
        build_model("airbench", widths=[64, 0, 256])


def test_whitening_decorrelates_patches():
    torch.manual_seed(0)
    # strongly correlated pixels: a smooth random field plus a little noise
    base = torch.randn(400, 3, 9, 9)
    images = nn.functional.interpolate(base, size=(16, 16), mode="bilinear") + 0.05 * torch.randn(400, 3, 16, 16)
    layer = Whitening(3, 2, eps=0.0)
    layer.fit(images)
    out = layer(images)[:, :12]                       # the first half; the rest is its negative
    flat = out.permute(0, 2, 3, 1).reshape(-1, 12).double()
    second_moment = flat.T @ flat / len(flat)
    assert torch.allclose(second_moment, torch.eye(12, dtype=torch.float64), atol=2e-3)
    assert torch.equal(layer(images)[:, 12:], -out)


# -------------------------------------------------------------------------------------------------- augmentation

def test_reflect_crop_shifts_without_black_edges():
    x = torch.randint(1, 256, (64, 3, 8, 8), dtype=torch.uint8)
    out = random_crop(x, 2, torch.Generator().manual_seed(0), fill="reflect")
    assert out.shape == x.shape and (out > 0).all()           # the edges are mirrored image, never zeros
    zeros = random_crop(x, 2, torch.Generator().manual_seed(0), fill="zeros")
    assert (zeros == 0).any()
    # each output is its input shifted by the same offset in both fills: they agree away from the edges
    assert torch.equal(out[:, :, 2:-2, 2:-2], zeros[:, :, 2:-2, 2:-2])
    with pytest.raises(ValueError, match="crop fill 'wrap'"):
        ImageTransform((0.5,) * 3, (0.5,) * 3, "crop", 2, fill="wrap")


def test_tta_views_and_wrapper():
    x = torch.randn(4, 3, 8, 8)
    assert [w for w, _ in tta_views(x, "none")] == [1.0]
    flip = tta_views(x, "flip")
    assert sum(w for w, _ in flip) == 1.0 and torch.equal(flip[1][1], x.flip(3))
    six = tta_views(x, "flip_translate")
    assert len(six) == 6 and sum(w for w, _ in six) == pytest.approx(1.0)
    # one pixel up-left with a mirrored edge: row/column 1 of the image become row/column 0
    up_left = six[2][1]
    assert torch.equal(up_left[:, :, 1:, 1:], x[:, :, :-1, :-1]) and torch.equal(up_left[:, :, 0, 1:], x[:, :, 1, :-1])
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 64, 5))
    wrapped = WithTTA(model, "flip_translate")
    expected = sum(w * model(v) for w, v in six)
    assert torch.allclose(wrapped(x), expected, atol=1e-6)
    with pytest.raises(ValueError, match="unknown tta"):
        tta_views(x, "rotate")


# ---------------------------------------------------------------------------------------------------- optimiser

def test_norm_parameters_get_scaled_lr_and_the_same_decay_per_step():
    net = build_model("airbench", widths=[8, 8, 8])
    cfg = OptimConfig(lr=0.5, weight_decay=0.001, norm_lr_scale=64)
    groups = build_optimizer(net, cfg).param_groups
    assert [g["lr"] for g in groups] == [0.5, 32.0]
    assert groups[0]["lr"] * groups[0]["weight_decay"] == pytest.approx(groups[1]["lr"] * groups[1]["weight_decay"])
    bn_shifts = [p for n, p in net.named_parameters() if n.endswith(("norm1.bias", "norm2.bias"))]
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in bn_shifts}
    assert len(param_groups(net, OptimConfig())) == 1
    with pytest.raises(ConfigError, match="no trainable normalisation"):
        build_optimizer(nn.Linear(2, 2), cfg)


def test_linear_schedule_is_airbench_triangle():
    cfg = OptimConfig(lr=1.0, schedule="linear", warmup_epochs=1, warmup_from=0.2, min_lr_ratio=0.07,
                      norm_lr_scale=4)
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    opt = build_optimizer(net, cfg)
    sched = build_scheduler(opt, cfg, epochs=4, steps_per_epoch=10)
    lrs, norm_lrs = [], []
    for _ in range(40):
        lrs.append(opt.param_groups[0]["lr"])
        norm_lrs.append(opt.param_groups[1]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.2) and lrs[5] == pytest.approx(0.6) and lrs[10] == pytest.approx(1.0)
    assert lrs[25] == pytest.approx(1 - 0.93 * 15 / 30)
    assert all(a > b for a, b in zip(lrs[10:], lrs[11:]))
    assert norm_lrs == pytest.approx([4 * lr for lr in lrs])   # the scaled group follows the same schedule


def test_lookahead_averages_and_ends_on_the_slow_weights():
    net = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        net.weight.zero_()
    la = Lookahead(net, total_steps=10, every=5, final_decay=0.5)
    assert la.decay(0) == 0 and la.decay(10) == pytest.approx(0.5) and la.decay(5) == pytest.approx(0.5 / 8)
    with torch.no_grad():
        net.weight.fill_(1.0)
    la.after_step(4)
    assert torch.equal(net.weight, torch.ones(1, 3))           # not a sync step
    la.after_step(5)                                            # slow = d·0 + (1 − d)·1, model = slow
    assert torch.allclose(net.weight, torch.full((1, 3), 1 - 0.5 / 8))
    with torch.no_grad():
        net.weight.fill_(3.0)
    slow = la.state_dict()["weight"].clone()
    la.after_step(10)                                           # decay 0.5, then the model takes the slow copy
    assert torch.allclose(net.weight, 0.5 * slow + 0.5 * 3.0)


# ------------------------------------------------------------------------------------------------------ in a run

def test_speedrun_parts_in_a_run_and_after_resume(tmp_path, monkeypatch):
    whole = train(load_config(None, TINY + [f"out_dir={tmp_path}", "name=whole"]), progress=False)
    s = whole.summary
    assert s["selected_by"] == "last epoch" and 0 <= s["metrics"]["test_acc"] <= 1
    w = load_file(str(whole.run_dir / "model.safetensors"))["whiten.weight"]
    assert torch.allclose(w[:12], -w[12:]) and w.abs().sum() > 0   # fitted from data, not PyTorch's init

    # the same run stopped after its first epoch and resumed: lookahead's slow weights come back too
    original = loop._Trainer._train_epoch

    def stop_in_second_epoch(self):
        if self.epoch == 1:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(loop._Trainer, "_train_epoch", stop_in_second_epoch)
    cfg = load_config(None, TINY + [f"out_dir={tmp_path}", "name=stopped"])
    with pytest.raises(KeyboardInterrupt):
        train(cfg, progress=False)
    monkeypatch.setattr(loop._Trainer, "_train_epoch", original)
    resumed = train(load_config(None, TINY + [f"out_dir={tmp_path}", "name=stopped"]), resume=True, progress=False)
    assert resumed.summary["attempts"] == 2
    assert resumed.summary["metrics"] == s["metrics"]


def test_tta_applies_to_the_final_test_only(tmp_path):
    args = TINY + [f"out_dir={tmp_path}", "train.epochs=1", "train.test_every_epoch=true"]
    plain = train(load_config(None, args + ["name=plain", "train.tta=none"]), progress=False)
    tta = train(load_config(None, args + ["name=tta"]), progress=False)
    curve = lambda r: (r.run_dir / "metrics.csv").read_text().splitlines()[1].split(",")[:-1]
    assert curve(plain) == curve(tta)                          # same training, same per-epoch test scores
    assert plain.summary["metrics"]["test_loss"] != tta.summary["metrics"]["test_loss"]
    with pytest.raises(NnstudyError, match="test-time flips need images"):
        train(load_config(None, ["model.name=mlp", "data.name=seizure-sample", "train.epochs=1",
                                 f"out_dir={tmp_path}", "train.tta=flip"]), progress=False)


def test_speedrun_study_recipe():
    spec = load_study_spec("cifar-speedrun")
    names = [v.name for v in spec.expand()]
    assert names == ["airbench94", "small", "resnet18"]
    cfg = load_config(spec.run_config(spec.expand()[0], 0))
    # airbench94's summed-loss hyper-parameters on the mean loss: lr 11.5 / (1 + 1/(1 − 0.85)), decay 0.0153
    # per 1024 images per step
    kilostep = 1 + 1 / (1 - cfg.optim.momentum)
    assert cfg.optim.lr == pytest.approx(11.5 / kilostep, rel=0.01)
    assert cfg.optim.lr * cfg.optim.weight_decay == pytest.approx(0.0153 / kilostep, rel=0.01)
    assert cfg.train.batch_size == 1024 and cfg.data.model_extra["val_fraction"] == 0
    small = load_config(spec.run_config(spec.expand()[1], 0))
    # the same lr per image at half the batch
    assert small.optim.lr / small.train.batch_size == pytest.approx(cfg.optim.lr / cfg.train.batch_size)
    resnet = load_config(spec.run_config(spec.expand()[2], 0))
    # the airbench-only settings are reset for ResNet-18
    assert resnet.model.name == "resnet18" and not resnet.optim.lookahead and resnet.optim.norm_lr_scale == 1
    json.dumps(spec.resolved().to_dict())


def test_benchmark_table_and_curve(tmp_path, monkeypatch):
    import sys
    from pathlib import Path
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    bench = __import__("cifar_speedrun")
    run = {"seed": 0, "wall_seconds": 400.0, "wall_without_curve_seconds": 380.0, "train_seconds": 300.0,
           "final_test_seconds": 10.0, "test_acc_tta": 0.945,
           "curve": [{"epoch": 1, "train_seconds": 100.0, "test_acc": 0.85},
                     {"epoch": 2, "train_seconds": 200.0, "test_acc": 0.91},
                     {"epoch": 3, "train_seconds": 300.0, "test_acc": 0.938}]}
    # 94 % is first reached by the final point with TTA, at training + final-test seconds
    assert bench._first_crossing(run["curve"], (310.0, 0.945), 0.94) == 310.0
    assert bench._first_crossing(run["curve"], (310.0, 0.945), 0.90) == 200.0
    assert bench._first_crossing(run["curve"], (310.0, 0.945), 0.95) is None
    cfg = {"train": {"epochs": 3, "batch_size": 1024, "tta": "flip"}, "model": {"name": "airbench",
                                                                             "widths": [8, 8, 8]}}
    summary = bench._summarise("airbench94", [run, {**run, "seed": 1, "test_acc_tta": 0.935}], cfg)
    assert summary["test_acc_mean"] == pytest.approx(0.94) and summary["train_seconds_to"]["0.94"] is None
    result = {"command": "python benchmarks/cifar_speedrun.py", "machine": "test CPU", "torch": "x", "cpus": 2,
              "threads": 2, "variants": [summary]}
    table = bench.markdown(result)
    assert "| airbench94 (airbench 8/8/8, batch 1024, TTA flip) | 2 | 3 | 94.00 ± 0.71 % | 6.7 min |" in table
    assert "not reached" in table and "91.0 % @ 3.3 min" in table
    bench.figure(result, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 1000
    assert bench._seeds(["small=0,1,2"], ["airbench94", "small"], [0]) == {"airbench94": [0], "small": [0, 1, 2]}
    with pytest.raises(SystemExit, match="not among the variants"):
        bench._seeds(["big=1"], ["small"], [0])
    del sys.modules["cifar_speedrun"]
