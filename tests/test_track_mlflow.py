"""A real MLflow tracking server (sqlite store, local artifact root, 127.0.0.1 on a free port) receives a study
and is read back with MlflowClient; the same server stopped in the middle of a run does not stop the training.
Slow suite: starting a server takes 10-20 s on 2 cores (test_track.py covers the same paths on a sqlite store)."""
from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from nnstudy.cli import main

pytest.importorskip("mlflow")
pytestmark = pytest.mark.slow

BASE = {"model": {"name": "tutorial_cnn"}, "data": {"name": "toy-images"},
        "train": {"epochs": 2, "batch_size": 16, "threads": 1}, "optim": {"lr": 0.05}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`mlflow server` in its own process group (uvicorn's workers go with it)."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder, self.port = folder, port or _free_port()
        self.uri = f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        mlflow = Path(sys.executable).parent / "mlflow"
        self.log = (self.folder / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [str(mlflow), "server", "--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}",
             "--artifacts-destination", str(self.folder / "artifacts"), "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", "1"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError((self.folder / "server.log").read_text()[-2000:])
                time.sleep(0.25)
        raise RuntimeError("mlflow server did not start within 90 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("mlflow")).start()
    yield srv
    srv.stop()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_a_study_arrives_as_a_parent_run_with_one_child_per_variant_and_seed(server, tmp_path, monkeypatch):
    from mlflow import MlflowClient
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump({"name": "toy-study", "base": BASE, "seeds": [0, 1],
                                    "ablate": {"model.act": ["tanh"]}}))
    assert main(["run", str(path), "--out", str(tmp_path / "studies"), "--quiet", "--log", "mlflow",
                 "train.eval_every_steps=5"]) == 0
    study = tmp_path / "studies" / "toy-study"
    client = MlflowClient(server.uri)
    experiment = client.get_experiment_by_name("toy-study")
    runs = client.search_runs([experiment.experiment_id])
    parent = [r for r in runs if r.data.tags.get("nnstudy.role") == "study"]
    children = {r.info.run_name: r for r in runs if r not in parent}
    assert len(parent) == 1 and sorted(children) == ["act=tanh__s0", "act=tanh__s1", "base__s0", "base__s1"]
    parent_id = parent[0].info.run_id
    for name, child in children.items():
        run = study / "runs" / name
        assert child.data.tags["mlflow.parentRunId"] == parent_id
        assert child.data.tags["nnstudy.variant"] == name.split("__")[0]
        assert child.data.tags["nnstudy.study"] == "toy-study" and child.info.status == "FINISHED"
        assert child.data.params["model.act"] == ("tanh" if name.startswith("act") else "relu")
        assert child.data.params["train.seed"] == name[-1]
        rows = _rows(run / "metrics.csv")
        for column in ("train_loss", "val_acc", "lr"):
            history = client.get_metric_history(child.info.run_id, column)
            assert [(m.step, m.value) for m in history] == \
                [(int(r["epoch"]), pytest.approx(float(r[column]))) for r in rows]
        steps = client.get_metric_history(child.info.run_id, "steps/val_acc")
        assert [m.step for m in steps] == [int(r["step"]) for r in _rows(run / "steps.csv")]
        summary = json.loads((run / "summary.json").read_text())
        assert child.data.metrics["summary/test_acc"] == pytest.approx(summary["metrics"]["test_acc"])
        assert child.data.metrics["summary/params"] == summary["params"]
        artifacts = {f.path for f in client.list_artifacts(child.info.run_id)}
        assert {"config.yaml", "summary.json", "metrics.csv", "model.safetensors"} <= artifacts
    local = client.download_artifacts(parent_id, "study/summary.csv", str(tmp_path / "down"))
    assert Path(local).read_text() == (study / "summary.csv").read_text()
    assert {"study/report.html", "study/report.md", "study/summary_table.json"} <= \
        {f.path for f in client.list_artifacts(parent_id, "study")}


def test_a_server_that_stops_mid_run_never_stops_the_training(tmp_path, monkeypatch, capsys):
    from mlflow import MlflowClient
    srv = Server(tmp_path / "srv")
    srv.folder.mkdir()
    srv.start()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", srv.uri)
    run = tmp_path / "runs" / "r"

    def stop_after_first_epoch() -> None:
        deadline = time.time() + 120
        while time.time() < deadline and len(_rows(run / "metrics.csv") if (run / "metrics.csv").is_file()
                                              else []) < 2:
            time.sleep(0.01)
        srv.stop()
    watcher = threading.Thread(target=stop_after_first_epoch)
    watcher.start()
    try:
        code = main(["train", "tutorial_cnn", "data.name=toy-images", "train.epochs=12", "train.batch_size=16",
                     "train.threads=1", "optim.lr=0.05", f"out_dir={tmp_path / 'runs'}", "name=r", "--quiet",
                     "--log", "mlflow"])
    finally:
        watcher.join()
        srv.stop()
    err = capsys.readouterr().err
    assert code == 0 and json.loads((run / "summary.json").read_text())["status"] == "finished"
    assert len(_rows(run / "metrics.csv")) == 12
    lines = [line for line in err.splitlines() if line.startswith("nnstudy: mlflow:")]
    assert len(lines) == 1, err   # reported once, however many epochs could not be sent
    assert f"nnstudy export {run} --to mlflow" in lines[0]
    state = json.loads((run / "tracking.json").read_text())["trackers"]["mlflow"]
    assert state["status"] == "failed"
    # the server is back (same store): the export sends what it missed, and only that
    back = Server(srv.folder, srv.port).start()
    try:
        assert main(["export", str(run), "--to", "mlflow", "--uri", back.uri, "--quiet"]) == 0
        client = MlflowClient(back.uri)
        runs = client.search_runs([client.get_experiment_by_name("nnstudy").experiment_id])
        assert len(runs) == 1 and runs[0].info.status == "FINISHED"
        history = client.get_metric_history(runs[0].info.run_id, "train_loss")
        assert [m.step for m in history] == list(range(1, 13))
        assert json.loads((run / "tracking.json").read_text())["trackers"]["mlflow"]["status"] == "sent"
    finally:
        back.stop()
