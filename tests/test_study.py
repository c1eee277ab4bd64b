"""Study files: expansion, validation, execution (serial and in worker processes), failures, resume."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from nnstudy.errors import ConfigError, RunDirError
from nnstudy.study import load_study_spec, run_study
from nnstudy.study.spec import StudySpec, run_name

BASE = {"model": {"name": "tutorial_cnn"}, "data": {"name": "toy-images"},
        "train": {"epochs": 2, "batch_size": 16, "threads": 1}, "optim": {"lr": 0.05}}


def _write(tmp_path, **fields):
    spec = {"name": "toy", "base": BASE, "seeds": [0, 1], **fields}
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_ablate_expands_one_axis_at_a_time():
    spec = StudySpec(name="s", base=BASE, ablate={"model.act": ["tanh", "leaky_relu"], "optim.lr": [0.01]})
    variants = spec.expand()
    assert [v.name for v in variants] == ["base", "act=tanh", "act=leaky_relu", "lr=0.01"]
    assert variants[3].overrides == {"optim.lr": 0.01}
    assert spec.resolved().baseline == "base"
    cfg = spec.run_config(variants[1], seed=7)
    assert cfg["model"]["act"] == "tanh" and cfg["train"]["seed"] == 7 and cfg["optim"]["lr"] == 0.05
    assert BASE["train"].get("seed") is None          # the base is not modified


def test_grid_zip_and_explicit_variants():
    grid = StudySpec(name="g", base=BASE, grid={"model.act": ["relu", "tanh"], "optim.lr": [0.1, 0.01]})
    assert [v.name for v in grid.expand()] == ["act=relu,lr=0.1", "act=relu,lr=0.01", "act=tanh,lr=0.1",
                                               "act=tanh,lr=0.01"]
    zipped = StudySpec(name="z", base=BASE, zip={"model.name": ["mlp2", "mlp3"], "optim.lr": [0.1, 0.01]},
                       variants=[{"name": "cnn", "overrides": {}}], baseline="cnn")
    assert [v.name for v in zipped.expand()] == ["cnn", "name=mlp2,lr=0.1", "name=mlp3,lr=0.01"]
    with pytest.raises(ValueError, match="same length"):
        StudySpec(name="z", base=BASE, zip={"a.b": [1, 2], "c.d": [1]})
    with pytest.raises(ValueError, match="one of grid, zip, ablate"):
        StudySpec(name="z", base=BASE, zip={"a.b": [1]}, grid={"c.d": [1]})
    assert run_name("name=mlp2,lr=0.1", 3) == "name=mlp2,lr=0.1__s3"
    assert run_name("a b/c", 0) == "a_b_c__s0"


def test_bad_studies_fail_before_anything_runs(tmp_path):
    with pytest.raises(ConfigError, match="unknown study 'cifar-cnn-ablatoin'.*cifar-cnn-ablation"):
        load_study_spec("cifar-cnn-ablatoin")
    with pytest.raises(ConfigError, match="variant 'act=swish2'.*swish2"):
        load_study_spec(_write(tmp_path, ablate={"model.act": ["swish2"]}))
    with pytest.raises(ConfigError, match="baseline 'bse' is not a variant; did you mean 'base'"):
        load_study_spec(_write(tmp_path, ablate={"model.act": ["tanh"]}, baseline="bse")).resolved()
    with pytest.raises(ConfigError, match="no mode 'fast'"):
        load_study_spec("cifar-cnn-ablation", mode="fast")
    with pytest.raises(ConfigError, match="unknown key 'train.epoch'"):
        load_study_spec(_write(tmp_path), ["train.epoch=3"])


@pytest.mark.parametrize("name", ["cifar-cnn-ablation", "cifar-mlp-depth", "cifar-resnet-depth", "energy-rnn",
                                  "seizure", "cifar-alexnet-vs-resnet", "mortality", "cifar-speedrun"])
def test_builtin_studies_load_in_both_modes(name):
    full = load_study_spec(name)
    quick = load_study_spec(name, mode="quick", seeds=3)
    assert full.mode == "full" and quick.mode == "quick" and quick.seeds == [0, 1, 2]
    # quick modes train less: fewer epochs, or a bundled sample / subset of the data
    assert (quick.base["train"]["epochs"] < full.base["train"]["epochs"]
            or quick.base["data"]["name"].endswith("-sample") or quick.base["data"].get("subset"))
    resolved = full.resolved()
    assert set(resolved.report.reference) <= set(resolved.variant_names)
    from nnstudy.config import RunConfig
    for mode in full.modes:   # every mode's run configs are valid (budget, faithful, ...)
        spec = load_study_spec(name, mode=mode)
        for variant in spec.expand():
            RunConfig.model_validate(spec.run_config(variant, spec.seeds[0]))


def test_cnn_ablation_has_the_write_up_axes():
    names = [v.name for v in load_study_spec("cifar-cnn-ablation").expand()]
    assert names == ["base", "act=leaky_relu", "act=tanh", "lr=0.0005", "lr=0.01", "conv_layers=1",
                     "conv_layers=3", "width=2"]


def test_run_study_records_failures_and_resumes(tmp_path):
    spec = load_study_spec(_write(tmp_path, ablate={"optim.lr": [1e12]}, seeds=[0, 1]))
    outcome = run_study(spec, out_dir=tmp_path / "studies", progress=False)
    runs = tmp_path / "studies" / "toy" / "runs"
    assert sorted(p.name for p in runs.iterdir()) == ["base__s0", "base__s1", "lr=1000000000000.0__s0",
                                                      "lr=1000000000000.0__s1"]
    status = {r.name: r.status for r in outcome.results}
    assert status == {"base__s0": "finished", "base__s1": "finished", "lr=1000000000000.0__s0": "failed",
                      "lr=1000000000000.0__s1": "failed"}
    failed = json.loads((runs / "lr=1000000000000.0__s0" / "summary.json").read_text())
    assert failed["status"] == "failed" and "loss is" in failed["error"]
    with pytest.raises(RunDirError, match="--resume"):
        run_study(spec, out_dir=tmp_path / "studies", progress=False)
    again = run_study(spec, out_dir=tmp_path / "studies", resume=True, progress=False)
    assert again.results == [] and again.skipped == 4          # finished and failed runs are kept
    other = load_study_spec(_write(tmp_path, ablate={"optim.lr": [1e12]}, seeds=[0, 1]), ["train.epochs=3"])
    with pytest.raises(RunDirError, match="different study"):
        run_study(other, out_dir=tmp_path / "studies", resume=True, progress=False)


def test_resume_with_more_seeds_adds_them_and_keeps_the_runs_done(tmp_path):
    """A study run with one seed (e.g. a long one, as the write-up did) gets seeds added later by --seeds N
    --resume: the runs done are kept, the new seeds run, study.yaml lists them all. Fewer or other seeds: refused."""
    path = _write(tmp_path, seeds=[0])
    run_study(load_study_spec(path), out_dir=tmp_path / "studies", progress=False)
    runs = tmp_path / "studies" / "toy" / "runs"
    first = (runs / "base__s0" / "summary.json").stat().st_mtime_ns
    more = run_study(load_study_spec(path, seeds=2), out_dir=tmp_path / "studies", resume=True, progress=False)
    assert more.skipped == 1 and [r.name for r in more.results] == ["base__s1"]
    assert (runs / "base__s0" / "summary.json").stat().st_mtime_ns == first
    assert yaml.safe_load((tmp_path / "studies" / "toy" / "study.yaml").read_text())["seeds"] == [0, 1]
    reworded = load_study_spec(_write(tmp_path, seeds=[0, 1], description="Reworded, same protocol."))
    assert run_study(reworded, out_dir=tmp_path / "studies", resume=True, progress=False).skipped == 2
    saved = yaml.safe_load((tmp_path / "studies" / "toy" / "study.yaml").read_text())
    assert saved["description"] == "Reworded, same protocol." and saved["seeds"] == [0, 1]   # what the report shows
    for fewer_or_other in (load_study_spec(path, seeds=1), load_study_spec(_write(tmp_path, seeds=[5, 6]))):
        with pytest.raises(RunDirError, match=r"seeds: \[0, 1\] in the run.*seeds may only grow"):
            run_study(fewer_or_other, out_dir=tmp_path / "studies", resume=True, progress=False)


def test_worker_processes_give_the_same_numbers_as_serial(tmp_path):
    # The child processes cannot see the test-only toy dataset: use a small slice of the bundled sample.
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "w", "seeds": [0], "ablate": {"model.act": ["tanh"]}, "base": {
        "model": {"name": "tutorial_cnn"}, "data": {"name": "cifar10-sample", "subset": 200},
        "train": {"epochs": 1, "batch_size": 20, "threads": 1}}}))
    spec = load_study_spec(path)
    run_study(spec, out_dir=tmp_path / "serial", progress=False)
    run_study(spec, out_dir=tmp_path / "pool", workers=2, progress=False)
    for name in ("base__s0", "act=tanh__s0"):
        a = json.loads((tmp_path / "serial" / "w" / "runs" / name / "summary.json").read_text())
        b = json.loads((tmp_path / "pool" / "w" / "runs" / name / "summary.json").read_text())
        assert a["metrics"] == b["metrics"]


def test_killed_study_resumes_to_the_same_table(tmp_path):
    """SIGKILL `nnstudy run` in the middle of its second run; --resume finishes with the same numbers."""
    from nnstudy.study.results import aggregate, collect_runs, read_study
    path = tmp_path / "k.yaml"
    path.write_text(yaml.safe_dump({"name": "k", "seeds": [0], "ablate": {"model.act": ["tanh", "sigmoid"]},
                                    "base": {"model": {"name": "tutorial_cnn"},
                                             "data": {"name": "cifar10-sample", "subset": 600},
                                             "train": {"epochs": 3, "batch_size": 8, "threads": 1,
                                                       "checkpoint_every": 0}}}))
    whole = run_study(load_study_spec(path), out_dir=tmp_path / "whole", progress=False)
    cmd = [sys.executable, "-m", "nnstudy.cli", "run", str(path), "--out", str(tmp_path / "killed"), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    second = tmp_path / "killed" / "k" / "runs" / "act=tanh__s0" / "metrics.csv"
    deadline = time.time() + 180
    while not second.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed" / "k" / "runs" / "act=sigmoid__s0" / "summary.json").exists()
    done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    tables = []
    for root in (whole.study_dir, tmp_path / "killed" / "k"):
        runs = collect_runs(root)
        agg = aggregate(runs, read_study(root))
        tables.append(agg.filter(regex=r"^(variant|n|test_acc_mean|test_loss_mean|val_acc_mean)$"))
    assert tables[0].equals(tables[1])


def test_published_weights_are_evaluated_instead_of_trained(tmp_path):
    import torch

    from nnstudy.models import build_model
    from nnstudy.study.results import aggregate, collect_runs, read_study
    weights = tmp_path / "tanh.pt"
    model = build_model("tutorial_cnn", act="tanh", input_shape=(3, 16, 16), num_classes=4)
    torch.save({"net": {f"module.{k}": v for k, v in model.state_dict().items()}}, weights)
    path = _write(tmp_path, ablate={"model.act": ["tanh"]})
    with pytest.raises(ConfigError, match="no such file"):
        load_study_spec(path, weights={"act=tanh": str(tmp_path / "missing.pt")})
    with pytest.raises(ConfigError, match="unknown variant"):
        load_study_spec(path, weights={"act=tanhh": str(weights)}).resolved()
    spec = load_study_spec(path, weights={"act=tanh": str(weights)})
    outcome = run_study(spec, out_dir=tmp_path / "studies", progress=False)
    assert sorted(r.name for r in outcome.results) == ["act=tanh__s0", "base__s0", "base__s1"]
    summary = json.loads((outcome.study_dir / "runs" / "act=tanh__s0" / "summary.json").read_text())
    assert summary["status"] == "finished" and "published weights tanh.pt" in summary["selected_by"]
    assert summary["time"]["train_seconds"] == 0.0 and 0.0 <= summary["metrics"]["test_acc"] <= 1.0
    runs = collect_runs(outcome.study_dir)
    assert list(runs["status"]) == ["finished"] * 3          # no "missing" second seed for evaluated weights
    agg = aggregate(runs, read_study(outcome.study_dir))
    assert agg.set_index("variant").loc["act=tanh", "n"] == 1


def test_workers_end_when_the_study_process_is_killed(tmp_path):
    """SIGKILL the parent of a worker pool: the workers notice within seconds and exit (no orphan writing on)."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import os, time\n"
        "from nnstudy.study.backends.local import ProcessExecutor\nfrom nnstudy.study.executor import Job\n"
        "def sleepy(job):\n"
        "    print(os.getpid(), flush=True)\n"
        "    time.sleep(60)\n"
        "if __name__ == '__main__':\n"
        "    for _ in ProcessExecutor(1).run(sleepy, [Job('a', {})]):\n"
        "        pass\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(tmp_path)})
    worker = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(worker, signal.SIGKILL)
    pytest.fail("the worker outlived its killed parent")


def test_seizure_study_has_the_exact_spec_f_models():
    from nnstudy.models import build_model, count_params
    spec = load_study_spec("seizure")
    counts = {}
    for v in spec.expand():
        model = dict(spec.run_config(v, 0)["model"])
        counts[v.name] = count_params(build_model(model.pop("name"), **model, num_classes=5, input_shape=(178,)))
    assert counts == {"mlp": 2_949, "cnn": 85_273, "gru": 997, "mlp-improved": 24_539, "cnn-improved": 51_185,
                      "gru-improved": 16_197}


def test_seed_keys_set_other_config_keys_to_the_seed(tmp_path):
    raw = {"name": "toy", "seeds": [0, 1], "seed_keys": ["data.split_seed"],
           "base": {"model": {"name": "variable_rnn"}, "data": {"name": "mortality-sample"}}}
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(raw))
    spec = load_study_spec(path)
    variant = spec.expand()[0]
    cfg = spec.run_config(variant, 3)
    assert cfg["train"]["seed"] == 3 and cfg["data"]["split_seed"] == 3
    assert spec.resolved().seed_keys == ["data.split_seed"]
    raw["seed_keys"] = ["data.split_sed"]
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="split_sed"):
        load_study_spec(path)
