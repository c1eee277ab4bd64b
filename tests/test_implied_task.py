"""A dataset says which task its targets imply, so a config need not repeat it; a task that does not fit the
data is one line, not torch's dtype traceback."""
from __future__ import annotations

import pytest

from nnstudy import load_config
from nnstudy.cli import main
from nnstudy.engine import train

ENERGY = ["data.name=energy-sample", "data.subset=64", "train.epochs=1", "train.batch_size=32", "train.threads=1"]


def test_energy_trains_as_forecasting_without_saying_so(tmp_path):
    result = train(load_config("rnn_forecaster", [*ENERGY, f"out_dir={tmp_path}"]), progress=False)
    assert result.summary["task"] == "forecasting" and "test_smape" in result.summary["metrics"]


@pytest.mark.parametrize("model, overrides, needle", [
    ("rnn_forecaster", [*ENERGY, "task.name=classification"],
     "dataset 'energy-sample' has no classes (its targets are values, its task is 'forecasting')"),
    ("mlp3", ["data.name=cifar10-sample", "data.subset=64", "task.name=forecasting"],
     "dataset 'cifar10-sample' has class labels, not values to forecast"),
])
def test_a_task_that_does_not_fit_the_data_is_one_line(tmp_path, capsys, model, overrides, needle):
    assert main(["train", model, *overrides, f"out_dir={tmp_path}", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1, err
