"""Part of a study: `nnstudy run STUDY --variants a,b`, and one cell with `nnstudy train STUDY --variant NAME`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from nnstudy.cli import main
from nnstudy.study.spec import load_study_spec, split_variant_names


def _study(tmp_path: Path) -> Path:
    path = tmp_path / "parts.yaml"
    path.write_text(yaml.safe_dump({
        "name": "parts", "seeds": [0, 1], "ablate": {"model.act": ["tanh", "sigmoid"]},
        "base": {"model": {"name": "tutorial_cnn"}, "data": {"name": "toy-images"}, "optim": {"lr": 0.05},
                 "train": {"epochs": 1, "batch_size": 16, "threads": 1}}}))
    return path


def _summaries(runs: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(runs.glob("*/summary.json"))}


def test_run_some_variants_then_the_rest(tmp_path, capsys):
    study, out = _study(tmp_path), tmp_path / "studies"
    assert main(["run", str(study), "--out", str(out), "--quiet", "--variants", "base,act=tanh"]) == 0
    runs = out / "parts" / "runs"
    assert sorted(_summaries(runs)) == ["act=tanh__s0", "act=tanh__s1", "base__s0", "base__s1"]
    assert main(["run", str(study), "--out", str(out), "--quiet", "--resume"]) == 0   # the rest
    assert len(_summaries(runs)) == 6
    assert "act=sigmoid" in (out / "parts" / "summary.csv").read_text()


def test_one_cell_equals_that_cell_of_the_study(tmp_path, capsys):
    study = _study(tmp_path)
    assert main(["run", str(study), "--out", str(tmp_path / "studies"), "--quiet", "--variants", "act=tanh"]) == 0
    assert main(["train", str(study), "--variant", "act=tanh", "--seed", "1", f"out_dir={tmp_path / 'runs'}",
                 "--quiet"]) == 0
    cell = json.loads((tmp_path / "runs" / "parts-act=tanh__s1" / "summary.json").read_text())
    inside = json.loads((tmp_path / "studies" / "parts" / "runs" / "act=tanh__s1" / "summary.json").read_text())
    assert cell["metrics"] == inside["metrics"] and cell["seed"] == 1


@pytest.mark.parametrize("args, needle", [
    (["train", "{study}", "--variant", "act=tanhh"], "has no variant 'act=tanhh'; did you mean 'act=tanh'?"),
    (["train", "{study}", "--variant", "base", "--seed", "7"], "has no seed 7 (seeds: 0, 1)"),
    (["train", "{study}"], "is a study; run one of its cells with --variant NAME"),
    (["train", "tutorial_cnn", "--seed", "1"], "give --variant NAME too"),
    (["run", "{study}", "--variants", "base,nope"], "has no variant 'nope'"),
])
def test_cells_that_are_not_in_the_study(tmp_path, capsys, args, needle):
    study = _study(tmp_path)
    rc = main([a.replace("{study}", str(study)) for a in args] + ["--quiet", f"out_dir={tmp_path / 'runs'}"]
              if args[0] == "train" else [a.replace("{study}", str(study)) for a in args]
              + ["--quiet", "--out", str(tmp_path / "studies")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "studies").exists()


def test_variant_names_may_hold_commas(tmp_path):
    known = ["base", "lr=0.1,width=2", "lr=0.1", "width=2"]
    assert split_variant_names("base,lr=0.1,width=2", known) == ["base", "lr=0.1,width=2"]
    assert split_variant_names("lr=0.1,base", known) == ["lr=0.1", "base"]
    assert split_variant_names("base,,x", known) == ["base", "x"]
    spec = load_study_spec(_study(tmp_path))
    assert [v.name for v in spec.select(["act=sigmoid", "base"])] == ["base", "act=sigmoid"]   # study order
