"""MLflow: one MLflow run per nnstudy run (params, per-epoch metrics, summary, artifacts); a study is a parent run
with one child per (variant, seed), its summary table and report attached.

Where: `destination` (``--uri``), else ``MLFLOW_TRACKING_URI``, else MLflow's default (``sqlite:///mlflow.db`` in
the working directory since MLflow 3). The experiment is ``MLFLOW_EXPERIMENT_NAME`` if set, else the study's
name, else "nnstudy". A run is found again by its tag ``nnstudy.uid``: a resumed run continues its MLflow run,
and an export sends only what is missing.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from ..errors import clip
from .base import Sink
from .record import SUMMARY_PREFIX, RunRecord, StudyRecord, numeric, record_status, run_uid, summary_values

__all__ = ["make_sink", "MlflowSink", "export_study", "find_run"]

COMPLETE_TAG = "nnstudy.complete"
PARAM_LIMIT = 6000        # characters MLflow keeps of a parameter value
BATCH_METRICS = 1000      # MLflow's log_batch limits (metrics, params per call)
BATCH_PARAMS = 100
TABLE_FILE = "summary_table.json"
ARTIFACTS = ("config.yaml", "summary.json", "metrics.csv", "steps.csv", "model.safetensors")


def make_sink(destination: str | None = None) -> "MlflowSink":
    return MlflowSink(destination)


def _client(destination: str | None) -> MlflowClient:
    # a server that is down must not hold a run's end for minutes: MLflow retries 7 times with backoff by default
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    # MLflow prints two "View run … at" lines per run ended on a server, from the tracker's thread; nnstudy says
    # where the runs went itself
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    uri = destination or mlflow.get_tracking_uri()
    with _one_at_a_time(uri):   # a new file store creates its "Default" experiment on opening: a race of its own
        return MlflowClient(uri)


def experiment_id(client: MlflowClient, study: str | None) -> str:
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or study or "nnstudy"
    with _one_at_a_time(client.tracking_uri):
        found = client.get_experiment_by_name(name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                client.restore_experiment(found.experiment_id)
            return found.experiment_id
        try:
            return client.create_experiment(name)
        except mlflow.exceptions.MlflowException:   # made by another process meanwhile (databases refuse twins)
            return client.get_experiment_by_name(name).experiment_id


@contextlib.contextmanager
def _one_at_a_time(uri: str) -> Iterator[None]:
    """MLflow's file store does not keep experiment names unique: two workers of a study starting at once would each
    create the study's experiment, and its runs would be split between two experiments of one name. On a local file
    store they take turns, by a lock on the directory that holds the store (nothing written there; not the store's own
    directory: MLflow sets a new store up, "Default" experiment included, only when that directory is missing);
    servers and databases refuse the second experiment themselves."""
    parsed = urllib.parse.urlparse(uri)
    root = Path(urllib.request.url2pathname(parsed.path)) if parsed.scheme == "file" else \
        Path(uri) if not parsed.scheme else None
    try:
        import fcntl
    except ImportError:   # Windows: no flock; a race there can still split the runs
        fcntl = None
    if root is None or fcntl is None:
        yield
        return
    holder = root.absolute().parent
    holder.mkdir(parents=True, exist_ok=True)
    fd = os.open(holder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)   # releases the lock


def find_run(client: MlflowClient, experiment: str, tag: str, value: str) -> Any:
    found = client.search_runs([experiment], filter_string=f"tags.`{tag}` = '{value}'", max_results=2)
    return found[0] if found else None


class MlflowSink(Sink):
    name = "mlflow"

    def __init__(self, destination: str | None = None) -> None:
        self.client = _client(destination)
        self.run_id: str | None = None
        self.complete = False                     # the MLflow run holds everything already: nothing to send
        self.logged: dict[str, set[int]] = {}     # metric -> steps already there (a resumed or re-exported run)

    def start(self, run: RunRecord) -> None:
        self.record = run
        self.experiment = experiment_id(self.client, run.study)
        found = find_run(self.client, self.experiment, "nnstudy.uid", run.uid)
        if found is not None:
            self.run_id = found.info.run_id
            self.complete = self.already = found.data.tags.get(COMPLETE_TAG) == "true"
            if self.complete:
                return
            for key in found.data.metrics:
                self.logged[key] = {m.step for m in self.client.get_metric_history(self.run_id, key)}
            self.client.update_run(self.run_id, status="RUNNING")
            have = found.data.params
        else:
            tags = dict(run.tags)
            if run.environment.get("git_commit"):
                tags["mlflow.source.git.commit"] = str(run.environment["git_commit"])
            self.run_id = self.client.create_run(self.experiment, run_name=run.name, tags=tags).info.run_id
            have = {}
        params = [Param(k, clip(v, PARAM_LIMIT)) for k, v in run.params.items() if k not in have]
        for i in range(0, len(params), BATCH_PARAMS):
            self.client.log_batch(self.run_id, params=params[i:i + BATCH_PARAMS])

    def _metrics(self, values: dict[str, Any], step: int) -> list[Metric]:
        """The values as MLflow metrics at `step`, less those the MLflow run has already."""
        now = int(time.time() * 1000)
        metrics = []
        for key, value in values.items():
            number = numeric(value)
            if number is None or step in self.logged.setdefault(key, set()):
                continue
            self.logged[key].add(step)
            metrics.append(Metric(key, number, now, step))
        return metrics

    def _log(self, metrics: list[Metric]) -> None:
        for i in range(0, len(metrics), BATCH_METRICS):
            self.client.log_batch(self.run_id, metrics=metrics[i:i + BATCH_METRICS])

    def _row(self, kind: str, row: dict[str, Any]) -> list[Metric]:
        if kind == "epoch":
            return self._metrics({k: v for k, v in row.items() if k != "epoch"}, int(row["epoch"]))
        return self._metrics({f"steps/{k}": v for k, v in row.items() if k not in ("step", "epoch")},
                             int(row["step"]))

    def epoch(self, row: dict[str, Any]) -> None:
        self.rows([("epoch", row)])

    def steps(self, row: dict[str, Any]) -> None:
        self.rows([("steps", row)])

    def rows(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        if not self.complete:   # one request for all of them
            self._log([m for kind, row in rows for m in self._row(kind, row)])

    def finish(self, summary: dict[str, Any]) -> None:
        if self.complete:
            return
        values = {SUMMARY_PREFIX + k: v for k, v in summary_values(summary).items()}
        self._log(self._metrics(values, int(summary.get("selected_epoch") or 0)))
        for name in ARTIFACTS:
            path = self.record.path / name
            if path.is_file():
                self.client.log_artifact(self.run_id, str(path))
        self.client.set_tag(self.run_id, COMPLETE_TAG, "true")
        self.client.set_terminated(self.run_id, "FINISHED")
        self.complete = True
        record_status(self.record.path, "mlflow", "sent", uri=self.client.tracking_uri, run_id=self.run_id)

    def close(self, failed: bool = False) -> None:
        if self.run_id is not None and not self.complete:
            self.client.set_terminated(self.run_id, "FAILED" if failed else "KILLED")


def export_study(study: StudyRecord, destination: str | None = None) -> str:
    """The study's parent run (found again by the study's uid): its runs become its children, its tables and
    report its artifacts. Returns the parent's run id."""
    client = _client(destination)
    experiment = experiment_id(client, study.name)
    parent = find_run(client, experiment, "nnstudy.study_uid", study.uid)
    tags = {"nnstudy.study_uid": study.uid, "nnstudy.role": "study", "nnstudy.study": study.name,
            "nnstudy.baseline": study.baseline, "nnstudy.axes": ", ".join(study.axes) or "-",
            "nnstudy.runs": str(len(study.runs))}
    if parent is None:
        parent_id = client.create_run(experiment, run_name=study.name, tags=tags).info.run_id
    else:
        parent_id = parent.info.run_id
        client.log_batch(parent_id, tags=[RunTag(k, v) for k, v in tags.items()])
    for run_dir in study.runs:
        child = find_run(client, experiment, "nnstudy.uid", run_uid(run_dir))
        if child is not None and child.data.tags.get("mlflow.parentRunId") != parent_id:
            client.set_tag(child.info.run_id, "mlflow.parentRunId", parent_id)
    for path in study.files:   # uploaded again on every export: the same paths, replaced
        if path.is_dir():
            client.log_artifacts(parent_id, str(path), artifact_path=f"study/{path.name}")
        else:
            client.log_artifact(parent_id, str(path), artifact_path="study")
    table = study.path / "summary.csv"
    if table.is_file():   # the verdict table for MLflow's table viewer (log_table would append on every export)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / TABLE_FILE
            path.write_text(pd.read_csv(table).to_json(orient="split", index=False), encoding="utf-8")
            client.log_artifact(parent_id, str(path), artifact_path="study")
        client.set_tag(parent_id, "mlflow.loggedArtifacts", json.dumps([{"path": f"study/{TABLE_FILE}",
                                                                          "type": "table"}]))
    if parent is None or parent.info.status != "FINISHED":   # an export again keeps the study's duration
        client.set_terminated(parent_id, "FINISHED")
    return parent_id


def describe(destination: str | None) -> str:
    return destination or mlflow.get_tracking_uri()
