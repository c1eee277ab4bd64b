"""Typed configs: YAML, dotted overrides, type checks, one-line errors with the closest valid key."""
from __future__ import annotations

import pytest

from nnstudy import load_config
from nnstudy.config import RunConfig, dump_yaml
from nnstudy.errors import ConfigError


def test_model_name_and_overrides_are_typed():
    cfg = load_config("tutorial_cnn", ["optim.lr=0.01", "model.act=tanh", "train.epochs=3", "model.width=2",
                                       "optim.nesterov=true", "train.threads=null"])
    assert isinstance(cfg, RunConfig)
    assert cfg.optim.lr == 0.01 and isinstance(cfg.optim.lr, float)
    assert cfg.model.act == "tanh" and cfg.model.width == 2 and isinstance(cfg.model.width, int)
    assert cfg.train.epochs == 3 and cfg.optim.nesterov is True and cfg.train.threads is None


def test_yaml_file_roundtrip(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model: {name: mlp, depth: 4}\noptim: {name: adam, lr: 1e-3}\ntrain: {batch_size: 4}\n")
    cfg = load_config(path, ["train.seed=7"])
    assert cfg.model.name == "mlp" and cfg.model.depth == 4
    assert cfg.optim.lr == pytest.approx(1e-3)      # '1e-3' is a YAML string, coerced to float
    assert cfg.train.seed == 7
    again = tmp_path / "again.yaml"
    again.write_text(dump_yaml(cfg))
    assert load_config(again).model_dump() == cfg.model_dump()


@pytest.mark.parametrize("overrides, expected", [
    (["optim.lrr=0.1"], "unknown key 'optim.lrr'; did you mean 'optim.lr'?"),
    (["trian.epochs=2"], "unknown key 'trian'"),
    (["optim.lr=fast"], "optim.lr='fast': expected a number"),
    (["optim.lr=-1"], "optim.lr=-1: expected a value > 0"),
    (["optim.name=sgdd"], "optim.name='sgdd': expected one of 'sgd', 'adam' or 'adamw'"),
    (["train.epochs=2.5"], "train.epochs=2.5: expected an integer"),
    (["model.widht=2"], "unknown key 'model.widht' for model 'tutorial_cnn'; did you mean 'model.width'?"),
    (["model.width=wide"], "model.width='wide': expected"),
    (["data.val_fractoin=0.2"], "did you mean 'data.val_fraction'?"),
    (["optim.lr"], "expected key=value"),
])
def test_bad_overrides_are_one_line_errors(overrides, expected):
    with pytest.raises(ConfigError) as info:
        load_config("tutorial_cnn", overrides)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_unknown_model_suggests_closest():
    with pytest.raises(Exception) as info:
        load_config("resnet19")
    assert "unknown model 'resnet19'" in str(info.value) and "resnet18" in str(info.value)


def test_bad_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: {name: mlp\noptim: [\n")
    with pytest.raises(ConfigError, match=r"bad.yaml line \d+: not valid YAML"):
        load_config(path)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")
