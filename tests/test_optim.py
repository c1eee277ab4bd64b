"""Optimisers and learning-rate schedules."""
from __future__ import annotations

import math

import pytest
import torch

from nnstudy.config import OptimConfig
from nnstudy.engine.optim import LRSchedule, build_optimizer, build_scheduler
from nnstudy.errors import ConfigError


def _lrs(cfg: OptimConfig, epochs=4, steps=10):
    model = torch.nn.Linear(2, 2)
    opt = build_optimizer(model, cfg)
    sched = build_scheduler(opt, cfg, epochs, steps)
    lrs = []
    for _ in range(epochs * steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


@pytest.mark.parametrize("name, cls", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam),
                                       ("adamw", torch.optim.AdamW)])
def test_optimizers(name, cls):
    opt = build_optimizer(torch.nn.Linear(2, 2), OptimConfig(name=name, lr=0.1, nesterov=name == "sgd"))
    assert isinstance(opt, cls) and opt.param_groups[0]["lr"] == 0.1


def test_nesterov_needs_momentum():
    with pytest.raises(ConfigError, match="nesterov"):
        build_optimizer(torch.nn.Linear(2, 2), OptimConfig(nesterov=True, momentum=0.0))


def test_schedules():
    assert _lrs(OptimConfig(lr=0.1)) == [0.1] * 40
    step = _lrs(OptimConfig(lr=0.1, schedule="step", step_size=2, gamma=0.5))
    assert step[0] == pytest.approx(0.1) and step[19] == pytest.approx(0.1) and step[20] == pytest.approx(0.05)
    cos = _lrs(OptimConfig(lr=0.1, schedule="cosine", warmup_epochs=1))
    assert cos[0] == pytest.approx(0.01) and cos[9] == pytest.approx(0.1)        # linear warm-up over 10 steps
    assert cos[10] == pytest.approx(0.1) and cos[-1] < 0.001                    # then cosine to ~0
    assert all(a >= b for a, b in zip(cos[10:], cos[11:]))
    one = _lrs(OptimConfig(lr=0.1, schedule="onecycle"))
    peak = max(range(40), key=one.__getitem__)
    assert one[0] == pytest.approx(0.1 / 25, rel=0.2) and 10 <= peak <= 12 and one[-1] < 0.001


def test_schedule_is_checkpointable():
    s = LRSchedule("cosine", 100, 10, 1.0)
    assert not callable(getattr(s, "__dict__", {}).get("kind"))   # plain data, saved by LambdaLR.state_dict
    assert math.isclose(s(99), 0.0, abs_tol=1e-3)


def test_multistep_divides_the_lr_at_fractions_of_training():
    """He et al.'s CIFAR ResNets: lr ÷ 10 at 50 % and 75 % of training (here 40 steps: steps 20 and 30)."""
    lrs = _lrs(OptimConfig(lr=0.1, schedule="multistep", milestones=[0.5, 0.75], gamma=0.1))
    assert lrs[:20] == pytest.approx([0.1] * 20)
    assert lrs[20:30] == pytest.approx([0.01] * 10) and lrs[30:] == pytest.approx([0.001] * 10)


@pytest.mark.parametrize("fields, message", [
    ({"schedule": "multistep"}, "optim.schedule=multistep needs optim.milestones"),
    ({"schedule": "multistep", "milestones": [0.75, 0.5]}, "optim.milestones must increase"),
])
def test_multistep_milestones_are_checked(fields, message):
    with pytest.raises(ConfigError, match=message):
        OptimConfig(**fields)


def test_a_milestone_outside_training_is_one_line():
    from nnstudy.resolution import load_config
    with pytest.raises(ConfigError, match="milestones"):
        load_config("mlp2", ["optim.schedule=multistep", "optim.milestones=[0.5, 1.5]"])
