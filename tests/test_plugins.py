"""The user's own model, dataset and task: by entry point, by import path, and by `imports:` + @register — through
`nnstudy run`, `report` and `eval RUN_DIR` as a user runs them (child processes, with the package installed)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nnstudy import load_config
from nnstudy.engine import train
from nnstudy.errors import NnstudyError

PACKAGE = Path(__file__).parent / "plugins" / "tinyplug"


@pytest.fixture(scope="session")
def tinyplug(tmp_path_factory) -> dict[str, str]:
    """tests/plugins/tinyplug installed (pip, no network) into a folder put on sys.path and PYTHONPATH: installed,
    with its entry points, as a user's package would be, not importable from the source tree by accident."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "--target", str(target), str(PACKAGE)], check=True, capture_output=True)
    sys.path.insert(0, str(target))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    yield env
    sys.path.remove(str(target))


def nnstudy(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nnstudy.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def _study(tmp_path: Path, name: str, model: str, data: str, task: str, **extra) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "seeds": [0, 1], "ablate": {"model.width": [4]}, **extra,
        "base": {"model": {"name": model, "width": 8}, "data": {"name": data}, "task": {"name": task},
                 "optim": {"name": "adam", "lr": 0.01}, "train": {"epochs": 2, "batch_size": 16, "threads": 1}}}))
    return path


@pytest.mark.parametrize("model, data, task", [
    ("tinynet", "tiny-images", "smoothed-classification"),
    ("tinyplug.models:TinyNet", "tinyplug.data:tiny_images", "tinyplug.tasks:SmoothedClassification"),
], ids=["entry-points", "import-paths"])
def test_a_users_study_runs_reports_and_evaluates(tmp_path, tinyplug, model, data, task):
    study, out = _study(tmp_path, "mine", model, data, task), tmp_path / "studies"
    done = nnstudy(tinyplug, "run", str(study), "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    runs = out / "mine" / "runs"
    summary = json.loads((runs / "base__s0" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["metrics"]["test_acc"] > 0.5   # it learned
    assert summary["params"] == 8 * 3 * 9 + 8 + 16 * 8 * 9 + 16 + 64 * 4 + 4
    source = summary["sources"]["model"]
    assert source["package"] == "nnstudy-tinyplug" and source["version"] == "0.3.1"
    assert source["object"] == "tinyplug.models:TinyNet"
    assert summary["sources"]["task"]["object"] == "tinyplug.tasks:SmoothedClassification"
    assert nnstudy(tinyplug, "report", str(out / "mine")).returncode == 0
    assert "width=4" in (out / "mine" / "report.md").read_text()
    again = nnstudy(tinyplug, "eval", str(runs / "width=4__s1"), "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["metrics"] == json.loads(again.stdout)["recorded"]


def test_imports_run_registering_modules(tmp_path, tinyplug):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"imports": ["tinyplug.registered"], "model": {"name": "tiny-registered"},
                                   "data": {"name": "tinyplug.data:tiny_images"}, "train": {"epochs": 1},
                                   "out_dir": str(tmp_path / "runs"), "name": "r"}))
    done = nnstudy(tinyplug, "train", str(cfg), "--quiet")
    assert done.returncode == 0, done.stderr
    saved = yaml.safe_load((tmp_path / "runs" / "r" / "config.yaml").read_text())
    assert saved["imports"] == ["tinyplug.registered"]          # so `nnstudy eval RUN_DIR` imports it again
    assert nnstudy(tinyplug, "eval", str(tmp_path / "runs" / "r")).returncode == 0
    # --import on the command line does the same
    done = nnstudy(tinyplug, "train", "tiny-registered", "--import", "tinyplug.registered",
                   "data.name=tinyplug.data:tiny_images", "train.epochs=1", f"out_dir={tmp_path / 'runs'}",
                   "name=r2", "--quiet")
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load((tmp_path / "runs" / "r2" / "config.yaml").read_text())["imports"] == \
        ["tinyplug.registered"]


def test_a_study_says_what_it_imports(tmp_path, tinyplug):
    study = _study(tmp_path, "imp", "tiny-registered", "tiny-images", "classification",
                   imports=["tinyplug.registered"])
    done = nnstudy(tinyplug, "run", str(study), "--out", str(tmp_path / "studies"))
    assert done.returncode == 0, done.stderr
    assert "imports (their code runs in every run): tinyplug.registered" in done.stderr


@pytest.mark.parametrize("overrides, needle", [
    (["model.name=nopkg.models:Net"], "module 'nopkg.models' cannot be imported (no module named 'nopkg'"),
    (["model.name=tinyplug.models:Nope"], "module 'tinyplug.models' has no attribute 'Nope'"),
    (["model.name=tinyplug.models:not_a_module"], "returned a int, not a torch.nn.Module"),
    (["model.name=broken-net"], "the entry point 'tinyplug.broken:Net' of nnstudy-tinyplug 0.3.1 fails to load"),
    (["model.name=tinynet", "model.widht=3"], "unknown key 'model.widht' for model 'tinynet'; did you mean "
                                              "'model.width'?"),
    (["model.name=tinynet", "imports=[nopkg]"], "imports: module 'nopkg' cannot be imported"),
    (["model.name=tinynet", "task.name=tinyplug.models:TinyNet"], "not a nnstudy.tasks.Task"),
])
def test_a_users_code_that_does_not_fit_is_one_line(tmp_path, tinyplug, overrides, needle):
    with pytest.raises(NnstudyError) as info:
        train(load_config(None, ["data.name=tiny-images", f"out_dir={tmp_path}", *overrides]), progress=False)
    assert needle in str(info.value) and "\n" not in str(info.value)
    assert not any(tmp_path.iterdir())


def test_missing_code_later_names_the_module(tmp_path, tinyplug):
    args = ["model.name=tinyplug.models:TinyNet", "data.name=tiny-images", "train.epochs=1",
            f"out_dir={tmp_path}", "name=r"]
    train(load_config(None, args), progress=False)
    gone = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}   # the package is no longer installed
    done = subprocess.run([sys.executable, "-m", "nnstudy.cli", "eval", str(tmp_path / "r")], capture_output=True,
                          text=True, env=gone, timeout=300)
    assert done.returncode == 2 and "module 'tinyplug.models' cannot be imported" in done.stderr, done.stderr


def test_summary_of_a_users_model(tinyplug):
    done = nnstudy(tinyplug, "summary", "tiny-registered", "--import", "tinyplug.registered", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["params"] == 4 * 3 * 9 + 4 + 8 * 4 * 9 + 8 + 32 * 4 + 4


def test_models_lists_entry_points_and_survives_a_broken_one(tinyplug):
    done = nnstudy(tinyplug, "models")
    assert done.returncode == 0, done.stderr
    assert "tinynet" in done.stdout and "resnet18" in done.stdout and "broken-net" in done.stdout
    assert "the entry point 'tinyplug.broken:Net' of nnstudy-tinyplug 0.3.1 fails to load" in done.stderr
