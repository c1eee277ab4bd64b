"""The model zoo: every registered builder runs forward and backward; SPEC param counts and names hold."""
import inspect

import pytest
import torch
from torch import nn

from nnstudy.errors import RegistryError
from nnstudy.models import MODELS, build_model, count_params, register_model
from nnstudy.models.layers import ACTIVATIONS, conv_out_size, get_act
from nnstudy.models.resnet import Residual

ALL_MODELS = MODELS.names()
# The image families of this zoo; other families registered later get the generic checks only.
IMAGE_FAMILIES = {f"nnstudy.models.{m}" for m in ("mlp", "cnn", "alexnet", "resnet")}
IMAGE_MODELS = [n for n in ALL_MODELS if MODELS.get(n).builder.__module__ in IMAGE_FAMILIES]


def _default(name, arg):
    return MODELS.get(name).signature.parameters[arg].default


def _batch(input_shape=(3, 32, 32), num_classes=10, n=2):
    torch.manual_seed(0)
    return torch.randn(n, *input_shape), torch.randint(0, num_classes, (n,))


# --- every registered model --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL_MODELS)
def test_forward_backward(name):
    model = build_model(name)
    params = MODELS.get(name).signature.parameters
    num_classes = _default(name, "num_classes" if "num_classes" in params else "outputs")
    x, y = _batch(_default(name, "input_shape"), num_classes)  # batch 2 at the builder's defaults
    out = model(x)
    assert out.shape == (2, num_classes)
    assert torch.isfinite(out).all()
    nn.functional.cross_entropy(out, y).backward()
    for pname, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f"{name}: no gradient for {pname}"
            assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient for {pname}"


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_input_shape_and_num_classes_are_honoured(name):
    model = build_model(name, num_classes=5, input_shape=(1, 28, 28)).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 28, 28))
    assert out.shape == (2, 5)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_builder_contract(name):
    """Keyword-only, annotated arguments (the config type-checks overrides with them) and a one-line description."""
    entry = MODELS.get(name)
    assert entry.description and "\n" not in entry.description
    params = entry.signature.parameters
    for p in params.values():
        assert p.kind is inspect.Parameter.KEYWORD_ONLY, f"{name}({p.name}) must be keyword-only"
        assert p.annotation is not inspect.Parameter.empty, f"{name}({p.name}) needs a type annotation"
        assert p.default is not inspect.Parameter.empty, f"{name}({p.name}) needs a default"
    assert "input_shape" in params and ("num_classes" in params or "outputs" in params)
    if name in IMAGE_MODELS:
        assert params["num_classes"].default == 10
        assert params["input_shape"].default == (3, 32, 32)


# --- SPEC parameter counts (must match exactly) --------------------------------------------------------------------

@pytest.mark.parametrize("name, kwargs, expected", [
    ("mlp2", {}, 369_970),
    ("mlp3", {}, 379_774),
    ("mlp4", {}, 828_542),
    ("mlp5", {}, 1_746_558),
    ("mlp", {"depth": 5}, 1_746_558),
    ("mlp", {"hidden": [16], "act": "sigmoid", "input_shape": (178,), "num_classes": 5}, 2_949),  # SPEC F
    ("tutorial_cnn", {}, 62_006),
    ("tutorial_cnn", {"conv_layers": 1}, 152_710),  # documented in the builder's docstring
    ("tutorial_cnn", {"conv_layers": 3}, 88_278),
    ("tutorial_cnn", {"width": 2}, 117_678),
    ("alexnet", {}, 23_272_266),
    ("resnet18", {}, 11_173_962),
    ("resnet34", {}, 21_282_122),
    ("resnet50", {}, 23_520_842),
    ("cnn1d", {}, 85_273),                                   # SPEC F seizure CNN
    ("rnn_classifier", {}, 997),                             # SPEC F seizure GRU
    ("rnn_classifier", {"cell": "lstm"}, 4 * (16 + 256 + 32) + 85),
    ("rnn_classifier", {"cell": "rnn", "layers": 2, "bidirectional": True},
     2 * (16 + 256 + 32) + 2 * (16 * 32 + 256 + 32) + 32 * 5 + 5),
    ("rnn_forecaster", {}, 596_993),                         # SPEC E: the blog's GRU, 2 layers
    ("rnn_forecaster", {"cell": "lstm"}, 795_905),
    # airbench94 (trainable only: whitening filters and BN scales are frozen); the cifar-speedrun small net
    ("airbench", {}, 1_971_352),
    ("airbench", {"widths": [32, 64, 128]}, 294_360),
])
def test_param_counts(name, kwargs, expected):
    assert count_params(build_model(name, **kwargs)) == expected


# --- activations ---------------------------------------------------------------------------------------------------

def test_get_act():
    assert isinstance(get_act("relu"), nn.ReLU)
    assert isinstance(get_act("LeakyReLU"), nn.LeakyReLU)
    assert isinstance(get_act("leaky_relu"), nn.LeakyReLU)
    assert isinstance(get_act("tanh"), nn.Tanh)
    assert get_act("relu") is not get_act("relu")  # never a shared instance
    with pytest.raises(ValueError, match="relu.*tanh"):
        get_act("relux")


# --- tutorial CNN ----------------------------------------------------------------------------------------------------

def _convs(model):
    return [(m.in_channels, m.out_channels) for m in model.modules() if isinstance(m, nn.Conv2d)]


def _first_linear(model):
    return next(m for m in model.modules() if isinstance(m, nn.Linear))


def test_doubled_cnn_channels():
    model = build_model("tutorial_cnn", width=2)
    assert _convs(model) == [(3, 12), (12, 32)]
    assert _first_linear(model).in_features == 32 * 5 * 5


@pytest.mark.parametrize("conv_layers, convs, fc_in", [
    (1, [(3, 6)], 6 * 14 * 14),
    (2, [(3, 6), (6, 16)], 16 * 5 * 5),
    (3, [(3, 6), (6, 16), (16, 32)], 32 * 4 * 4),
])
@pytest.mark.parametrize("act", sorted(ACTIVATIONS) + ["leakyrelu"])
def test_cnn_variants_build_and_run(conv_layers, convs, fc_in, act):
    model = build_model("tutorial_cnn", conv_layers=conv_layers, act=act)
    assert _convs(model) == convs
    assert _first_linear(model).in_features == fc_in
    assert model(_batch()[0]).shape == (2, 10)


def test_cnn_fc_size_follows_input_shape():
    model = build_model("tutorial_cnn", input_shape=(3, 64, 64))
    side = conv_out_size(conv_out_size(conv_out_size(conv_out_size(64, 5), 2, 2), 5), 2, 2)  # 64→60→30→26→13
    assert _first_linear(model).in_features == 16 * side * side == 16 * 13 * 13


@pytest.mark.parametrize("kwargs, match", [
    ({"conv_layers": 4}, "conv_layers"),
    ({"conv_layers": 0}, "conv_layers"),
    ({"width": 0}, "width"),
    ({"act": "nope"}, "activation"),
    ({"input_shape": (3, 8, 8)}, "too small"),
])
def test_cnn_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_model("tutorial_cnn", **kwargs)


def test_mlp_bad_depth():
    with pytest.raises(ValueError, match="depth"):
        build_model("mlp", depth=6)


# --- residual nets ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("blocks, layout", [(5, [2, 1, 1, 1]), (10, [3, 3, 2, 2])])
def test_d2l_resnet_blocks(blocks, layout):
    model = build_model("d2l_resnet", blocks=blocks)
    stages = [m for name, m in model.named_children() if name.startswith("stage")]
    assert [len(s) for s in stages] == layout
    assert sum(isinstance(m, Residual) for m in model.modules()) == blocks
    x, y = _batch()
    nn.functional.cross_entropy(model(x), y).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_residual_needs_1x1conv_to_change_shape():
    with pytest.raises(ValueError, match="use_1x1conv"):
        Residual(64, 128)
    assert Residual(64, 128, use_1x1conv=True, stride=2)(torch.randn(1, 64, 8, 8)).shape == (1, 128, 4, 4)


def _torchvision_keys(layers, bottleneck):
    """state_dict keys of torchvision's ResNet, written out from its naming scheme."""
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    keys = ["conv1.weight"] + [f"bn1.{k}" for k in bn] + ["fc.weight", "fc.bias"]
    convs = 3 if bottleneck else 2
    for stage, n in enumerate(layers, start=1):
        for i in range(n):
            prefix = f"layer{stage}.{i}"
            for c in range(1, convs + 1):
                keys += [f"{prefix}.conv{c}.weight"] + [f"{prefix}.bn{c}.{k}" for k in bn]
            if i == 0 and (stage > 1 or bottleneck):
                keys += [f"{prefix}.downsample.0.weight"] + [f"{prefix}.downsample.1.{k}" for k in bn]
    return set(keys)


@pytest.mark.parametrize("name, layers, bottleneck", [
    ("resnet18", [2, 2, 2, 2], False),
    ("resnet34", [3, 4, 6, 3], False),
    ("resnet50", [3, 4, 6, 3], True),
])
def test_resnet_names_match_torchvision(name, layers, bottleneck):
    model = build_model(name)
    assert set(model.state_dict()) == _torchvision_keys(layers, bottleneck)
    modules = dict(model.named_modules())
    assert {"conv1", "bn1", "relu", "maxpool", "avgpool", "fc", "layer4.0.downsample.0"} <= set(modules)
    # The CIFAR stem of huyvnphan/PyTorch_CIFAR10.
    conv1, pool = modules["conv1"], modules["maxpool"]
    assert (conv1.kernel_size, conv1.stride, conv1.padding, conv1.bias) == ((3, 3), (1, 1), (1, 1), None)
    assert (pool.kernel_size, pool.stride, pool.padding) == (3, 2, 1)


def test_resnet_state_dict_round_trip():
    source, target = build_model("resnet18"), build_model("resnet18")
    target.load_state_dict(source.state_dict(), strict=True)
    x = _batch()[0]
    with torch.no_grad():
        assert torch.equal(source.eval()(x), target.eval()(x))


def test_resnet_stem_is_an_argument():
    assert build_model("resnet18", stem="imagenet").conv1.kernel_size == (7, 7)
    with pytest.raises(ValueError, match="cifar"):
        build_model("resnet18", stem="tiny")


def test_resnet_zero_init_residual():
    model = build_model("resnet18", zero_init_residual=True)
    assert all((b.bn2.weight == 0).all() for b in model.layer1)


# --- registry ------------------------------------------------------------------------------------------------------

def test_duplicate_registration_raises():
    with pytest.raises(RegistryError, match="mlp2"):
        @register_model("mlp2")
        def other(**kwargs):
            """Not the real mlp2."""
    assert MODELS.get("mlp2").builder.__module__ == "nnstudy.models.mlp"


def test_unknown_model_suggests_closest():
    with pytest.raises(RegistryError, match="resnet18"):
        build_model("resnet19")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_rnn_classifier_sequences_of_features(cell):
    model = build_model("rnn_classifier", cell=cell, layers=2, dropout=0.1, input_shape=(48, 7), num_classes=2)
    assert model(torch.randn(3, 48, 7)).shape == (3, 2)
    with pytest.raises(ValueError, match="unknown cell"):
        build_model("rnn_classifier", cell="transformer")


def test_cnn1d_too_short_signal():
    with pytest.raises(ValueError, match="too short"):
        build_model("cnn1d", input_shape=(12,))


def test_variable_rnn_ignores_padding_and_batch_order():
    from nnstudy.models import build_model
    torch.manual_seed(0)
    model = build_model("variable_rnn", input_shape=(10, 1 + 4)).eval()
    assert count_params(model) == (4 * 32 + 32) + 3 * (32 * 16 + 16 * 16 + 2 * 16) + (16 * 2 + 2)

    def stay(length: int, steps: int) -> torch.Tensor:
        x = torch.zeros(steps, 5)
        x[:length, 0] = 1.0
        x[:length, 1:] = torch.randn(length, 4)
        return x

    stays = [stay(n, 10) for n in (3, 10, 1, 7)]
    batch = torch.stack(stays)
    with torch.no_grad():
        out = model(batch)
        for i, x in enumerate(stays):
            n = int(x[:, 0].sum())
            alone = model(x[:n].unsqueeze(0))                       # no padding at all
            more = model(torch.cat([x, torch.zeros(20, 5)]).unsqueeze(0))   # much more padding
            assert torch.allclose(out[i], alone[0], atol=1e-6) and torch.allclose(out[i], more[0], atol=1e-6)
        perm = torch.tensor([2, 0, 3, 1])
        assert torch.allclose(model(batch[perm]), out[perm], atol=1e-6)
        # padding values other than zero are never read
        noisy = batch.clone()
        noisy[:, :, 1:] += (1 - noisy[:, :, :1]) * 1e3
        assert torch.allclose(model(noisy), out, atol=1e-6)
    with pytest.raises(ValueError, match="step flag in channel 0"):
        build_model("variable_rnn", input_shape=(10,))
    # MACs are counted at full length: 10 steps of FC 4→32 and GRU 32→16, then FC 16→2 once
    from nnstudy.measure import summarize
    macs = summarize(model, (10, 5)).to_dict()["totals"]["macs"]
    assert macs == 10 * (4 * 32 + 3 * (32 * 16 + 16 * 16)) + 16 * 2


def test_mlp_with_one_activation_per_hidden_layer():
    model = build_model("mlp", hidden=[100, 50, 24, 12], act=["relu", "relu", "relu", "sigmoid"], num_classes=5,
                        input_shape=(178,))
    assert count_params(model) == 24_539          # 178-100-50-24-12-5: the seizure write-up's improved MLP
    assert [type(m).__name__ for m in model if not isinstance(m, (nn.Linear, nn.Flatten))] == \
        ["ReLU", "ReLU", "ReLU", "Sigmoid"]
    with pytest.raises(ValueError, match="2 activations for 4 hidden layers"):
        build_model("mlp", hidden=[100, 50, 24, 12], act=["relu", "tanh"], input_shape=(178,))


def test_variable_rnn_input_dropout_acts_in_training_only_and_spares_the_step_flag():
    from nnstudy.models import build_model
    torch.manual_seed(0)
    plain = build_model("variable_rnn", input_shape=(6, 1 + 4))
    dropped = build_model("variable_rnn", input_shape=(6, 1 + 4), input_dropout=0.5)
    dropped.load_state_dict(plain.state_dict())          # dropout adds no parameters
    x = torch.randn(8, 6, 5)
    x[:, :, 0] = 1.0
    x[:3, 4:, :] = 0.0                                     # three shorter stays
    with torch.no_grad():
        assert torch.equal(dropped.eval()(x), plain.eval()(x))
        dropped.train()
        assert not torch.allclose(dropped(x), plain(x))
        # a dropped flag would change the lengths: the flag is never dropped, so lengths stay intact
        seen = []
        dropped.rnn.register_forward_hook(lambda m, args, out: seen.append(args[0].batch_sizes.sum().item()))
        dropped(x)
        assert seen == [int(x[..., 0].sum())]
