"""The study report: a synthetic study directory (no training) -> report.md, report.html and every figure."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import save_file

from nnstudy import load_config
from nnstudy.config import dump_yaml
from nnstudy.data import build_dataset
from nnstudy.report import build_report

DESCRIPTION = "Synthetic study for the report tests. <script>alert('x')</script> & friends"
FAILED_ERROR = "training loss is nan at epoch 2, step 14 (try a lower optim.lr)"
EPOCHS = 3


def _write_run(run_dir: Path, seed: int, act: str, acc: float, targets: torch.Tensor,
               images: torch.Tensor | None = None) -> None:
    """A finished run directory as the engine writes it: config, per-epoch metrics, summary, predictions."""
    run_dir.mkdir(parents=True)
    cfg = load_config("tutorial_cnn", ["data.name=cifar10-sample", f"model.act={act}", f"train.seed={seed}",
                                       f"train.epochs={EPOCHS}"])
    (run_dir / "config.yaml").write_text(dump_yaml(cfg), encoding="utf-8")
    rng = np.random.default_rng(seed)
    rows = ["epoch,lr,train_loss,train_acc,val_loss,val_acc,train_seconds"]
    for e in range(1, EPOCHS + 1):
        f = e / EPOCHS
        rows.append(f"{e},0.001,{2.3 - 0.8 * f + rng.normal(0, .02):.4f},{0.1 + (acc + .05) * f:.4f},"
                    f"{2.3 - 0.6 * f + rng.normal(0, .02):.4f},{0.1 + (acc - .1) * f + rng.normal(0, .01):.4f},"
                    f"{2.0 * e:.3f}")
    (run_dir / "metrics.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    # predictions: right with probability `acc`, else a random class
    g = torch.Generator().manual_seed(seed)
    wrong = torch.rand(len(targets), generator=g) > acc
    pred = torch.where(wrong, torch.randint(0, 10, (len(targets),), generator=g), targets)
    saved = {"pred": pred.to(torch.int64).contiguous(), "target": targets.to(torch.int64).contiguous()}
    if images is not None:   # the engine keeps a fixed sample of the test images for the report's grid
        from nnstudy.engine.evaluation import sample_indices
        index = torch.from_numpy(sample_indices(len(images)))
        saved.update(sample_index=index, sample_images=images[index].contiguous())
    save_file(saved, str(run_dir / "predictions.safetensors"))
    test_acc = float((pred == targets).float().mean())
    summary = {
        "status": "finished", "name": run_dir.name, "model": "tutorial_cnn", "dataset": "cifar10-sample",
        "task": "classification", "seed": seed, "selected_epoch": EPOCHS, "selected_by": "val_acc",
        "metrics": {"train_loss": 1.5, "train_acc": acc + 0.05, "val_loss": 1.7, "val_acc": acc - 0.1,
                    "test_loss": 1.6, "test_acc": test_acc},
        "params": 62006,
        "compute": {"params": 62006, "macs": 651720, "flops": 1303440, "detailed": 1314676,
                    "per": "sample, forward pass"},
        "time": {"train_seconds": 6.0 + seed, "eval_seconds": 0.2, "test_seconds": 0.08,
                 "train_samples_per_second": 900.0},
        "memory": {"peak_rss_mb": 391.8},
        "data": {"train": 1800, "val": 200, "test": 500, "source": "bundled sample cifar10-sample.npz",
                 "num_classes": 10, "class_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                                    "horse", "ship", "truck"]},
        "attempts": 1,
        "environment": {"python": "3.11.7", "torch": "2.13.0+cpu", "numpy": "2.4.6", "nnstudy": "0.1.0",
                        "cpu": "Test CPU", "cpu_count": 4, "torch_threads": 2, "device": "cpu"},
        "finished_at": "2026-01-01T00:00:00+0000",
    }
    (run_dir / "summary.json").write_text(json.dumps(summary), encoding="utf-8")


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory) -> Path:
    """2 variants × 2 finished seeds, plus a third variant with one failed and one missing run; QUICK mode."""
    root = tmp_path_factory.mktemp("study")
    study = {
        "name": "toy-cnn-study", "description": DESCRIPTION, "mode": "quick",
        "base": {"model": {"name": "tutorial_cnn"}, "data": {"name": "cifar10-sample"}},
        "seeds": [0, 1], "baseline": "base",
        "variants": [{"name": "base", "overrides": {}},
                     {"name": "act=tanh", "overrides": {"model.act": "tanh"}},
                     {"name": "lr=10", "overrides": {"optim.lr": 10}}],
        "report": {"metric": "test_acc", "mode": "max", "metrics": ["test_acc", "test_loss", "val_acc"],
                   "reference": {"base": {"test_acc": 0.593}, "act=tanh": {"test_acc": 0.650}},
                   "reference_source": "write-up 003, §2.2 Table 3"},
    }
    (root / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    test = build_dataset("cifar10-sample").test
    targets = test.targets
    assert len(targets) == 500
    for variant, act, acc in (("base", "relu", 0.55), ("act=tanh", "tanh", 0.62)):
        for seed in (0, 1):
            _write_run(root / "runs" / f"{variant}__s{seed}", seed, act, acc + 0.02 * seed, targets, test.inputs)
    failed = root / "runs" / "lr=10__s0"
    failed.mkdir(parents=True)
    (failed / "config.yaml").write_text(dump_yaml(load_config(
        "tutorial_cnn", ["data.name=cifar10-sample", "optim.lr=10"])), encoding="utf-8")
    (failed / "metrics.csv").write_text("epoch,lr,train_loss,train_acc,val_loss,val_acc,train_seconds\n"
                                        "1,10,9.5,0.1,12.0,0.1,2.0\n", encoding="utf-8")
    (failed / "summary.json").write_text(json.dumps({"status": "failed", "name": failed.name,
                                                     "error": FAILED_ERROR, "attempts": 1}), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def built(study_dir) -> dict[str, Path]:
    return build_report(study_dir)


def test_writes_report_files_and_every_figure(study_dir, built):
    assert built["report.md"] == study_dir / "report.md" and built["report.md"].is_file()
    assert built["report.html"].is_file()
    pngs = sorted(p.name for p in (study_dir / "figures").glob("*.png"))
    expected = {"metric_bars.png", "learning_curves.png", "tradeoff_params.png", "tradeoff_time.png",
                *(f"{kind}_{slug}.png" for kind in ("curves", "confusion", "predictions")
                  for slug in ("base", "act-tanh")), "curves_lr-10.png"}
    assert expected <= set(pngs)
    assert {k for k in built if k.startswith("figures/")} == {f"figures/{p}" for p in pngs}
    for p in pngs:
        assert (study_dir / "figures" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(study_dir.rglob("*.tmp"))      # atomic writes leave nothing behind


def test_html_is_self_contained_and_escaped(study_dir, built):
    text = built["report.html"].read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I)
    assert "<link" not in text and "@import" not in text
    pngs = sorted((study_dir / "figures").glob("*.png"))
    assert text.count('src="data:image/png;base64,') == len(pngs)
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; friends" in text
    assert "QUICK MODE" in text
    assert FAILED_ERROR in text


def test_markdown_links_every_figure_and_lists_failures(study_dir, built):
    md = built["report.md"].read_text(encoding="utf-8")
    for png in (study_dir / "figures").glob("*.png"):
        assert f"](figures/{png.name})" in md, png.name
    assert "QUICK MODE" in md
    assert FAILED_ERROR in md
    assert "<script>" not in md
    assert "| lr=10 | 1 | missing |" in md                  # the run that never started is listed too
    assert "0.593" in md and "write-up 003" in md              # the write-up's numbers and their source
    assert "paired t-test on the 2 per-seed differences" in md     # the test used
    assert len(re.findall(r"test on the \d+ per-seed", md)) == 1    # lr=10 was not compared: it names no test
    assert "nnstudy report " in md
    assert "Test CPU" in md and "2.13.0+cpu" in md             # the environment of the runs


def test_report_reads_run_directories_only(study_dir, tmp_path, monkeypatch):
    """The runs name the full CIFAR-10, absent from an empty data root: the report still draws every figure, the
    image grid from the test images the runs kept. Runs that kept none (trained before they did) get a note."""
    from safetensors.torch import load_file
    copy = tmp_path / "study"
    copy.mkdir()
    (copy / "study.yaml").write_bytes((study_dir / "study.yaml").read_bytes())
    for run in (study_dir / "runs").iterdir():
        dst = copy / "runs" / run.name
        dst.mkdir(parents=True)
        for f in run.iterdir():
            dst.joinpath(f.name).write_bytes(f.read_bytes())
        if (dst / "config.yaml").is_file():
            cfg = yaml.safe_load((dst / "config.yaml").read_text())
            cfg["data"] = {"name": "cifar10"}
            (dst / "config.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "empty-data-root"))
    built = build_report(copy)
    assert any("predictions_" in k for k in built) and any("confusion_" in k for k in built)
    for path in (copy / "runs").glob("*/predictions.safetensors"):   # as runs wrote them before
        kept = load_file(str(path))
        save_file({k: v for k, v in kept.items() if not k.startswith("sample_")}, str(path))
    built = build_report(copy)
    assert not any("predictions_" in k for k in built) and any("confusion_" in k for k in built)
    assert "test-image grids not drawn" in built["report.md"].read_text(encoding="utf-8")


def test_runs_on_cpus_named_alike_are_not_called_comparable():
    """Two CPUs that a VM names alike ("AMD EPYC") but whose ids differ: the report says the runs' timings are not
    directly comparable and shows both ids; runs on one CPU get no such warning."""
    from types import SimpleNamespace

    from nnstudy.report.sections import _environment_section

    def section(*ids: str | None) -> str:
        runs = [SimpleNamespace(summary={"environment": {"cpu": "AMD EPYC", "cpu_id": i, "torch": "2.13.0+cpu"}})
                for i in ids]
        return repr(_environment_section(SimpleNamespace(by_variant={"base": runs})))

    zen4, zen5 = "AuthenticAMD family 25 model 17", "AuthenticAMD family 26 model 2"
    one = section(zen4, zen4)
    assert zen4 in one and "not directly comparable" not in one
    two = section(zen4, zen5)
    assert "not directly comparable" in two and zen4 in two and zen5 in two
    # a run written before cpu_id was recorded: its CPU is not thereby another one
    older = section(zen4, None)
    assert "not directly comparable" not in older


def test_step_curves_when_runs_log_every_n_steps(tmp_path):
    """Runs trained with train.eval_every_steps get a 'validation every N steps' figure, with the test curve where
    they scored test too (SPEC D)."""
    import yaml

    from nnstudy.report import build_report
    from nnstudy.study import load_study_spec, run_study
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "st", "seeds": [0], "base": {
        "model": {"name": "mlp2"}, "data": {"name": "cifar10-sample", "subset": 200},
        "train": {"epochs": 2, "batch_size": 20, "threads": 1, "eval_every_steps": 5,
                  "test_every_epoch": True}}}))
    outcome = run_study(load_study_spec(path), out_dir=tmp_path, progress=False)
    paths = build_report(outcome.study_dir)
    assert "figures/step_curves.png" in paths
    report = (outcome.study_dir / "report.md").read_text()
    assert "step_curves.png" in report and "Validation and test every 5 optimiser steps (" in report
    # a trained run keeps what its report draws: class names, and a fixed sample of its test images
    summary = json.loads((outcome.study_dir / "runs" / "base__s0" / "summary.json").read_text())
    assert summary["data"]["num_classes"] == 10 and summary["data"]["class_names"][0] == "airplane"
    assert "figures/predictions_base.png" in paths


def test_forecasting_study_gets_forecast_plots(tmp_path):
    """A forecasting study's report has forecast-vs-actual plots (in MW) and no confusion matrices."""
    import yaml

    from nnstudy.report import build_report
    from nnstudy.study import load_study_spec, run_study
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump({"name": "fc", "seeds": [0], "base": {
        "model": {"name": "rnn_forecaster", "hidden": 8, "layers": 1}, "data": {"name": "energy-sample", "subset": 300},
        "task": {"name": "forecasting"}, "train": {"epochs": 1, "batch_size": 100, "threads": 1,
                                                   "test_every_epoch": True, "eval_samples": 50}},
        "report": {"metric": "test_smape", "mode": "min", "metrics": ["test_smape", "test_mae"]}}))
    outcome = run_study(load_study_spec(path), out_dir=tmp_path, progress=False)
    paths = build_report(outcome.study_dir)
    assert "figures/forecast_base.png" in paths and not any("confusion" in p for p in paths)
    text = (outcome.study_dir / "report.md").read_text()
    assert "not drawn" not in text and "forecast_base.png" in text
    # the per-epoch test curve (SPEC E) is in the learning curves and the caption says how it was scored
    assert "test after each epoch dotted" in text and "fixed random 50 of the 1,320 test samples" in text
    # the curve's labels do not leak into other axes: the bar chart's axis is plain "test sMAPE"
    assert "test (each epoch" not in text.split("## Figures")[1].split("learning_curves")[0]


def test_metric_labels_and_curve_metrics_include_test_columns():
    import pandas as pd

    from nnstudy.report.figures import _metric_names, metric_label
    assert metric_label("test_acc") == "test accuracy (fraction correct)"
    assert metric_label("test_smape").startswith("test sMAPE")
    assert _metric_names([pd.DataFrame(columns=["epoch", "train_loss", "test_smape", "train_seconds"])]) == \
        ["loss", "smape"]


# ------------------------------------------------------------------------------------- binary: ROC / PR

def test_roc_points_integrate_to_the_mann_whitney_auc():
    from nnstudy.report.prediction_figures import pr_points, roc_points
    rng = np.random.default_rng(0)
    positive = rng.random(300) < 0.25
    score = np.round(rng.normal(positive * 1.0, 1.0), 1)          # rounded: many ties
    fpr, tpr = roc_points(score, positive)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1 and np.all(np.diff(fpr) >= 0)
    diff = score[positive][:, None] - score[~positive][None, :]
    exact = float(((diff > 0) + 0.5 * (diff == 0)).mean())
    assert np.trapezoid(tpr, fpr) == pytest.approx(exact)
    recall, precision = pr_points(score, positive)
    assert recall[-1] == 1 and precision[-1] == pytest.approx(positive.mean())


def test_binary_study_gets_roc_and_pr_curves(tmp_path):
    study = {"name": "toy-binary", "description": "binary", "base": {"model": {"name": "variable_rnn"},
             "data": {"name": "mortality-sample"}}, "seeds": [0, 1], "baseline": "a",
             "variants": [{"name": "a", "overrides": {}}, {"name": "b", "overrides": {"model.hidden": 8}}],
             "report": {"metric": "test_roc_auc", "mode": "max", "metrics": ["test_roc_auc", "test_pr_auc"]}}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    g = torch.Generator().manual_seed(0)
    target = (torch.rand(60, generator=g) < 0.2).long()
    for variant in ("a", "b"):
        for seed in (0, 1):
            run = tmp_path / "runs" / f"{variant}__s{seed}"
            run.mkdir(parents=True)
            cfg = load_config("variable_rnn", ["data.name=mortality-sample", "task.auc=true", f"train.seed={seed}"])
            (run / "config.yaml").write_text(dump_yaml(cfg), encoding="utf-8")
            score = torch.randn(60, generator=g) + target * (2.0 if variant == "a" else 0.5)
            save_file({"pred": (score > 0).long(), "score": score.float(), "target": target},
                      str(run / "predictions.safetensors"))
            (run / "summary.json").write_text(json.dumps({
                "status": "finished", "name": run.name, "seed": seed, "selected_epoch": 1,
                "metrics": {"test_roc_auc": 0.9 if variant == "a" else 0.6, "test_pr_auc": 0.5}}), encoding="utf-8")
    built = build_report(tmp_path)
    assert (tmp_path / "figures" / "roc_pr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = built["report.md"].read_text(encoding="utf-8")
    assert "figures/roc_pr.png" in text and "ROC AUC (0.5 = chance)" in text


def test_compute_table_has_all_three_conventions(built):
    text = built["report.md"].read_text(encoding="utf-8")
    assert "| variant | params | MACs | FLOPs | detailed FLOPs |" in text
    assert "| base | 62,006 | 651,720 | 1,303,440 | 1,314,676 |" in text


def test_far_off_values_get_a_log_axis_and_only_blow_ups_are_clipped():
    from nnstudy.report.figures import _clip_outliers, _new_figure
    ax = _new_figure(3, 3).subplots()
    _clip_outliers(ax, [20.0, 1.0, 0.9, 0.8, 0.85])          # a high first epoch: everything shown, log scale
    assert ax.get_yscale() == "log" and not ax.texts
    ax = _new_figure(3, 3).subplots()
    _clip_outliers(ax, [2.3, 2.0, 1.9, 1e26, 1.8])          # a blow-up: clipped, with a note
    assert ax.get_yscale() == "linear" and ax.get_ylim()[1] < 10 and "off scale" in ax.texts[0].get_text()


def test_units_come_from_what_the_runs_recorded():
    from nnstudy.report.figures import metric_label
    assert metric_label("test_mae", unit="MW") == "test MAE (MW)"          # energy records unit MW
    assert metric_label("val_rmse") == "validation RMSE (target's units)"   # a series without data.unit
    assert metric_label("test_acc") == "test accuracy (fraction correct)"


def test_figures_promise_error_bars_only_where_seeds_give_a_spread(monkeypatch, tmp_path):
    """One seed per variant has no std (NaN): the titles say so instead of 'error bars: ± std over seeds'."""
    import pandas as pd

    from nnstudy.report import figures as F
    titles = []
    monkeypatch.setattr(F, "_save", lambda fig, path: titles.append(fig.axes[0].get_title()) or Path(path))
    for std in (float("nan"), 0.01):
        points = pd.DataFrame({"variant": ["a", "b"], "x": [1.0, 2.0], "x_err": [np.nan, std],
                               "y": [0.5, 0.6], "y_err": [np.nan, std]})
        F.tradeoff_scatter(points, tmp_path / "t.png", xlabel="x", ylabel="y", title="T")
        F.metric_bars(pd.DataFrame({"variant": ["a", "b"], "mean": [0.5, 0.6], "std": [np.nan, std], "n": [1, 1]}),
                      tmp_path / "b.png", ylabel="y", title="B")
    assert [t.split("\n")[1] for t in titles] == [
        "(one seed per variant: no error bars)", "(one seed per variant: no error bars)",
        "(error bars: ± std over seeds)", "(bar: mean over seeds, error bar: ± std)"]


def test_captions_of_a_one_seed_study_say_one_seed(study_dir, built, tmp_path):
    two_seeds = built["report.md"].read_text(encoding="utf-8")
    assert "per variant: mean ± std over seeds" in two_seeds and "one seed" not in two_seeds
    one = tmp_path / "one"
    one.mkdir()
    (one / "study.yaml").write_text((study_dir / "study.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    test = build_dataset("cifar10-sample").test
    for variant, act, acc in (("base", "relu", 0.55), ("act=tanh", "tanh", 0.62)):
        _write_run(one / "runs" / f"{variant}__s0", 0, act, acc, test.targets)
    text = build_report(one)["report.md"].read_text(encoding="utf-8")
    assert "per variant: one seed per variant" in text and "one point per variant (one seed each)" in text
    assert "band = mean ± std" not in text and "error bars: ±" not in text


def test_references_carry_the_label_the_study_gives_them(study_dir, built, tmp_path):
    """SPEC C's references are published checkpoints, not a write-up's one run: the report says what they are."""
    default = built["report.md"].read_text(encoding="utf-8")
    assert "## Compared with the write-up" in default and "| nnstudy − write-up |" in default
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    study = yaml.safe_load((study_dir / "study.yaml").read_text(encoding="utf-8"))
    study["report"]["reference_label"] = "published <checkpoints>"
    (labelled / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    test = build_dataset("cifar10-sample").test
    for variant, act, acc in (("base", "relu", 0.55), ("act=tanh", "tanh", 0.62)):
        for seed in (0, 1):
            _write_run(labelled / "runs" / f"{variant}__s{seed}", seed, act, acc + 0.02 * seed, test.targets)
    out = build_report(labelled)
    md = out["report.md"].read_text(encoding="utf-8")
    assert "Compared with the published" in md and "test_acc (published" in md
    assert "dashed black lines: the reference value (published" in md
    assert "write-up" not in md.replace("write-up 003", "")          # the source's own words stay as given
    assert "Compared with the published &lt;checkpoints&gt;" in out["report.html"].read_text(encoding="utf-8")


def test_a_reference_label_must_be_short_and_given():
    from nnstudy.errors import ConfigError
    from nnstudy.study.spec import load_study_spec
    base = {"name": "s", "base": {"model": {"name": "tutorial_cnn"}}, "seeds": [0]}
    for bad in ("", "x" * 41):
        with pytest.raises(ConfigError, match=r"^study: report\.reference_label: String should have") as err:
            load_study_spec({**base, "report": {"reference_label": bad}})
        assert "\n" not in str(err.value)
