"""The `series` dataset (a CSV or Parquet time series of your own): the bundled energy sample in the generic shape
gives energy's own windows, trains through the CLI, runs a study; scalers fit on training steps; splits in time
order; one-line errors naming the file, line and value."""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from nnstudy.cli import main
from nnstudy.data import build_dataset
from nnstudy.data.energy import SAMPLE_REGIONS, read_region, sample_folder

ENERGY_CALENDAR = ["hour", "dayofweek", "month", "dayofyear"]
FAST = ["model.hidden=8", "model.layers=1", "train.epochs=1", "train.batch_size=128", "train.threads=1"]


def _energy_frame() -> pd.DataFrame:
    """The bundled energy sample as the energy dataset reads it (its DST repeat merged, its missing hour filled),
    in the generic shape: time, load, region."""
    frames = []
    for region in SAMPLE_REGIONS:
        load, _ = read_region(sample_folder() / f"{region}_hourly.csv.gz")
        frames.append(pd.DataFrame({"time": load.index.strftime("%Y-%m-%d %H:%M:%S"), "load": load.to_numpy(),
                                    "region": region}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def energy_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("series")
    frame = _energy_frame()
    frame.to_csv(folder / "energy.csv", index=False)
    frame.assign(time=pd.to_datetime(frame.time)).to_parquet(folder / "energy.parquet")
    # a later file to score a trained model on: the last 500 hours of each region
    frame.groupby("region").tail(500).to_csv(folder / "later.csv", index=False)
    return {"csv": folder / "energy.csv", "parquet": folder / "energy.parquet", "later": folder / "later.csv"}


def _same(a, b) -> None:
    assert torch.equal(a.inputs.features, b.inputs.features) and torch.equal(a.inputs.starts, b.inputs.starts)
    assert a.inputs.lookback == b.inputs.lookback
    assert torch.equal(a.targets, b.targets) and torch.equal(a.groups, b.groups)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_the_energy_sample_as_a_series_gives_energys_own_windows_and_chunks(energy_files, kind):
    energy = build_dataset("energy-sample")
    data = build_dataset("series", path=str(energy_files[kind]), group="region", lookback=90,
                         calendar=ENERGY_CALENDAR)
    for key in ("train", "val", "test"):
        _same(getattr(data, key), getattr(energy, key))
    info = data.info
    assert info.task == "forecasting" and info.input_shape == (90, 5) and info.extra["frequency"] == "h"
    assert info.extra["scalers"] == {r: list(energy.info.extra["scalers"][r]) for r in SAMPLE_REGIONS}
    assert info.extra["series"]["sha256"] == hashlib.sha256(energy_files[kind].read_bytes()).hexdigest()
    chunked = build_dataset("series", path=str(energy_files[kind]), group="region", lookback=90,
                            calendar=ENERGY_CALENDAR, train_chunk=240, train_context=48)
    _same(chunked.train, build_dataset("energy-sample", train_chunk=240, train_context=48).train)
    one = build_dataset("series", path=str(energy_files[kind]), group="region", groups=["DEOK"], lookback=90,
                        calendar=ENERGY_CALENDAR)
    _same(one.test, build_dataset("energy-sample", regions=["DEOK"]).test)


def test_trains_through_the_cli_with_no_task_name_and_scores_a_later_file(energy_files, tmp_path, capsys):
    args = ["train", "rnn_forecaster", "data.name=series", f"data.path={energy_files['csv']}", "data.group=region",
            "data.lookback=24", "data.subset=512", *FAST, f"out_dir={tmp_path}", "--name", "r", "--quiet"]
    assert main(args) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    info = summary["data"]["info"]
    assert summary["task"] == "forecasting" and summary["status"] == "finished"
    assert math.isfinite(summary["metrics"]["test_mae"]) and 0 < summary["metrics"]["test_smape"] < 200
    assert info["series"]["sha256"] == hashlib.sha256(energy_files["csv"].read_bytes()).hexdigest()
    assert info["groups"] == ["AEP", "DEOK"] and info["sizes"]["test"] == 2 * 660
    # the later file is scored with the run's own scalers (nothing refitted on it), every window a test window
    later = build_dataset("series", path=str(energy_files["later"]), group="region", lookback=24,
                          stats=str(tmp_path / "r"), test_fraction=1.0)
    assert later.info.extra["scalers"] == info["scalers"] and len(later.test) == 2 * (500 - 24)
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "r"), "--on", str(energy_files["later"]), "--json"]) == 0
    assert "test_smape" in capsys.readouterr().out


def test_a_study_on_a_parquet_series_runs_and_reports(energy_files, tmp_path):
    study = tmp_path / "s.yaml"
    study.write_text(yaml.safe_dump({
        "name": "ser", "seeds": [0], "ablate": {"model.cell": ["lstm"]},
        "base": {"model": {"name": "rnn_forecaster", "hidden": 8, "layers": 1},
                 "data": {"name": "series", "path": str(energy_files["parquet"]), "group": "region",
                          "lookback": 24, "subset": 256},
                 "optim": {"name": "adam", "lr": 0.005}, "train": {"epochs": 1, "batch_size": 128, "threads": 1}},
        "report": {"metric": "test_smape", "mode": "min", "metrics": ["test_smape", "test_mae"]}}))
    assert main(["run", str(study), "--out", str(tmp_path / "studies"), "--quiet"]) == 0
    study_dir = tmp_path / "studies" / "ser"
    summary = json.loads((study_dir / "runs" / "cell=lstm__s0" / "summary.json").read_text())
    assert summary["task"] == "forecasting" and summary["data"]["info"]["series"]["group"] == "region"
    assert main(["report", str(study_dir)]) == 0
    assert (study_dir / "report.html").is_file() and "forecast_base.png" in (study_dir / "report.md").read_text()


# ------------------------------------------------------------------------------------- scaling and splits

def _trend(path: Path, hours: int = 200, shuffle: bool = False) -> pd.DataFrame:
    """Two groups whose load rises with time (so the test period holds the largest values) and a temperature."""
    t = pd.date_range("2021-03-01", periods=hours, freq="h").strftime("%Y-%m-%d %H:%M")
    rng = np.random.default_rng(0)
    frame = pd.concat([pd.DataFrame({"time": t, "load": k * np.arange(hours) + rng.normal(size=hours) + 100,
                                     "temp": rng.normal(10, 3, size=hours), "region": name})
                       for k, name in ((1, "a"), (3, "b"))], ignore_index=True)
    (frame.sample(frac=1.0, random_state=1) if shuffle else frame).to_csv(path, index=False)
    return frame


def test_scalers_are_fit_on_the_training_steps_only(tmp_path):
    frame = _trend(tmp_path / "t.csv")
    data = build_dataset("series", path=str(tmp_path / "t.csv"), group="region", target="load", lookback=10,
                         test_fraction=0.2, val_fraction=0.25)
    info = data.info.extra
    assert info["features"] == ["load", "temp"] and info["target_column"] == 0
    for name, rows in frame.groupby("region"):
        train = rows.iloc[:120]           # 200 steps: 40 test, then 40 of the other 160 validation
        assert info["value_scalers"][name] == {c: [train[c].min(), train[c].max()] for c in ("load", "temp")}
        assert info["scalers"][name] == info["value_scalers"][name]["load"]
    assert float(data.train.targets.max()) <= 1.0 < float(data.test.targets.min())   # the trend continues


def test_splits_follow_time_whatever_the_row_order(tmp_path):
    _trend(tmp_path / "sorted.csv")
    _trend(tmp_path / "shuffled.csv", shuffle=True)
    ordered = build_dataset("series", path=str(tmp_path / "sorted.csv"), group="region", lookback=10)
    shuffled = build_dataset("series", path=str(tmp_path / "shuffled.csv"), group="region", lookback=10)
    for key in ("train", "val", "test"):
        _same(getattr(ordered, key), getattr(shuffled, key))
    assert shuffled.info.extra["series"]["out_of_order"] and not ordered.info.extra["series"]["out_of_order"]
    for counts in ordered.info.extra["counts"].values():
        assert counts["train_targets"][1] < counts["val_targets"][0] <= counts["val_targets"][1] \
            < counts["test_targets"][0]


def test_horizon_gaps_and_frequencies(tmp_path):
    t = pd.date_range("2022-01-01", periods=60, freq="D")
    frame = pd.DataFrame({"time": t.strftime("%Y-%m-%d"), "y": np.arange(60.0)}).drop(index=30)   # a missing day
    frame.to_csv(tmp_path / "d.csv", index=False)
    split = build_dataset("series", path=str(tmp_path / "d.csv"), lookback=5, horizon=3, test_fraction=0.2)
    assert split.info.extra["frequency"] == "D" and split.info.extra["counts"]["y"]["segments"] == 2
    view, y = split.train.inputs, split.train.inputs.features[:, 0]
    assert torch.equal(split.train.targets, y[view.starts + 5 + 2])          # 3 steps after the window's end
    lo, hi = split.info.extra["value_scalers"]["y"]["y"]
    raw = torch.round(y.double() * (hi - lo) + lo)                            # back to day numbers
    for s in view.starts.tolist():                                            # no window crosses the gap
        assert torch.all(torch.diff(raw[s:s + 5 + 2 + 1]) == 1)
    chunked = build_dataset("series", path=str(tmp_path / "d.csv"), lookback=5, horizon=3, test_fraction=0.2,
                            train_chunk=10)
    for s, targets in zip(chunked.train.inputs.starts.tolist(), chunked.train.targets):
        # input step 4 + i (having seen 5 steps) forecasts target i, 3 steps after it, inside one segment
        assert torch.equal(targets, y[s + 4 + 3:s + 4 + 3 + 10])
        assert torch.all(torch.diff(raw[s:s + 4 + 3 + 10]) == 1)
    filled = build_dataset("series", path=str(tmp_path / "d.csv"), lookback=5, max_gap=1, test_fraction=0.2)
    counts = filled.info.extra["counts"]["y"]
    assert (counts["segments"], counts["filled"], counts["steps"]) == (1, 1, 60)
    months = pd.DataFrame({"time": pd.date_range("2000-01-01", periods=48, freq="MS"), "y": np.arange(48.0)})
    months.to_csv(tmp_path / "m.csv", index=False)
    monthly = build_dataset("series", path=str(tmp_path / "m.csv"), lookback=12, calendar=["month"])
    assert monthly.info.extra["frequency"] == "MS" and monthly.info.input_shape == (12, 2)


# ------------------------------------------------------------------------------------------- bad input

def _small(path: Path) -> Path:
    """Two groups of 60 hours; data row r (0-based) is on line r + 2. Group a is lines 2-61, b lines 62-121."""
    t = pd.date_range("2020-01-01", periods=60, freq="h").strftime("%Y-%m-%d %H:%M")
    rows = [f"{t[i]},{100 + i},{i % 7},{g}" for g in ("a", "b") for i in range(60)]
    path.write_text("time,load,temp,region\n" + "\n".join(rows) + "\n")
    return path


def _edit(line: int, old: str, new: str):
    def spoil(path: Path) -> None:
        lines = path.read_text().split("\n")
        assert old in lines[line - 1]
        lines[line - 1] = lines[line - 1].replace(old, new, 1)
        path.write_text("\n".join(lines))
    return spoil


@pytest.mark.parametrize("spoil, args, needle", [
    (_edit(7, "2020-01-01 05:00", "yesterday"), [], "s.csv: line 7: time 'yesterday' is not a time"),
    (_edit(9, "2020-01-01 07:00", "2020-01-01 06:00"), [],
     "s.csv: line 9: time '2020-01-01 06:00:00' repeats line 8 (group 'a')"),
    (_edit(9, ",107,", ",,"), [], "s.csv: line 9: load is empty"),
    (_edit(70, ",108,", ",inf,"), [], "s.csv: line 70: load is 'inf', not a number within the float32 range"),
    (_edit(71, ",109,", ",nan,"), [], "s.csv: line 71: load is 'nan', not a number"),
    (_edit(12, ",110,", ",11O,"), [], "s.csv: line 12: load is '11O', not a number"),
    (_edit(13, ",a", ","), [], "s.csv: line 13: region is empty"),
    (_edit(14, "12:00", "12:30"), [], "s.csv: line 14: time '2020-01-01 12:30:00' is not on the grid of h steps"),
    (None, ["data.target=lod"], "s.csv: no column 'lod' (data.target); did you mean 'load'?"),
    (None, ["data.time=tiem"], "s.csv: no column 'tiem' (data.time); did you mean 'time'?"),
    (None, ["data.group=regoin"], "s.csv: no column 'regoin' (data.group); did you mean 'region'?"),
    (None, ["data.values=[load,tmp]"], "s.csv: no column 'tmp' (data.values); did you mean 'temp'?"),
    (None, ["data.groups=[c]"], "s.csv: no group 'c' in column 'region' (data.groups)"),
    (None, ["data.lookback=60"], "s.csv: group 'a': 60 steps are too few for lookback=60 and horizon=1"),
    (lambda p: p.unlink(), [], "s.csv: no such file"),
])
def test_unusable_series_are_one_line_naming_the_file(tmp_path, capsys, spoil, args, needle):
    path = _small(tmp_path / "s.csv")
    if spoil is not None:
        spoil(path)
    rc = main(["train", "rnn_forecaster", "data.name=series", f"data.path={path}", "data.group=region",
               "data.lookback=8", *args, *FAST, f"out_dir={tmp_path / 'runs'}", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "runs").exists()


def test_a_missing_parquet_value_names_its_row(tmp_path, capsys):
    frame = pd.DataFrame({"time": pd.date_range("2020-01-01", periods=40, freq="h"), "load": np.arange(40.0)})
    frame.loc[17, "load"] = np.nan
    frame.to_parquet(tmp_path / "s.parquet")
    assert main(["train", "rnn_forecaster", "data.name=series", f"data.path={tmp_path / 's.parquet'}", *FAST,
                 "--quiet"]) == 2
    assert "s.parquet: row 18: load is empty" in capsys.readouterr().err
