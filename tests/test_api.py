"""The Python API: a study given as a dict with Python objects where the YAML has names."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import nnstudy
from nnstudy.data import DataInfo, Dataset, Split
from nnstudy.errors import ConfigError


class Net(nn.Module):
    """Two linear layers (defined in this test module: importable, so recorded by its import path)."""

    def __init__(self, input_shape=(8,), num_classes=3, width: int = 16):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(input_shape[0], width), nn.ReLU(), nn.Linear(width, num_classes))

    def forward(self, x):
        return self.layers(x)


def blobs() -> Dataset:
    """Three Gaussian blobs in 8 dimensions: learnable in a few epochs."""
    g = torch.Generator().manual_seed(0)

    def split(n: int) -> Split:
        y = torch.randint(0, 3, (n,), generator=g)
        return Split(torch.randn(n, 8, generator=g) + 2 * y[:, None].float(), y)

    return Dataset("blobs", train=split(240), val=split(60), test=split(90),
                   info=DataInfo(input_shape=(8,), num_classes=3), source="generated in tests/test_api.py")


def study_dict(**changes):
    return {"name": "blobs-study", "seeds": [0, 1],
            "base": {"model": {"name": Net}, "data": {"name": blobs()}, "optim": {"name": "adam", "lr": 0.01},
                     "train": {"epochs": 3, "batch_size": 32}},
            "ablate": {"model.width": [4]}, **changes}


def test_study_of_python_objects_runs_and_returns_dataframes(tmp_path):
    results = nnstudy.Study(study_dict()).run(out_dir=tmp_path, progress=False)
    assert list(results.runs["variant"].astype(str)) == ["base", "base", "width=4", "width=4"]
    assert (results.runs["status"] == "finished").all() and results.failed == 0
    assert results.runs["test_acc"].min() > 0.5            # three separable blobs: far above chance (1/3)
    assert list(results.variants["variant"].astype(str)) == ["base", "width=4"]
    assert "verdict" in results.table.columns and results.report is not None and results.report.is_file()
    import json
    summary = json.loads((results.study_dir / "runs" / "base__s0" / "summary.json").read_text())
    assert summary["sources"]["model"]["object"] == f"{__name__}:Net"
    assert summary["sources"]["data"]["how"] == "python object"
    assert summary["sources"]["data"]["source"] == "generated in tests/test_api.py"
    # read again without running; one cell alone gives the same numbers as inside the study
    again = nnstudy.Study(study_dict()).results(out_dir=tmp_path)
    assert again.runs["test_acc"].tolist() == results.runs["test_acc"].tolist()
    cell = nnstudy.Study(study_dict()).train("width=4", seed=1, out_dir=tmp_path / "runs", progress=False)
    inside = results.runs.set_index(["variant", "seed"]).loc[("width=4", 1), "test_acc"]
    assert cell.summary["metrics"]["test_acc"] == pytest.approx(inside, abs=0)


def test_model_objects_as_an_axis(tmp_path):
    def wide(input_shape=(8,), num_classes=3):
        return Net(input_shape, num_classes, width=32)   # a local function: registered for this session

    study = nnstudy.Study(study_dict(ablate={"model.name": [wide]}, seeds=[0]))
    assert study.variants == ["base", "name=wide"]
    with pytest.raises(ConfigError, match="defined in this Python session.*workers=1"):
        study.run(out_dir=tmp_path, workers=2, progress=False)
    results = study.run(out_dir=tmp_path, progress=False)
    assert (results.runs["status"] == "finished").all()


def test_instances_are_refused_with_one_line():
    with pytest.raises(ConfigError, match=r"model\.name=.*not an instance"):
        nnstudy.Study(study_dict(base={"model": {"name": Net()}, "data": {"name": blobs()}}))
    with pytest.raises(ConfigError, match=r"data\.name=.*a built Dataset"):
        nnstudy.Study(study_dict(base={"model": {"name": Net}, "data": {"name": 3}}))


def test_a_wrong_argument_of_an_object_is_named():
    bad = study_dict(base={"model": {"name": Net, "widht": 3}, "data": {"name": blobs()}})
    with pytest.raises(ConfigError, match=r"model\.widht.*did you mean 'model\.width'"):
        nnstudy.Study(bad)
