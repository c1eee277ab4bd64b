"""Trackers: what a run and a study send to TensorBoard (read back with its own EventAccumulator), W&B (its offline
files, parsed record by record), MLflow (a sqlite store here; a real server in test_track_mlflow.py), and
`nnstudy export` sending finished runs after the fact without duplicates."""
from __future__ import annotations

import csv
import json
import struct
from pathlib import Path

import pytest
import yaml

from nnstudy.cli import main
from nnstudy.track.record import flat_params, summary_values

BASE = {"model": {"name": "tutorial_cnn"}, "data": {"name": "toy-images"},
        "train": {"epochs": 2, "batch_size": 16, "threads": 1}, "optim": {"lr": 0.05}}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """MLflow puts a sqlite store's artifacts in ./mlruns: here, not in the repository."""
    monkeypatch.chdir(tmp_path)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def _train(tmp_path, *extra: str) -> Path:
    code = main(["train", "tutorial_cnn", "data.name=toy-images", "train.epochs=2", "train.batch_size=16",
                 "train.threads=1", "optim.lr=0.05", f"out_dir={tmp_path / 'runs'}", "name=r", "--quiet", *extra])
    assert code == 0
    return tmp_path / "runs" / "r"


def _study(tmp_path, *extra: str) -> Path:
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump({"name": "toy", "base": BASE, "seeds": [0, 1], "ablate": {"optim.lr": [0.01]}}))
    assert main(["run", str(path), "--out", str(tmp_path / "studies"), "--quiet", *extra]) == 0
    return tmp_path / "studies" / "toy"


# ------------------------------------------------------------------------------------------------ what is sent

def test_config_is_sent_as_flat_dotted_parameters():
    flat = flat_params({"optim": {"lr": 0.01, "betas": [0.9, 0.99]}, "train": {"threads": None, "tta": "none",
                        "test_every_epoch": False}, "tags": {"study": "s"}, "name": "r"})
    assert flat == {"optim.lr": "0.01", "optim.betas": "[0.9, 0.99]", "train.threads": "null",
                    "train.tta": "none", "train.test_every_epoch": "false", "name": "r"}


def test_summary_values_are_the_numbers_of_summary_json():
    summary = {"metrics": {"test_acc": 0.5, "val_acc": 0.25}, "params": 10, "compute": {"macs": 20, "flops": 40},
               "time": {"train_seconds": 1.5}, "memory": {"peak_rss_mb": 300.0}, "selected_epoch": 2,
               "environment": {"torch": "2"}}
    assert summary_values(summary) == {"test_acc": 0.5, "val_acc": 0.25, "params": 10.0, "macs": 20.0,
                                       "flops": 40.0, "train_seconds": 1.5, "peak_rss_mb": 300.0,
                                       "selected_epoch": 2.0}


def test_a_tracker_that_is_not_installed_is_one_line_naming_the_extra(tmp_path, monkeypatch, capsys):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    code = main(["train", "tutorial_cnn", "data.name=toy-images", f"out_dir={tmp_path / 'runs'}", "--log", "wandb",
                 "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0
    assert "train.log: wandb is not installed; pip install 'nnstudy[wandb]'" in err
    assert not (tmp_path / "runs").exists()   # refused before anything was written


def test_an_unknown_tracker_is_refused_by_the_schema(tmp_path, capsys):
    code = main(["train", "tutorial_cnn", "data.name=toy-images", f"out_dir={tmp_path}", "train.log=[comet]"])
    assert code == 2 and "train.log" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ TensorBoard

def _tensorboard(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_tensorboard_scalars_equal_metrics_csv_and_the_hparams_data_is_there(tmp_path):
    run = _train(tmp_path, "--log", "tensorboard", "train.eval_every_steps=4")
    acc = _tensorboard(run / "tensorboard")
    rows = _rows(run / "metrics.csv")
    for column in rows[0]:
        if column == "epoch":
            continue
        events = acc.Scalars(column)
        assert [e.step for e in events] == [int(r["epoch"]) for r in rows]
        assert [e.value for e in events] == pytest.approx([float(r[column]) for r in rows], rel=1e-6)
    steps = _rows(run / "steps.csv")
    assert [e.step for e in acc.Scalars("steps/val_acc")] == [int(r["step"]) for r in steps]
    summary = json.loads((run / "summary.json").read_text())
    assert acc.Scalars("summary/test_acc")[0].value == pytest.approx(summary["metrics"]["test_acc"])
    # HParams plugin: session start (the run's parameters) and end, as torch's add_hparams writes them
    content = acc.PluginTagToContent("hparams")
    assert set(content) == {"_hparams_/session_start_info", "_hparams_/session_end_info"}
    from tensorboard.plugins.hparams import plugin_data_pb2
    start = content["_hparams_/session_start_info"]
    info = plugin_data_pb2.HParamsPluginData.FromString(start).session_start_info
    assert info.hparams["optim.lr"].number_value == pytest.approx(0.05)
    assert info.hparams["model.name"].string_value == "tutorial_cnn"
    assert json.loads((run / "tracking.json").read_text())["trackers"]["tensorboard"]["status"] == "sent"


def test_a_study_writes_one_folder_per_run_and_the_hparams_experiment(tmp_path):
    study = _study(tmp_path, "--log", "tensorboard")
    for name in ("base__s0", "base__s1", "lr=0.01__s0", "lr=0.01__s1"):
        assert list((study / "runs" / name / "tensorboard").glob("events.out.tfevents.*"))
    acc = _tensorboard(study / "tensorboard")
    from tensorboard.plugins.hparams import plugin_data_pb2
    content = acc.PluginTagToContent("hparams")["_hparams_/experiment"]
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
    assert [h.name for h in experiment.hparam_infos] == ["variant", "seed", "optim.lr"]
    assert "summary/test_acc" in [m.name.tag for m in experiment.metric_infos]


# ------------------------------------------------------------------------------------------------ W&B offline

def _items(items) -> dict:
    """W&B's key/value items (a key, or a nested key for history and summary) as a dict of decoded values."""
    return {i.key or ".".join(i.nested_key): json.loads(i.value_json) for i in items}


def _wandb_records(path: Path) -> list:
    """The records of a W&B offline file: LevelDB-log framing (7-byte header per chunk in 32 KiB blocks) after a
    7-byte ':W&B' file header, each record a wandb_internal_pb2.Record (wandb's own reader is not public)."""
    from wandb.proto import wandb_internal_pb2 as pb
    data, pos, block, chunks, records = path.read_bytes(), 7, 32768, b"", []
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _, size, kind = struct.unpack("<IHB", data[pos:pos + 7])
        pos += 7
        if kind == 0 and size == 0:
            pos += left - 7
            continue
        chunks += data[pos:pos + size]
        pos += size
        if kind in (1, 4):   # FULL or LAST
            record = pb.Record()
            record.ParseFromString(chunks)
            records.append(record)
            chunks = b""
    return records


def test_wandb_offline_runs_are_grouped_by_study_and_variant(tmp_path):
    pytest.importorskip("wandb")
    study = _study(tmp_path, "--log", "wandb")
    run = study / "runs" / "lr=0.01__s1"
    uid = json.loads((run / "tracking.json").read_text())["uid"]
    files = list((run / "wandb").glob(f"offline-run-*-{uid}/run-{uid}.wandb"))
    assert len(files) == 1
    records = _wandb_records(files[0])
    head = next(r.run for r in records if r.WhichOneof("record_type") == "run")
    assert (head.run_group, head.job_type, head.display_name) == ("toy", "lr=0.01", "lr=0.01__s1")
    config = _items(head.config.update)
    assert config["optim.lr"] == "0.01" and config["train.seed"] == "1"
    history = [_items(r.history.item) for r in records if r.WhichOneof("record_type") == "history"]
    rows = _rows(run / "metrics.csv")
    epochs = [h for h in history if "val_acc" in h]
    assert [h["epoch"] for h in epochs] == [int(r["epoch"]) for r in rows]
    assert [h["val_acc"] for h in epochs] == pytest.approx([float(r["val_acc"]) for r in rows])
    summary = {k: v for r in records if r.WhichOneof("record_type") == "summary" for k, v in
               _items(r.summary.update).items()}
    assert summary["summary/test_acc"] == pytest.approx(json.loads((run / "summary.json").read_text())
                                                        ["metrics"]["test_acc"])


# ------------------------------------------------------------------------------------------------ export

def _mlflow_runs(uri: str, experiment: str):
    from mlflow import MlflowClient
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    return client, (client.search_runs([found.experiment_id]) if found else [])


def test_export_sends_a_run_once_whatever_the_number_of_exports(tmp_path, capsys):
    run = _train(tmp_path)   # trained without any tracker
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for _ in range(2):
        assert main(["export", str(run), "--to", "mlflow", "--uri", uri]) == 0
    assert "0 run(s) sent, 1 already there" in capsys.readouterr().out
    client, runs = _mlflow_runs(uri, "nnstudy")
    assert len(runs) == 1
    history = client.get_metric_history(runs[0].info.run_id, "train_loss")
    rows = _rows(run / "metrics.csv")
    assert [(m.step, m.value) for m in history] == [(int(r["epoch"]), pytest.approx(float(r["train_loss"])))
                                                    for r in rows]
    assert runs[0].data.params["optim.lr"] == "0.05" and runs[0].info.status == "FINISHED"
    assert {f.path for f in client.list_artifacts(runs[0].info.run_id)} >= {"config.yaml", "model.safetensors",
                                                                             "summary.json", "metrics.csv"}
    for to in ("tensorboard", "wandb"):
        for _ in range(2):
            assert main(["export", str(run), "--to", to, "--uri", str(tmp_path / to), "--quiet"]) == 0
    assert len(list((tmp_path / "tensorboard").rglob("events.out.tfevents.*"))) == 1
    assert len(list((tmp_path / "wandb" / "wandb").glob("offline-run-*"))) == 1


def test_export_completes_a_run_the_tracker_has_in_part(tmp_path):
    run = _train(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    from nnstudy.track.mlflow import MlflowSink
    from nnstudy.track.record import RunRecord
    # the first epoch only, as a live run whose server went down after it would have left it
    sink = MlflowSink(uri)
    sink.start(RunRecord.of(run, yaml.safe_load((run / "config.yaml").read_text())))
    sink.epoch(_rows(run / "metrics.csv")[0])
    sink.close(failed=True)
    assert main(["export", str(run), "--to", "mlflow", "--uri", uri, "--quiet"]) == 0
    client, runs = _mlflow_runs(uri, "nnstudy")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(runs[0].info.run_id, "val_acc")] == [1, 2]


def test_export_of_a_study_makes_the_parent_run_with_tables_and_report(tmp_path, capsys):
    study = _study(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["export", str(study), "--to", "mlflow", "--uri", uri, "--quiet"]) == 0
    assert main(["export", str(study), "--to", "mlflow", "--uri", uri, "--quiet"]) == 0
    assert "0 run(s) sent, 4 already there" in capsys.readouterr().out
    client, runs = _mlflow_runs(uri, "toy")
    parents = [r for r in runs if r.data.tags.get("nnstudy.role") == "study"]
    children = [r for r in runs if r not in parents]
    assert len(parents) == 1 and len(children) == 4
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    assert sorted(r.data.tags["nnstudy.variant"] for r in children) == ["base", "base", "lr=0.01", "lr=0.01"]
    artifacts = {f.path for f in client.list_artifacts(parents[0].info.run_id, "study")}
    assert {"study/summary.csv", "study/report.html", "study/summary_table.json"} <= artifacts
    table = json.loads(Path(client.download_artifacts(parents[0].info.run_id, "study/summary_table.json",
                                                      str(tmp_path / "down"))).read_text())
    assert len(table["data"]) == len(_rows(study / "summary.csv"))   # replaced, not appended to, by each export


def test_export_refuses_what_is_not_a_run_or_a_study(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--to", "tensorboard"]) == 2
    assert "neither a study directory" in capsys.readouterr().err


def test_a_killed_run_resumed_continues_the_same_tracked_run(tmp_path, monkeypatch):
    import os
    import signal
    import subprocess
    import sys
    import time
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    _mlflow_runs(uri, "nnstudy")   # the store made first: a kill in MLflow's own schema migration is not this test's
    # the bundled sample (a child process cannot see the test-only dataset); a checkpoint after every step
    args = ["tutorial_cnn", "data.name=cifar10-sample", "data.subset=600", "train.epochs=4", "train.batch_size=8",
            "train.threads=1", "train.checkpoint_every=0", f"out_dir={tmp_path / 'runs'}", "name=k",
            "--log", "mlflow", "--log", "tensorboard", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "nnstudy.cli", "train", *args], stderr=subprocess.PIPE,
                            env={**os.environ, "MLFLOW_TRACKING_URI": uri})
    metrics = tmp_path / "runs" / "k" / "metrics.csv"
    deadline = time.time() + 120
    while not metrics.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)   # into epoch 2
    assert proc.poll() is None, proc.stderr.read().decode()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert main(["train", str(tmp_path / "runs" / "k"), "--resume", "--quiet"]) == 0
    run = tmp_path / "runs" / "k"
    rows = _rows(run / "metrics.csv")
    client, runs = _mlflow_runs(uri, "nnstudy")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    history = client.get_metric_history(runs[0].info.run_id, "val_acc")
    assert [(m.step, m.value) for m in history] == [(int(r["epoch"]), pytest.approx(float(r["val_acc"])))
                                                    for r in rows]
    acc = _tensorboard(run / "tensorboard")
    assert [e.step for e in acc.Scalars("val_acc")] == [1, 2, 3, 4]


def _experiment_in(uri: str, barrier) -> None:
    import time

    from mlflow.store.tracking.file_store import FileStore

    from nnstudy.track.mlflow import _client, experiment_id
    check = FileStore._validate_experiment_does_not_exist

    def slow_check(self, name):   # widens the store's own window between "not there" and "made" to 0.3 s
        check(self, name)
        time.sleep(0.3)
    FileStore._validate_experiment_does_not_exist = slow_check   # in this child process only
    create_default = FileStore._create_default_experiment

    def slow_default(self):   # and the window of a new store between "no directory" and its "Default" experiment
        time.sleep(0.3)
        create_default(self)
    FileStore._create_default_experiment = slow_default
    barrier.wait()   # all at once, as a study's workers starting their first runs
    experiment_id(_client(uri), "race")   # opening a new store races too (its "Default" experiment)


def test_workers_starting_at_once_make_one_experiment_in_a_file_store(tmp_path, monkeypatch):
    """MLflow's file store keeps no names unique: nnstudy's workers take turns creating the study's experiment, so
    their runs are not split between two experiments of one name."""
    import multiprocessing
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(4)
    workers = [ctx.Process(target=_experiment_in, args=(uri, barrier)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0] * 4
    names = [e.name for e in MlflowClient(uri).search_experiments()]
    assert sorted(names) == ["Default", "race"], names
