"""The command line: listings, and one-line errors with exit code != 0 (never a traceback) for bad input."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from nnstudy.cli import main
from nnstudy.models import build_model


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "nnstudy.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_models_lists_zoo_with_param_counts(capsys):
    assert main(["models", "resnet*"]) == 0
    text = capsys.readouterr().out
    assert "11,173,962" in text and "21,282,122" in text and "23,520,842" in text and "mlp2" not in text
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "62,006" in text and "369,970" in text and "1,746,558" in text


def _one_line_error(result, *needles):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_unknown_model(tmp_path):
    _one_line_error(run_cli("train", "resnet19", f"out_dir={tmp_path}"), "unknown model 'resnet19'", "resnet18")


def test_bad_override(tmp_path):
    _one_line_error(run_cli("train", "tutorial_cnn", "optim.lrr=0.1", f"out_dir={tmp_path}"),
                    "optim.lrr", "did you mean 'optim.lr'")
    _one_line_error(run_cli("train", "tutorial_cnn", "model.act=swishh", "data.name=cifar10-sample",
                            f"out_dir={tmp_path}"), "swishh")


def test_missing_dataset(tmp_path):
    env = {**__import__("os").environ, "NNSTUDY_DATA": str(tmp_path / "empty")}
    _one_line_error(run_cli("train", "tutorial_cnn", f"out_dir={tmp_path}", env=env), "cifar10",
                    "nnstudy data")


def test_weights_for_another_architecture(tmp_path):
    weights = tmp_path / "mlp.pt"
    torch.save(build_model("mlp2").state_dict(), weights)
    _one_line_error(run_cli("eval", "--model", "tutorial_cnn", "--weights", str(weights),
                            "data.name=cifar10-sample"), "does not fit", "missing", "unexpected")


def test_corrupt_and_malicious_weights(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    _one_line_error(run_cli("eval", "--model", "mlp2", "--weights", str(bad), "data.name=cifar10-sample"),
                    "bad.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    evil = tmp_path / "evil.pt"
    torch.save({"w": Evil()}, evil)
    result = run_cli("eval", "--model", "mlp2", "--weights", str(evil), "data.name=cifar10-sample")
    _one_line_error(result, "evil.pt", "refused")
    assert "pwned" not in result.stdout


def test_eval_needs_run_dir_or_weights():
    _one_line_error(run_cli("eval"), "RUN_DIR")
    _one_line_error(run_cli("eval", "not-a-run-dir"), "not a run directory")


def test_help_for_every_command():
    for cmd in ("quickstart", "models", "summary", "train", "eval", "data", "studies", "run", "report"):
        assert run_cli(cmd, "--help").returncode == 0


def test_quickstart_smoke(tmp_path):
    """The README's main job, shortened to one epoch per model."""
    result = run_cli("quickstart", "--epochs", "1", "--quiet", "--out-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "quickstart results" in result.stdout
    runs = sorted(p.name for p in next(tmp_path.iterdir()).iterdir())
    assert runs == ["d2l_resnet", "mlp3", "tutorial_cnn"]
    for name in runs:
        assert (next(tmp_path.iterdir()) / name / "summary.json").is_file()


def test_public_api_is_importable():
    import nnstudy
    for name in nnstudy.__all__:
        assert getattr(nnstudy, name) is not None
    with pytest.raises(AttributeError):
        nnstudy.no_such_thing


def test_summary_table_and_json(capsys):
    import json
    assert main(["summary", "resnet50", "--input", "3x32x32"]) == 0
    text = capsys.readouterr().out
    assert "23,520,842" in text and "325,799,936" in text and "layer1.0.downsample.0" in text
    assert "input 3×32×32" in text and "MACs: multiply-accumulates" in text
    assert main(["summary", "mlp", "hidden=[16]", "act=sigmoid", "num_classes=5", "--input", "178",
                 "--convention", "detailed"]) == 0
    assert "5,904" in capsys.readouterr().out
    assert main(["summary", "cnn1d", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["params"] == 85_273 and data["totals"]["flops"] == 2 * data["totals"]["macs"]
    assert {"name", "type", "output_shape", "params", "macs", "flops", "detailed"} <= set(data["rows"][0])


def test_summary_bad_input():
    _one_line_error(run_cli("summary", "resnet18", "--input", "3xbig"), "--input", "3x32x32")
    _one_line_error(run_cli("summary", "resnet18", "--input", "7"), "cannot run on input 7")
    _one_line_error(run_cli("summary", "tutorial_cnn", "widht=2"), "did you mean 'model.width'")


def test_studies_and_bad_study_input(capsys, tmp_path):
    assert main(["studies"]) == 0
    text = capsys.readouterr().out
    for name in ("cifar-mlp-depth", "cifar-cnn-ablation", "cifar-resnet-depth", "cifar-alexnet-vs-resnet"):
        assert name in text
    _one_line_error(run_cli("run", "cifar-cnn-ablatoin"), "did you mean 'cifar-cnn-ablation'")
    _one_line_error(run_cli("run", "cifar-cnn-ablation", "optim.lrr=1"), "optim.lrr")
    _one_line_error(run_cli("report", str(tmp_path)), "not a study directory")


def test_run_uses_the_study_workers_unless_given(tmp_path, monkeypatch):
    """A study file's `workers` is the default parallelism; --workers overrides it (0 is still an error)."""
    import yaml

    import nnstudy.cli as cli
    seen = []

    class Stop(Exception):
        pass

    def fake_run_study(spec, **kwargs):
        seen.append(kwargs["workers"])
        raise Stop

    monkeypatch.setattr("nnstudy.study.run_study", fake_run_study)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "workers": 2, "base": {"model": {"name": "mlp2"},
                                                                      "data": {"name": "cifar10-sample"}}}))
    for extra, expected in (([], 2), (["--workers", "1"], 1)):
        with pytest.raises(Stop):
            cli.main(["run", str(path), "--out", str(tmp_path), *extra])
        assert seen[-1] == expected
    from nnstudy.study import load_study_spec
    assert load_study_spec("energy-rnn").workers == 2 and load_study_spec("cifar-resnet-depth").workers == 1
