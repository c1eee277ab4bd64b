"""Importing published checkpoints: plain, `module.`-prefixed, wrapped, safetensors; mismatches by name."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from nnstudy.engine import evaluate_weights
from nnstudy.engine.checkpoint import load_weights, read_state_dict
from nnstudy.errors import CheckpointError
from nnstudy.models import build_model


@pytest.mark.parametrize("wrap", ["plain", "module", "state_dict", "net", "safetensors"])
def test_published_layouts_load(tmp_path, wrap):
    src = build_model("resnet18")
    state = src.state_dict()
    path = tmp_path / ("w.safetensors" if wrap == "safetensors" else "w.pt")
    if wrap == "module":
        state = {f"module.{k}": v for k, v in state.items()}
    if wrap in ("state_dict", "net"):
        state = {wrap: state, "epoch": 200, "acc": 93.07}
    if wrap == "safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    dst = build_model("resnet18")
    load_weights(dst, path)
    for (k, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        assert torch.equal(a, b), k


def test_mismatch_is_reported_by_name(tmp_path):
    path = tmp_path / "r34.pt"
    torch.save(build_model("resnet34").state_dict(), path)
    with pytest.raises(CheckpointError, match=r"unexpected \d+ \(layer1\.2\.") as info:
        load_weights(build_model("resnet18"), path)
    assert "\n" not in str(info.value)
    wrong = tmp_path / "r18-100.pt"
    torch.save(build_model("resnet18", num_classes=100).state_dict(), wrong)
    with pytest.raises(CheckpointError, match=r"shape mismatch 2 \(fc.weight \(100, 512\) vs model \(10, 512\)"):
        load_weights(build_model("resnet18"), wrong)


def test_non_state_dict_refused(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="expected a state_dict"):
        read_state_dict(path)


def test_eval_published_weights_on_sample(tmp_path):
    model = build_model("tutorial_cnn")
    path = tmp_path / "cnn.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, path)
    result = evaluate_weights("tutorial_cnn", path, ["data.name=cifar10-sample"])
    assert set(result["metrics"]) == {"test_loss", "test_acc"}
    assert 0.0 <= result["metrics"]["test_acc"] <= 0.3     # untrained: about chance (0.1)
