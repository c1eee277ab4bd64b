"""Training a forecaster on chunks (a target at every hour) instead of one 90-hour window per target."""
from __future__ import annotations

import pytest
import torch

from nnstudy import load_config
from nnstudy.data import build_dataset
from nnstudy.engine import train
from nnstudy.models import build_model


def test_chunks_cover_every_training_target_with_the_right_rows():
    windows = build_dataset("energy-sample")
    chunks = build_dataset("energy-sample", train_chunk=240)
    view, feats = chunks.train.inputs, chunks.train.inputs.features
    assert view.shape[1:] == (90 + 240 - 1, 5) and chunks.train.targets.shape[1] == 240
    assert len(chunks.val) == len(windows.val) and len(chunks.test) == len(windows.test)   # faithful evaluation
    # every training target hour of the windows is a chunk target, and nothing else is
    window_hours = set((windows.train.inputs.starts + 90).tolist())
    starts = view.starts
    chunk_hours = set((starts.unsqueeze(1) + 90 + torch.arange(240)).flatten().tolist())
    assert chunk_hours == window_hours
    for k in (0, len(view) // 2, len(view) - 1):
        s = int(starts[k])
        assert torch.equal(view[torch.tensor([k])][0], feats[s:s + 90 + 239])
        assert torch.equal(chunks.train.targets[k], feats[s + 90:s + 90 + 240, 0])
    with pytest.raises(ValueError, match="train_chunk"):
        build_dataset("energy-sample", train_chunk=0)


def test_forward_steps_agrees_with_window_forward():
    model = build_model("rnn_forecaster", hidden=8, layers=2).eval()
    x = torch.randn(3, 120, 5)
    with torch.no_grad():
        steps = model.forward_steps(x)
        assert torch.allclose(steps[:, 89, 0], model(x[:, :90]).squeeze(1), atol=1e-6)
        assert torch.allclose(steps[:, -1, 0], model(x).squeeze(1), atol=1e-6)


def test_chunk_training_runs_and_is_evaluated_on_windows(tmp_path):
    cfg = load_config("rnn_forecaster", ["data.name=energy-sample", "data.train_chunk=336", "task.name=forecasting",
                                         "model.hidden=16", "model.layers=1", "optim.name=adam", "optim.lr=0.005",
                                         "train.epochs=2", "train.batch_size=8", "train.threads=1",
                                         f"out_dir={tmp_path}", "name=c"])
    summary = train(cfg, progress=False).summary
    assert summary["data"]["test"] == 1320 and summary["metrics"]["test_smape"] < 100


def test_window_view_take_stays_lazy_and_matches_indexing():
    data = build_dataset("energy-sample")
    idx = torch.tensor([0, 7, 500])
    sub = data.test.take(idx)
    assert type(sub.inputs).__name__ == "WindowView" and len(sub) == 3
    assert torch.equal(sub.inputs[torch.arange(3)], data.test.inputs[idx])
    assert torch.equal(sub.targets, data.test.targets[idx]) and torch.equal(sub.groups, data.test.groups[idx])


def test_train_context_shortens_the_run_in_before_the_first_target():
    full = build_dataset("energy-sample", train_chunk=48)
    short = build_dataset("energy-sample", train_chunk=48, train_context=24)
    assert short.train.inputs.shape[1:] == (24 + 48 - 1, 5)
    assert torch.equal(short.train.targets, full.train.targets)          # the same target hours
    assert torch.equal(short.train.inputs.starts, full.train.inputs.starts + 90 - 24)
    k = torch.tensor([3])
    assert torch.equal(short.train.inputs[k][0], full.train.inputs[k][0, 90 - 24:])
    for kwargs, match in (({"train_chunk": 48, "train_context": 91}, "between 1 and lookback=90"),
                          ({"train_chunk": 48, "train_context": 0}, "between 1 and lookback"),
                          ({"train_context": 24}, "set train_chunk too")):
        with pytest.raises(ValueError, match=match):
            build_dataset("energy-sample", **kwargs)
