"""The `table` dataset (a CSV or Parquet of the user's) and the regression task: a study on the seizure sample
written out as a CSV, a regression on a Parquet file, and one-line errors for tables that cannot be used."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from nnstudy import load_config
from nnstudy.cli import main
from nnstudy.engine import train

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "nnstudy" / "data" / "samples"
FAST = ["model.hidden=[32]", "optim.name=adam", "optim.lr=0.003", "train.batch_size=32", "train.threads=1"]


def _prices(path: Path, n: int = 400) -> Path:
    rng = np.random.default_rng(0)
    x1, x2, colour = rng.normal(size=n), rng.normal(size=n), rng.choice(["red", "green", "blue"], n)
    price = 3 * x1 - 2 * x2 + np.where(colour == "red", 5.0, 0.0) + rng.normal(scale=0.1, size=n) + 100
    pd.DataFrame({"x1": x1, "x2": x2, "colour": colour, "price": price}).to_parquet(path)
    return path


def test_a_study_on_the_seizure_sample_as_a_csv(tmp_path, capsys):
    csv = tmp_path / "seizure.csv"
    csv.write_bytes(gzip.decompress((SAMPLES / "seizure-sample.csv.gz").read_bytes()))
    study = tmp_path / "s.yaml"
    study.write_text(yaml.safe_dump({
        "name": "tab", "seeds": [0, 1], "ablate": {"model.hidden": [[64]]},
        "base": {"model": {"name": "mlp", "hidden": [32]},
                 "data": {"name": "table", "path": str(csv), "target": "y", "drop": ["Unnamed"]},
                 "optim": {"name": "adam", "lr": 0.003}, "train": {"epochs": 8, "batch_size": 32, "threads": 1}}}))
    assert main(["run", str(study), "--out", str(tmp_path / "studies"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "studies" / "tab" / "runs" / "base__s0" / "summary.json").read_text())
    assert summary["task"] == "classification" and summary["metrics"]["test_acc"] > 0.4   # 5 classes: 0.2 by chance
    assert summary["data"]["info"]["table"]["rows"] == 1150 and len(summary["data"]["info"]["table"]["sha256"]) == 64
    assert (tmp_path / "studies" / "tab" / "report.html").is_file()


def test_regression_on_a_parquet_table(tmp_path):
    path = _prices(tmp_path / "prices.parquet")
    result = train(load_config("mlp", ["data.name=table", f"data.path={path}", "data.target=price", *FAST,
                                       "train.epochs=20", f"out_dir={tmp_path}"]), progress=False)
    s = result.summary
    assert s["task"] == "regression" and s["metrics"]["test_r2"] > 0.95 and s["metrics"]["test_rmse"] < 1.0
    mean, std = s["data"]["info"]["target_scale"]
    assert 99 < mean < 103 and std > 1        # training rows: 100 + 5 × (share of red) ± noise
    assert s["data"]["info"]["table"]["features"]["colour"] == {"one_hot": ["blue", "green", "red"]}


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.csv"
    path.write_text(text)
    return path


ROWS = "".join(f"{i},{i % 3},{'a' if i % 2 else 'b'}\n" for i in range(30))


@pytest.mark.parametrize("text, args, needle", [
    ("x,y,c\n" + ROWS, ["data.target=z"], "no column 'z' to predict (data.target); columns: x, y, c"),
    ("x,y,c\n" + "".join(f"{i},1,a\n" for i in range(30)), ["data.target=y"], "column 'y' has one class (1)"),
    ("x,y,c\n" + ROWS + "7,,a\n", ["data.target=y"], "t.csv: line 32: 'y' is empty"),
    ("x,y,c\n" + ROWS.replace("5,2,a", "inf,2,a"), ["data.target=y"], "t.csv: line 7: x is 'inf'"),
    ("x,y,c\n" + ROWS, ["data.target=c", "data.task=regression"], "column 'c' holds text; regression needs numbers"),
    ("x,y,c\n" + ROWS, ["data.target=y", "data.features=[x,w]"], "no column(s) w"),
    ("x,y,c\n" + "1,2,a\n" * 5, ["data.target=y"], "5 rows; a table needs at least 10"),
])
def test_tables_that_cannot_be_used_are_one_line(tmp_path, capsys, text, args, needle):
    path = _csv(tmp_path, text)
    rc = main(["train", "mlp", "data.name=table", f"data.path={path}", *args, f"out_dir={tmp_path / 'runs'}",
               "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "runs").exists()


def test_an_id_column_is_named(tmp_path, capsys):
    path = _csv(tmp_path, "id,x,y\n" + "".join(f"r{i},{i},{i % 2}\n" for i in range(60)))
    assert main(["train", "mlp", "data.name=table", f"data.path={path}", "data.target=y", "--quiet"]) == 2
    assert "text column 'id' has 42 different values in 42 training rows, like an id; leave it out with " \
           "data.drop=[id]" in capsys.readouterr().err
