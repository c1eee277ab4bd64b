"""Config resolution is one pure step: parse (schema) → resolve (checked) → resolve with the data (complete)."""
from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from nnstudy import load_config, resolve
from nnstudy.config import config_to_dict, parse_config
from nnstudy.data import build_dataset
from nnstudy.engine.build import build_parts
from nnstudy.errors import ConfigError


def test_config_layer_imports_no_registry():
    code = ("import sys, nnstudy.config as c; c.parse_config('mlp', ['model.width=2']); "
            "bad = [m for m in ('nnstudy.models', 'nnstudy.data', 'nnstudy.tasks', 'nnstudy.registry', 'torch') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_parse_checks_schema_only_and_resolve_checks_builders():
    cfg = parse_config("mlp", ["model.dephh=2"])        # the builder's arguments are not the schema's business
    assert cfg.stage == "parsed"
    with pytest.raises(ConfigError, match=r"model\.dephh.*did you mean 'model\.depth'"):
        resolve(cfg)
    with pytest.raises(ConfigError, match=r"optim\.lrr"):   # the schema's own keys: at parse time
        parse_config("mlp", ["optim.lrr=0.1"])


def test_configs_are_frozen():
    cfg = load_config("mlp")
    with pytest.raises(ValidationError):
        cfg.train.epochs = 3
    with pytest.raises(ValidationError):
        cfg.model.width = 2


def test_resolve_returns_new_configs_and_never_changes_its_input():
    parsed = parse_config("mlp", ["model.hidden=[8]", "data.name=cifar10-sample"])
    before = config_to_dict(parsed)
    checked = resolve(parsed)
    assert checked is not parsed and checked.stage == "checked" and parsed.stage == "parsed"
    assert config_to_dict(parsed) == before
    assert checked.model.hidden == (8,) or list(checked.model.hidden) == [8]
    assert resolve(checked) is checked                       # checked once: a second resolve is a no-op
    data = build_dataset("cifar10-sample")
    complete = resolve(checked, data.info)
    assert complete.stage == "complete" and checked.stage == "checked"
    assert tuple(complete.model.input_shape) == (3, 32, 32) and complete.model.num_classes == 10
    assert complete.task.name == "classification"            # implied by the data
    assert "input_shape" not in checked.model.model_extra     # the checked config stays as it was
    assert resolve(complete, data.info) is complete


def test_complete_config_lists_builder_arguments_in_signature_order():
    from nnstudy.models import MODELS
    data = build_dataset("cifar10-sample")
    complete = build_parts(load_config("mlp", ["model.act=tanh", "data.name=cifar10-sample"]), data).config
    keys = list(complete.model.model_extra)
    order = [k for k in MODELS.get("mlp").signature.parameters if k in keys]
    assert keys == order and complete.model.act == "tanh"


def test_config_set_values_win_over_data_and_defaults():
    data = build_dataset("cifar10-sample")
    complete = resolve(load_config("mlp", ["model.num_classes=7", "data.name=cifar10-sample"]), data.info)
    assert complete.model.num_classes == 7


def test_unnamed_task_arguments_are_checked_against_the_implied_task():
    data = build_dataset("cifar10-sample")
    cfg = load_config("mlp", ["task.label_smoothin=0.1", "data.name=cifar10-sample"])   # no task named: unchecked
    with pytest.raises(ConfigError, match=r"task\.label_smoothin.*did you mean 'task\.label_smoothing'"):
        resolve(cfg, data.info)
