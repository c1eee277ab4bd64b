"""docs/your-own-model.md runs as written: its files are written out and its commands run in a fresh folder."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "your-own-model.md"
BLOCK = re.compile(r"^```(\w+)( [^\n]*)?\n(.*?)^```$", re.S | re.M)


def blocks() -> tuple[dict[str, str], list[str]]:
    """The doc's files (```python file=PATH) and commands (```bash run), in order."""
    files, commands = {}, []
    for _, info, body in BLOCK.findall(DOC.read_text(encoding="utf-8")):
        info = info.strip()
        if info.startswith("file="):
            files[info[len("file="):]] = body
        elif info == "run":
            commands += [line for line in body.splitlines() if line.strip()]
    return files, commands


def test_the_tutorial_runs_as_written(tmp_path):
    files, commands = blocks()
    assert set(files) == {"mylab/models.py", "ablation.yaml", "notebook.py", "mylab/tasks.py"} and len(commands) == 4
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    for command in commands:
        done = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stderr}"
    study = tmp_path / "studies" / "smallnet-ablation"
    runs = {p.parent.name: json.loads(p.read_text()) for p in study.glob("runs/*/summary.json")}
    assert sorted(runs) == ["base__s0", "base__s1", "dropout=0.3__s0", "dropout=0.3__s1", "width=8__s0",
                            "width=8__s1"]
    assert runs["base__s0"]["sources"]["model"]["object"] == "mylab.models:SmallNet"
    assert (study / "report.html").is_file()
    cell = json.loads((tmp_path / "runs" / "smallnet-ablation-width=8__s1" / "summary.json").read_text())
    assert cell["metrics"] == runs["width=8__s1"]["metrics"]
    # the notebook: a model class by its import path, a Dataset object of the session, the tables as DataFrames
    table = (tmp_path / "notebook-runs.csv").read_text().splitlines()
    assert len(table) == 5 and all(",finished," in row for row in table[1:])
    summary = json.loads((tmp_path / "studies" / "smallnet-notebook" / "runs" / "width=8__s0" / "summary.json")
                         .read_text())
    assert summary["sources"]["model"]["object"] == "mylab.models:SmallNet"
    assert summary["sources"]["data"]["how"] == "python object" and summary["dataset"] == "my-images"
    assert summary["data"]["train"] == 500 and summary["data"]["test"] == 200
    # a task of one's own, by import path, with its argument checked and its metric recorded
    topk = json.loads((tmp_path / "runs" / "topk" / "summary.json").read_text())
    assert topk["task"] == "mylab.tasks:TopK" and topk["sources"]["task"]["object"] == "mylab.tasks:TopK"
    assert topk["metrics"]["test_top5"] >= topk["metrics"]["test_acc"] > 0
