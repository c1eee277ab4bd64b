"""The forecasting task: sMAPE (standard and the blog's legacy value) by hand, per-group averaging, a run."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from nnstudy import load_config
from nnstudy.data import DATASETS
from nnstudy.data.base import DataInfo, Dataset, Split
from nnstudy.engine import train
from nnstudy.tasks.forecasting import Forecasting, smape, smape_legacy


def test_smape_by_hand_zeros_included():
    f = torch.tensor([110.0, 0.0, 50.0, 90.0])
    a = torch.tensor([100.0, 0.0, 0.0, 100.0])
    # 200·10/210, 0 (both zero), 200·50/50, 200·10/190
    assert smape(f, a).tolist() == pytest.approx([2000 / 210, 0.0, 200.0, 2000 / 190])
    # the blog's |F−A| / (2(F+A)) in percent: a quarter of the standard value for positive numbers
    assert smape_legacy(f, a).tolist() == pytest.approx([1000 / 420, 0.0, 50.0, 1000 / 380])
    assert smape_legacy(f[[0, 3]], a[[0, 3]]).tolist() == pytest.approx((smape(f[[0, 3]], a[[0, 3]]) / 4).tolist())


def test_metrics_are_in_original_units_per_group_then_averaged():
    task = Forecasting()
    task.setup(SimpleNamespace(info=DataInfo(input_shape=(3, 1), extra={
        "regions": ["A", "B"], "scalers": {"A": (0, 1000), "B": (100, 300)}})))
    # the "model" returns the last input value: forecasts 0.11 and 0.5 (scaled) for targets 0.1 and 0.5
    inputs = torch.tensor([[0.11], [0.5], [0.5]])
    targets = torch.tensor([0.1, 0.5, 0.5])
    groups = torch.tensor([0, 1, 1])
    _, sums, _ = task.compute(lambda x: x[:, -1], inputs, targets, groups)
    m = task.finalize({k: v.item() if v.numel() == 1 else v.tolist() for k, v in sums.items()})
    # group A: F 110 MW, A 100 MW → sMAPE 200·10/210, MAE 10; group B: perfect (F = A = 200 MW)
    assert m["smape"] == pytest.approx((2000 / 210 + 0) / 2)
    assert m["smape_legacy"] == pytest.approx((1000 / 420 + 0) / 2)
    assert m["mae"] == pytest.approx(5.0) and m["rmse"] == pytest.approx(5.0)
    assert m["loss"] == pytest.approx(0.01 ** 2 / 3)
    with pytest.raises(ValueError, match="unknown loss"):
        Forecasting(loss="mape")


def _series_split(n: int, offset: int, lookback: int = 12) -> Split:
    t = torch.arange(offset, offset + n + lookback, dtype=torch.float32)
    xs, ys, gs = [], [], []
    for g, phase in enumerate((0.0, 1.0)):
        wave = 0.5 + 0.4 * torch.sin(2 * math.pi * t / 24 + phase)
        windows = wave.unfold(0, lookback, 1)[:n]
        xs.append(windows.unsqueeze(-1))
        ys.append(wave[lookback:lookback + n])
        gs.append(torch.full((n,), g))
    return Split(torch.cat(xs), torch.cat(ys), torch.cat(gs))


@DATASETS.register("toy-series")
def toy_series(*, lookback: int = 12) -> Dataset:
    """Two daily sine waves (tests only): windows of `lookback` hours → the next hour."""
    info = DataInfo(input_shape=(lookback, 1), extra={"regions": ["north", "south"],
                                                       "scalers": {"north": (1000, 5000), "south": (200, 900)}})
    return Dataset("toy-series", _series_split(200, 0, lookback), _series_split(48, 200, lookback),
                   _series_split(48, 248, lookback), info, source="synthetic")


def test_forecaster_trains_and_reports_per_region_metrics(tmp_path):
    cfg = load_config("rnn_forecaster", ["data.name=toy-series", "task.name=forecasting", "model.hidden=16",
                                         "model.layers=1", "optim.name=adam", "optim.lr=0.01", "train.epochs=3",
                                         "train.batch_size=32", "train.threads=1", f"out_dir={tmp_path}", "name=f"])
    summary = train(cfg, progress=False).summary
    m = summary["metrics"]
    assert summary["selected_by"] == "val_smape"
    assert {"test_smape", "test_smape_legacy", "test_mae", "test_rmse", "val_smape"} <= set(m)
    assert 0 < m["test_smape"] < 50 and m["test_smape_legacy"] == pytest.approx(m["test_smape"] / 4, rel=0.05)
    from safetensors.torch import load_file
    preds = load_file(str(tmp_path / "f" / "predictions.safetensors"))
    assert preds["pred"].shape == preds["target"].shape == preds["group"].shape == (96,)
