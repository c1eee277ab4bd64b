"""--until-decided: seeds added round by round to the comparisons still undecided, resumable, replayed by reports."""
from __future__ import annotations

import yaml

from nnstudy.cli import main
from nnstudy.study import load_study_spec, run_study
from nnstudy.study.results import aggregate, collect_runs, describe_verdicts, read_study


def _spec(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump({
        "name": "adaptive", "seeds": [0, 1, 2], "ablate": {"optim.lr": [0.0001], "model.act": ["tanh"]},
        "base": {"model": {"name": "mlp", "hidden": [32]}, "data": {"name": "toy-images"},
                 "optim": {"name": "sgd", "lr": 0.05}, "train": {"epochs": 2, "batch_size": 16, "threads": 1}}},
        sort_keys=False))
    return load_study_spec(path)


def test_seeds_are_added_only_where_undecided(tmp_path):
    outcome = run_study(_spec(tmp_path), out_dir=tmp_path, progress=False, until_decided=6)
    study = read_study(outcome.study_dir)
    assert study.adaptive.first == 3 and study.seeds == [0, 1, 2, 3, 4, 5]
    runs = collect_runs(outcome.study_dir)
    assert set(runs["status"]) == {"finished"}                   # seeds not needed are not listed as missing
    counts = runs.groupby("variant", observed=True).size().to_dict()
    agg = aggregate(runs, study).set_index("variant")
    # lr=0.0001 barely learns (~1/3 against 1.0): decided "worse" at an early look; tanh ties with the baseline on
    # every seed, so it runs to the last seed, and the baseline runs as long as any comparison needs it
    assert agg.loc["lr=0.0001", "verdict"] == "worse" and 3 <= counts["lr=0.0001"] < 6
    assert counts["act=tanh"] == 6 and counts["base"] == 6
    assert agg.loc["act=tanh", "verdict"] == "no detectable difference with 6 seeds"
    assert "group-sequential paired t-test, look at" in agg.loc["lr=0.0001", "reason"]
    assert "Lan–DeMets O'Brien–Fleming" in describe_verdicts(agg, study)
    assert len(outcome.results) == sum(counts.values())
    again = run_study(_spec(tmp_path), out_dir=tmp_path, progress=False, until_decided=6, resume=True)
    assert again.results == []                                   # everything decided: resuming runs nothing


def test_until_decided_needs_room_to_add_seeds(tmp_path, capsys):
    study = tmp_path / "a.yaml"
    _spec(tmp_path)
    assert main(["run", str(study), "--max-seeds", "5"]) == 2
    assert "--max-seeds goes with --until-decided" in capsys.readouterr().err
    assert main(["run", str(study), "--until-decided", "--max-seeds", "3", "--out", str(tmp_path)]) == 2
    assert "--max-seeds 3: expected more than the study's 3 seeds" in capsys.readouterr().err
