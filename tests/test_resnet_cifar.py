"""The paper's CIFAR ResNets (He et al. 2016, §4.2) and importing pytorch_resnet_cifar10's published `.th` files:
exact parameter counts, option A/B shortcuts, the format choosing the input normalisation, unsafe and mismatched
files refused in one line."""
from __future__ import annotations

import json
import os
import pickle

import pytest
import torch
from torch import nn

from nnstudy.cli import main
from nnstudy.data import build_dataset
from nnstudy.engine import evaluate_weights
from nnstudy.engine.checkpoint import WEIGHTS_FORMATS, load_weights, read_weights, weights_format
from nnstudy.errors import CheckpointError, ConfigError
from nnstudy.models import build_model, count_params
from nnstudy.models.resnet_cifar import ZeroPadShortcut

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)   # pytorch_resnet_cifar10's trainer.py
FP32 = ["data.name=cifar10-sample", "train.precision=fp32", "train.device=cpu", "train.channels_last=false"]


# ------------------------------------------------------------------------------------------------- the models

@pytest.mark.parametrize("name, expected", [
    ("resnet20", 269_722), ("resnet32", 464_154), ("resnet44", 658_586), ("resnet56", 853_018),
    ("resnet110", 1_727_962),
])
def test_param_counts_option_a(name, expected):
    assert count_params(build_model(name)) == expected
    # option B adds two projections (1×1 conv + BN): 16→32 and 32→64
    assert count_params(build_model(name, shortcut="B")) == expected + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)


@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_forward_shape(shortcut):
    model = build_model("resnet20", shortcut=shortcut, num_classes=7).eval()
    with torch.no_grad():
        assert model(torch.randn(3, 3, 32, 32)).shape == (3, 7)


def test_names_follow_pytorch_resnet_cifar10():
    keys = set(build_model("resnet20").state_dict())
    assert {"conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer1.0.bn2.bias",
            "layer3.2.conv2.weight", "linear.weight", "linear.bias"} <= keys
    assert not any("downsample" in k or "shortcut" in k for k in keys)   # option A holds no tensors


def test_option_a_subsamples_and_pads_zeros_around_the_input_channels():
    x = torch.randn(2, 16, 8, 8)
    y = ZeroPadShortcut(16, 32, 2)(x)
    assert y.shape == (2, 32, 4, 4)
    torch.testing.assert_close(y[:, 8:24], x[:, :, ::2, ::2])
    assert not y[:, :8].any() and not y[:, 24:].any()


def test_bad_arguments_fail_loudly():
    with pytest.raises(ValueError, match="shortcut"):
        build_model("resnet20", shortcut="C")


# ------------------------------------------------------------------------------------- published .th import

def _imagenet_normalised(images: torch.Tensor) -> torch.Tensor:
    """uint8 images as pytorch_resnet_cifar10 fed them to its nets: ToTensor, then Normalize(ImageNet mean/std)."""
    return (images.float() / 255 - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)


def _trained_like(name: str = "resnet20") -> nn.Module:
    """A model with random weights and BN statistics gathered on real images (so its logits are of sane size)."""
    torch.manual_seed(0)
    model = build_model(name)
    x = _imagenet_normalised(build_dataset("cifar10-sample").train.inputs[:128])
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None   # a plain average over the batches
    with torch.no_grad():
        for batch in x.split(64):
            model(batch)
    return model.eval()


def _save_th(model: nn.Module, path) -> None:
    """Exactly pytorch_resnet_cifar10's file: torch.save of best_prec1 and a DataParallel state_dict."""
    torch.save({"best_prec1": 91.7, "state_dict": {"module." + k: v for k, v in model.state_dict().items()}}, path)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    model = _trained_like()
    path = tmp_path_factory.mktemp("th") / "resnet20-abc123.th"
    _save_th(model, path)
    return model, path


def test_th_format_detected_and_weights_identical(published):
    model, path = published
    state, fmt = read_weights(path)
    assert fmt.name == "pytorch_resnet_cifar10" and fmt.normalize == "imagenet"
    loaded = build_model("resnet20").eval()
    load_weights(loaded, path)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_th_scores_as_the_model_that_wrote_it_with_imagenet_normalisation(published):
    model, path = published
    test = build_dataset("cifar10-sample").test
    with torch.no_grad():
        logits = model(_imagenet_normalised(test.inputs))
    loss = nn.functional.cross_entropy(logits, test.targets).item()
    correct = int((logits.argmax(1) == test.targets).sum())

    result = evaluate_weights("resnet20", path, FP32)
    assert (result["format"], result["normalize"]) == ("pytorch_resnet_cifar10", "imagenet")
    assert result["metrics"]["test_acc"] == pytest.approx(correct / len(test.targets))
    assert result["metrics"]["test_loss"] == pytest.approx(loss, rel=1e-4)

    # the same file scored with the config's normalisation (huyvnphan's mean/std) is another result
    wrong = evaluate_weights("resnet20", path, FP32, preset="nnstudy")
    assert wrong["normalize"] == "cifar10"
    assert wrong["metrics"]["test_loss"] != pytest.approx(loss, rel=1e-3)


def test_known_formats(tmp_path):
    plain = tmp_path / "r18.pt"
    torch.save(build_model("resnet18").state_dict(), plain)
    assert weights_format(plain).name == "huyvnphan"
    wrapped = tmp_path / "cnn.pt"
    torch.save({"state_dict": build_model("tutorial_cnn").state_dict()}, wrapped)
    assert weights_format(wrapped).name == "nnstudy"
    assert weights_format(wrapped, "pytorch_resnet_cifar10").normalize == "imagenet"
    assert set(WEIGHTS_FORMATS) == {"nnstudy", "huyvnphan", "pytorch_resnet_cifar10"}
    with pytest.raises(ConfigError, match="choose one of nnstudy, huyvnphan, pytorch_resnet_cifar10"):
        weights_format(wrapped, "akamaster")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):   # what unpickling would run: never, with weights_only=True
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_malicious_th_refused_in_one_line(tmp_path, how):
    marker = tmp_path / "pwned"
    path = tmp_path / "resnet20-evil.th"
    payload = {"best_prec1": 91.7, "state_dict": {"linear.bias": torch.zeros(10)}, "x": _Evil(marker)}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(CheckpointError) as info:
        read_weights(path)
    message = str(info.value)
    assert "\n" not in message and path.name in message and "refused" in message
    if how == "torch.save":   # the safe loader stops at the first global it refuses: here os.system
        assert "posix.system" in message or "nt.system" in message
    assert not marker.exists()


def test_wrong_architecture_named_in_one_line(tmp_path):
    path = tmp_path / "resnet32-abc.th"
    _save_th(build_model("resnet32"), path)
    with pytest.raises(CheckpointError, match=r"does not fit CifarResNet: unexpected 72 \(layer1\.3\.conv1") as info:
        load_weights(build_model("resnet20"), path)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------------------- CLI

def test_cli_eval_th(published, capsys):
    _, path = published
    assert main(["eval", "--model", "resnet20", "--weights", str(path), *FP32, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["format"] == "pytorch_resnet_cifar10" and result["normalize"] == "imagenet"
    assert 0.0 <= result["metrics"]["test_acc"] <= 1.0


@pytest.mark.parametrize("kind", ["evil", "resnet32", "preset"])
def test_cli_eval_refusals_are_one_line(tmp_path, capsys, kind):
    marker = tmp_path / "pwned"
    path = tmp_path / "resnet20-x.th"
    if kind == "evil":
        torch.save({"best_prec1": 1.0, "state_dict": {}, "x": _Evil(marker)}, path)
    else:
        _save_th(build_model("resnet32" if kind == "resnet32" else "resnet20"), path)
    extra = ["--weights-preset", "imagenet"] if kind == "preset" else []
    rc = main(["eval", "--model", "resnet20", "--weights", str(path), *extra, "data.name=cifar10-sample"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2 and len(lines) == 1, lines
    assert lines[0].startswith("nnstudy eval: error:")
    assert {"evil": "refused", "resnet32": "unexpected 72", "preset": "unknown weights preset"}[kind] in lines[0]
    assert not marker.exists()


# ------------------------------------------------------------------------------- SPEC C: huyvnphan's checkpoints

def test_a_huyvnphan_file_scores_in_the_study_as_the_model_that_wrote_it(tmp_path):
    """SPEC C's one command: `nnstudy run cifar-resnet-depth --weights resnet18=resnet18.pt`. A file written in
    huyvnphan/PyTorch_CIFAR10's format (a plain state_dict, torchvision's names) is scored with their
    normalisation, chosen from the format, and its accuracy lands in the study's table."""
    import csv
    torch.manual_seed(3)
    model = build_model("resnet18").eval()
    path = tmp_path / "resnet18.pt"
    torch.save(model.state_dict(), path)
    test = build_dataset("cifar10-sample").test
    mean = torch.tensor((0.4914, 0.4822, 0.4465)).view(1, 3, 1, 1)   # huyvnphan's statistics, written out
    std = torch.tensor((0.2471, 0.2435, 0.2616)).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = torch.cat([model((x.float() / 255 - mean) / std) for x in test.inputs.split(250)])
    expected = int((logits.argmax(1) == test.targets).sum()) / len(test.targets)

    rc = main(["run", "cifar-resnet-depth", "--variants", "resnet18", "--weights", f"resnet18={path}",
               "--out", str(tmp_path / "studies"), "--quiet", "data.name=cifar10-sample", "train.precision=fp32",
               "train.channels_last=false"])
    assert rc == 0
    study = next((tmp_path / "studies").iterdir())
    summary = json.loads((study / "runs" / "resnet18__s0" / "summary.json").read_text())
    assert "published weights resnet18.pt" in summary["selected_by"] and "huyvnphan" in summary["selected_by"]
    assert summary["metrics"]["test_acc"] == pytest.approx(expected)
    rows = list(csv.DictReader(open(study / "summary.csv")))
    assert [float(r["test_acc_mean"]) for r in rows if r["variant"] == "resnet18"] == [pytest.approx(expected)]
