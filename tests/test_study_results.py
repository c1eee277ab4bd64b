"""Study result tables from hand-written run directories: statuses, mean ± std, Welch verdicts, files."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from nnstudy.errors import RunDirError
from nnstudy.numbers import mean_std
from nnstudy.study.results import aggregate, collect_runs, describe_verdicts, read_study, write_tables
from nnstudy.study.tables import summary_table
from nnstudy.study.verdicts import verdict, welch_t


def compare(x, y, mode: str) -> dict:
    """Welch's test and its verdict, as the tables have it for unpaired seeds."""
    return verdict(welch_t(x, y), mode)


def _summary(variant: str, seed: int, test_acc: float, params: int = 62006) -> dict:
    """A summary.json as engine/loop.py `_finish` writes it (only the keys the tables read, plus a few)."""
    return {
        "status": "finished", "name": f"{variant}__s{seed}", "model": "tutorial_cnn", "dataset": "cifar10",
        "task": "classification", "seed": seed, "selected_epoch": 3, "selected_by": "val_acc",
        "metrics": {"train_loss": 1.0 - test_acc / 2, "train_acc": test_acc + 0.1, "val_loss": 1.1,
                    "val_acc": test_acc - 0.01, "test_loss": 1.2, "test_acc": test_acc},
        "params": params,
        "compute": {"params": params, "macs": 651_720, "flops": 1_303_440, "detailed": 1_340_000,
                    "per": "sample, forward pass"},
        "time": {"train_seconds": 10.0 + seed, "eval_seconds": 0.5, "test_seconds": 0.2,
                 "train_samples_per_second": 4000.0},
        "memory": {"peak_rss_mb": 512.0},
        "data": {"train": 45000, "val": 5000, "test": 10000, "source": "synthetic"},
        "attempts": 1, "environment": {"torch": "2.x"}, "finished_at": "2025-01-01T00:00:00+0000",
    }


def _make_study(root: Path, accs: dict[str, list[float | str | None]], *, mode: str = "max",
                reference: dict | None = None) -> Path:
    """A study directory; accs[variant][i] is seed i's test_acc, "failed" a failed run, None no directory,
    "running" a run directory without summary."""
    n_seeds = max(len(v) for v in accs.values())
    study = {"name": "toy", "description": "hand-made", "mode": "quick", "base": {"model": {"name": "tutorial_cnn"}},
             "seeds": list(range(n_seeds)), "baseline": next(iter(accs)),
             "variants": [{"name": name, "overrides": {}} for name in accs],
             "report": {"metric": "test_acc", "mode": mode, "metrics": ["test_acc", "val_acc"],
                        "reference": reference or {}, "reference_source": "seed 003, Table 3 (one run each)"}}
    root.mkdir(parents=True, exist_ok=True)
    (root / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    for name, values in accs.items():
        for seed, value in enumerate(values):
            if value is None:
                continue
            run = root / "runs" / f"{name}__s{seed}"
            run.mkdir(parents=True)
            (run / "config.yaml").write_text("name: x\n")
            if value == "failed":
                summary = {"status": "failed", "name": run.name, "error": "training loss is nan at epoch 2",
                           "attempts": 2, "history": []}
            elif value == "running":
                continue
            else:
                summary = _summary(name, seed, value)
            (run / "summary.json").write_text(json.dumps(summary))
    return root


@pytest.fixture
def study_dir(tmp_path):
    return _make_study(tmp_path / "study", {
        "base": [0.50, 0.51, 0.52],
        "better": [0.70, 0.72, 0.71],   # per-seed differences 0.20, 0.21, 0.19: paired by seed
        "same": [0.50, 0.51, 0.52],
        "partial": [0.60, "failed", None],
        "busy": [0.55, 0.56, "running"],
    })


def test_read_study_errors(tmp_path):
    with pytest.raises(RunDirError, match="study.yaml"):
        read_study(tmp_path)
    (tmp_path / "study.yaml").write_text("variants: [\n")
    with pytest.raises(RunDirError, match="not valid YAML") as e:
        read_study(tmp_path)
    assert "\n" not in str(e.value)
    (tmp_path / "study.yaml").write_text(yaml.safe_dump({"variants": [{"name": "a"}], "seeds": [0],
                                                         "baseline": "b", "report": {"metric": "test_acc"}}))
    with pytest.raises(RunDirError, match="baseline 'b'"):
        read_study(tmp_path)


def test_collect_runs_statuses_and_columns(study_dir):
    runs = collect_runs(study_dir)
    assert len(runs) == 5 * 3
    assert list(runs.columns[:16]) == ["variant", "seed", "status", "error", "run_dir", "model", "params", "macs",
                                       "flops", "flops_detailed", "train_seconds", "eval_seconds",
                                       "train_samples_per_second", "peak_rss_mb", "selected_epoch", "attempts"]
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc"} <= set(runs.columns)
    assert list(runs["variant"].cat.categories) == ["base", "better", "same", "partial", "busy"]
    status = runs.set_index(["variant", "seed"])["status"]
    assert status[("partial", 0)] == "finished"
    assert status[("partial", 1)] == "failed"
    assert status[("partial", 2)] == "missing"
    assert status[("busy", 2)] == "running"
    failed = runs[runs["status"] == "failed"].iloc[0]
    assert "nan" in failed["error"] and failed["attempts"] == 2 and pd.isna(failed["test_acc"])
    first = runs.iloc[0]
    assert first["run_dir"] == "runs/base__s0"
    assert first["params"] == 62006 and first["macs"] == 651_720 and first["flops_detailed"] == 1_340_000
    assert first["test_acc"] == pytest.approx(0.50)


def test_aggregate_mean_std_and_verdicts(study_dir):
    agg = aggregate(collect_runs(study_dir), read_study(study_dir)).set_index("variant")
    assert list(agg.index) == ["base", "better", "same", "partial", "busy"]
    assert agg.loc["base", "n"] == 3
    assert agg.loc["base", "test_acc_mean"] == pytest.approx(0.51)
    assert agg.loc["base", "test_acc_std"] == pytest.approx(0.01)       # ddof=1
    assert agg.loc["base", "params_std"] == 0
    assert agg.loc["base", "verdict"] == "baseline" and math.isnan(agg.loc["base", "diff"])

    better = agg.loc["better"]
    assert better["verdict"] == "better" and better["diff"] == pytest.approx(0.20)
    assert better["ci_low"] > 0 and better["p_value"] < 0.05

    same = agg.loc["same"]                                                # identical seeds: diff exactly 0
    assert same["diff"] == 0 and same["verdict"] == "no detectable difference with 3 seeds"
    assert better["test"] == "paired t-test" and "paired t-test on the 3 per-seed differences" in better["reason"]
    # paired: the p-value of the per-seed differences, Holm-adjusted over the family's two p-values
    assert better["p_value"] == pytest.approx(stats.ttest_rel([0.70, 0.72, 0.71], [0.50, 0.51, 0.52]).pvalue)
    assert better["p_adjusted"] == pytest.approx(min(1.0, 2 * better["p_value"]))

    partial = agg.loc["partial"]
    assert (partial["n"], partial["failed"], partial["missing"]) == (1, 1, 1)
    assert partial["verdict"].startswith("not enough seeds") and math.isnan(partial["test_acc_std"])
    assert partial["diff"] == pytest.approx(0.10) and math.isnan(partial["ci_low"])   # paired: seed 0 with seed 0
    assert agg.loc["busy", "running"] == 1 and agg.loc["busy", "n"] == 2


def test_mode_min_flips_the_verdict(tmp_path):
    d = _make_study(tmp_path, {"base": [0.50, 0.51, 0.52], "higher": [0.70, 0.72, 0.71]}, mode="min")
    agg = aggregate(collect_runs(d), read_study(d)).set_index("variant")
    assert agg.loc["higher", "verdict"] == "worse" and agg.loc["higher", "diff"] > 0


def test_zero_variance_is_reported_honestly():
    assert compare([0.6, 0.6], [0.5, 0.5], "max")["verdict"] == "better (identical seeds; no spread to test)"
    assert compare([0.6, 0.6], [0.5, 0.5], "min")["verdict"] == "worse (identical seeds; no spread to test)"
    same = compare([0.5, 0.5], [0.5, 0.5], "max")
    assert same["diff"] == 0 and same["verdict"] == "no detectable difference with 2 seeds"
    # Zero spread on one side only is an ordinary Welch test (df from the other side).
    one_sided = compare([0.6, 0.6, 0.6], [0.50, 0.51, 0.52], "max")
    assert one_sided["verdict"] == "better" and one_sided["p_value"] < 0.05
    assert one_sided["p_value"] == pytest.approx(2 * stats.t.sf(0.09 / math.sqrt(0.01 ** 2 / 3), 2))
    # float noise (0.1 + 0.2 != 0.3) is neither spread nor a difference
    noisy = compare([0.1 + 0.2] * 3, [0.3] * 3, "max")
    assert noisy["diff"] == 0 and noisy["verdict"] == "no detectable difference with 3 seeds"
    assert compare([0.7] * 3, [0.7] * 3, "max")["verdict"] == "no detectable difference with 3 seeds"


def test_welch_interval_matches_hand_computation():
    x, y = [1.0, 2.0, 3.0], [3.0, 5.0, 7.0]
    # s²: 1 and 4, n = 3 each → squared standard errors 1/3 and 4/3; se² = 5/3
    # Welch–Satterthwaite df = (5/3)² / ((1/3)²/2 + (4/3)²/2) = 50/17
    half = stats.t.ppf(0.975, 50 / 17) * math.sqrt(5 / 3)
    got = compare(x, y, "max")
    assert got["diff"] == pytest.approx(-3.0)
    assert (got["ci_low"], got["ci_high"]) == (pytest.approx(-3.0 - half), pytest.approx(-3.0 + half))
    ci = stats.ttest_ind(x, y, equal_var=False).confidence_interval(0.95)   # scipy agrees
    assert (got["ci_low"], got["ci_high"]) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert got["p_value"] == pytest.approx(stats.ttest_ind(x, y, equal_var=False).pvalue)
    assert got["verdict"] == "no detectable difference with 3 seeds"      # CI contains 0: [-6.4, 0.4]
    assert got["ci_low"] < 0 < got["ci_high"]


def test_write_tables_roundtrip(study_dir):
    paths = write_tables(study_dir)
    assert set(paths) == {"results.csv", "results.parquet", "summary.csv", "summary.parquet"}
    assert not list(study_dir.glob(".*.tmp"))
    results = pd.read_parquet(paths["results.parquet"])
    assert len(results) == 15 and list(results["variant"].cat.categories)[0] == "base"
    assert pd.read_csv(paths["results.csv"])["params"].iloc[0] == 62006
    summary = pd.read_csv(paths["summary.csv"])
    assert list(summary["variant"]) == ["base", "better", "same", "partial", "busy"]
    assert pd.read_parquet(paths["summary.parquet"])["verdict"].iloc[1] == "better"


def test_format_mean_std():
    assert mean_std(0.5934, 0.0121, 3) == "0.593 ± 0.012"
    assert mean_std(0.5934, float("nan"), 3) == "0.593"
    assert mean_std(float("nan"), float("nan"), 3) == "—"


def test_summary_table_strings(tmp_path):
    d = _make_study(tmp_path, {"base": [0.50, 0.51, 0.52], "better": [0.70, 0.72, 0.71], "partial": [0.6, "failed"]},
                    reference={"base": {"test_acc": 0.593}, "better": {"test_acc": 0.65}})
    study = read_study(d)
    table = summary_table(aggregate(collect_runs(d), study), study)
    assert list(table.columns) == ["variant", "n", "test_acc", "val_acc", "test_acc (write-up)",
                                   "diff test_acc [95% CI]", "p", "p (Holm)", "verdict", "params", "MACs", "train s",
                                   "eval s"]
    rows = table.set_index("variant")
    assert rows.loc["base", "test_acc"] == "0.510 ± 0.010"
    assert rows.loc["base", "params"] == "62,006" and rows.loc["base", "MACs"] == "651,720"
    assert rows.loc["base", "test_acc (write-up)"] == "0.593" and rows.loc["partial", "test_acc (write-up)"] == "—"
    assert rows.loc["base", "diff test_acc [95% CI]"] == "—" and rows.loc["base", "verdict"] == "baseline"
    assert rows.loc["better", "diff test_acc [95% CI]"].startswith("+0.200 [+0.1")
    assert rows.loc["partial", "n"] == "1 (1 failed, 1 missing)" and rows.loc["partial", "test_acc"] == "0.600"
    assert "Holm-adjusted over 1 comparison (" in describe_verdicts(aggregate(collect_runs(d), study), study)


def test_summary_table_without_references_or_finished_runs(tmp_path):
    d = _make_study(tmp_path, {"base": [None, None], "other": ["failed", None]})
    study = read_study(d)
    agg = aggregate(collect_runs(d), study)
    assert list(agg["n"]) == [0, 0] and agg["verdict"].iloc[1].startswith("not enough seeds")
    table = summary_table(agg, study)
    assert "test_acc (write-up)" not in table.columns
    assert table["test_acc"].tolist() == ["—", "—"] and table["n"].iloc[1] == "0 (1 failed, 1 missing)"
    np.testing.assert_array_equal(table["params"], ["—", "—"])
    assert describe_verdicts(agg, study).startswith("no comparison made yet")   # not "Holm-adjusted over 0"


def test_variant_names_are_found_under_the_runners_directory_names(tmp_path):
    # The runner makes names file-name safe ("lr 0.01" → "lr_0.01"); the tables must look there too.
    d = _make_study(tmp_path, {"base": [0.5, 0.51]})
    study = yaml.safe_load((d / "study.yaml").read_text())
    study["variants"].append({"name": "lr 0.01/x", "overrides": {}})
    (d / "study.yaml").write_text(yaml.safe_dump(study))
    run = d / "runs" / "lr_0.01_x__s0"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps(_summary("lr 0.01/x", 0, 0.6)))
    runs = collect_runs(d)
    assert runs.loc[runs["variant"] == "lr 0.01/x", "status"].tolist() == ["finished", "missing"]


def test_tables_have_one_column_per_axis(tmp_path):
    """results and summary carry each axis of the study (its override, else the base value) beside variant."""
    import yaml

    from nnstudy.report import finish_study
    from nnstudy.study import load_study_spec, run_study
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump({
        "name": "grid", "seeds": [0], "grid": {"optim.lr": [0.01, 0.1], "model.hidden": [[8], [16]]},
        "base": {"model": {"name": "mlp", "act": "tanh"}, "data": {"name": "cifar10-sample", "subset": 64},
                 "train": {"epochs": 1, "batch_size": 32, "threads": 1}}}, sort_keys=False))
    outcome = run_study(load_study_spec(path), out_dir=tmp_path, progress=False)
    finish_study(outcome.study_dir)
    runs = pd.read_parquet(outcome.study_dir / "results.parquet")
    assert list(runs.columns[:4]) == ["variant", "seed", "optim.lr", "model.hidden"]
    assert runs["optim.lr"].tolist() == [0.01, 0.01, 0.1, 0.1]
    assert runs["model.hidden"].tolist() == ["[8]", "[16]", "[8]", "[16]"]
    assert runs.groupby("optim.lr")["test_acc"].count().to_dict() == {0.01: 2, 0.1: 2}
    summary = pd.read_parquet(outcome.study_dir / "summary.parquet")
    assert list(summary.columns[:3]) == ["variant", "optim.lr", "model.hidden"]
    assert "optim.lr_mean" not in summary.columns
