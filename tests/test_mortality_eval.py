"""Scoring another PhysioNet set with a trained run's statistics (`nnstudy eval RUN --on DIR`), and the quick
mortality study's AUC report."""
from __future__ import annotations

import json

import pytest
import torch

from mortality_stays import population, write_outcomes, write_records
from nnstudy.data import build_dataset
from nnstudy.data import mortality as mo
from nnstudy.errors import DataError


def test_scoring_another_set_reuses_a_runs_statistics(tmp_path):
    stays, labels = population(seed=0)
    write_records(tmp_path / "set-a", stays)
    write_outcomes(tmp_path / "Outcomes-a.txt", labels)
    trained = mo.mortality(path=str(tmp_path / "set-a"))
    run = tmp_path / "run"
    run.mkdir()
    # What a run directory's summary.json holds (engine/loop.py: data.info = info.extra).
    (run / "summary.json").write_text(json.dumps({"data": {"info": trained.info.extra}}))
    other, other_labels = population(n=20, seed=1)
    write_records(tmp_path / "b" / "set-b", other)
    write_outcomes(tmp_path / "b" / "Outcomes-b.txt", other_labels)
    d = build_dataset("mortality", path=str(tmp_path / "b"), test_fraction=1.0, stats=str(run))
    assert len(d.test) == 23 and len(d.train) == 0 and d.val is None
    assert d.info.extra["normalization"] == trained.info.extra["normalization"]
    assert d.info.extra["stats_from"] == str(run) and d.info.extra["sizes"]["test"] == 23
    # The same statistics on the training set reproduce its inputs exactly.
    again = mo.mortality(path=str(tmp_path / "set-a"), stats=str(run / "summary.json"))
    assert torch.equal(again.test.inputs, trained.test.inputs)
    (run / "summary.json").write_text(json.dumps({"data": {"info": {}}}))
    with pytest.raises(DataError, match="holds no mortality normalisation statistics"):
        mo.mortality(path=str(tmp_path / "set-a"), stats=str(run))


def test_trained_run_scores_another_set_from_the_cli(tmp_path, capsys):
    """`nnstudy eval RUN_DIR --on DIR`: every stay of DIR, the run's normalisation and class weights, AUC."""
    from safetensors.torch import load_file

    from nnstudy import load_config
    from nnstudy.cli import main
    from nnstudy.engine import train
    stays, labels = population(n=60, seed=0)
    write_records(tmp_path / "set-a", stays)
    write_outcomes(tmp_path / "Outcomes-a.txt", labels)
    cfg = load_config("variable_rnn", [f"data.path={tmp_path / 'set-a'}", "data.name=mortality",
                                       "task.auc=true", "task.class_weight=balanced", "train.epochs=2",
                                       "train.batch_size=8", "train.threads=1", f"out_dir={tmp_path}", "name=r"])
    summary = train(cfg, progress=False).summary
    assert summary["selected_by"] == "val_roc_auc"
    assert len(summary["task_fitted"]["class_weight"]) == 2
    assert {"test_roc_auc", "test_pr_auc", "test_sensitivity", "test_specificity"} <= set(summary["metrics"])
    preds = load_file(str(tmp_path / "r" / "predictions.safetensors"))
    assert preds["score"].dtype == torch.float32 and preds["score"].shape == preds["target"].shape
    other, other_labels = population(n=20, seed=1)
    write_records(tmp_path / "b" / "set-b", other)
    write_outcomes(tmp_path / "b" / "Outcomes-b.txt", other_labels)
    assert main(["eval", str(tmp_path / "r"), "--on", str(tmp_path / "b"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["data"]["test"] == 23 and result["data"]["name"] == "mortality"
    assert 0.0 <= result["metrics"]["test_roc_auc"] <= 1.0 and result["recorded"] == {}
    # scoring its own test split again reproduces the recorded metrics
    assert main(["eval", str(tmp_path / "r"), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["metrics"] == pytest.approx(again["recorded"])
    # the spelling: --data NAME data.path=DIR means the same as --on DIR
    assert main(["eval", str(tmp_path / "r"), "--data", "mortality", f"data.path={tmp_path / 'b'}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"] == pytest.approx(result["metrics"])
    assert main(["eval", str(tmp_path / "r"), "--on", str(tmp_path / "nowhere")]) != 0
    assert "nowhere" in capsys.readouterr().err


def test_quick_mortality_study_reports_auc_and_roc_curves(tmp_path):
    from nnstudy.study import load_study_spec, run_study
    spec = load_study_spec("mortality", ["train.threads=1"], mode="quick", seeds=1)
    from nnstudy.report import finish_study
    outcome = run_study(spec, out_dir=tmp_path, progress=False, workers=1)
    study_dir = tmp_path / "mortality-quick"
    assert not (study_dir / "report.md").exists()     # run_study ends after the runs; the caller reports
    finish_study(study_dir)
    summary = json.loads((study_dir / "runs" / "variable-rnn__s0" / "summary.json").read_text())
    assert summary["selected_by"] == "val_roc_auc" and summary["task_fitted"]["class_weight"][1] > 3
    assert (study_dir / "figures" / "roc_pr.png").is_file()
    report = (study_dir / "report.md").read_text(encoding="utf-8")
    assert "figures/roc_pr.png" in report and "ROC AUC" in report
    assert outcome.study_dir == study_dir and len(outcome.results) == 4     # 4 variants × 1 seed
