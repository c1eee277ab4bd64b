"""Hostile and clumsy input, refused in one line with exit 2 and nothing written outside out_dir; runs that resume
from the middle of an epoch whatever the path is called; edited configs and missing weights refused at once."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

import nnstudy.engine.loop as loop
from nnstudy import load_config
from nnstudy.cli import main
from nnstudy.engine import train
from nnstudy.errors import ConfigError, RunDirError
from nnstudy.names import check_label, check_name

# ~1 s runs of the tutorial CNN on the test-only toy dataset (tests/conftest.py), one thread
TOY = ["data.name=toy-images", "train.epochs=2", "train.batch_size=16", "train.threads=1", "optim.lr=0.05"]


def one_line_error(capsys, rc: int, *needles: str, code: int = 2) -> str:
    """The one stderr line of a refused command (exit `code`, no traceback, short), checked for `needles`."""
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert rc == code, captured.err
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert len(lines[0]) <= 500, len(lines[0])
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*")} if path.exists() else set()


# ------------------------------------------------------------------------------------------------------ names

HOSTILE_NAMES = {
    "parent": ("../../escaped", "contains /"),
    "absolute": ("/tmp/nnstudy-escaped", "contains /"),
    "backslash": ("..\\..\\escaped", "contains"),
    "dotdot": ("..", "not a name"),
    "newline": ("ok\nnnstudy train: done", "U+000A"),
    "escape": ("a\x1b[31mred", "U+001B"),
    "bidi": ("txt.\u202eexe", "U+202E"),
    "html": ("<img src=x onerror=alert(1)>", "contains"),
    "subshell": ("$(touch pwned)", "contains $"),
    "backtick": ("`id`", "contains `"),
    "long": ("a" * 300, "300 bytes long"),
    "long-utf8": ("é" * 130, "260 bytes long"),
    "option": ("-rf", "must not start with '-'"),
    "empty": ("", "must not be empty"),
}


@pytest.mark.parametrize("name, needle", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_hostile_run_names_are_refused(tmp_path, capsys, monkeypatch, name, needle):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs"
    for args in ([f"--name={name}"], [f"name={name}"]):
        before = files_under(tmp_path)
        rc = main(["train", "tutorial_cnn", *TOY, f"out_dir={out}", "--quiet", *args])
        one_line_error(capsys, rc, needle)
        assert files_under(tmp_path) == before          # nothing written, inside out_dir or outside it
    assert not Path("/tmp/nnstudy-escaped").exists()


def test_names_are_checked_in_one_place():
    for name in ("base", "act=tanh", "lr=0.01,conv_layers=3", "résumé-ü", "run 1", "a" * 255):
        assert check_name(name) == name
    with pytest.raises(ConfigError, match="256 bytes"):
        check_name("a" * 256)
    # a variant name is shown, not used as a path: separators are fine, control and bidi characters are not
    assert check_label("widths=[64, 128]/x:<y>") == "widths=[64, 128]/x:<y>"
    with pytest.raises(ConfigError, match=r"U\+202E"):
        check_label("a\u202eb")


def _study(tmp_path: Path, **fields) -> Path:
    path = tmp_path / "study.yaml"
    body = {"name": "toy", "seeds": [0, 1], "base": {"model": {"name": "tutorial_cnn"},
                                                      "data": {"name": "toy-images"},
                                                      "optim": {"lr": 0.05},
                                                      "train": {"epochs": 1, "batch_size": 16, "threads": 1}}}
    path.write_text(yaml.safe_dump({**body, **fields}))
    return path


@pytest.mark.parametrize("fields, needle", [
    ({"name": "../../escaped"}, "study name '../../escaped': contains /"),
    ({"name": "a\nb"}, "U+000A"),
    ({"variants": [{"name": "x\u202eb"}]}, "variant name"),
    ({"variants": [{"name": "v" * 300}]}, "300 bytes long"),
    ({"ablate": {"model.act": ["tanh\n[1/4] done"]}}, "U+000A"),
    ({"seeds": [True]}, "seeds.0"),
    ({"seeds": [-1]}, "seeds.0"),
], ids=["study-parent", "study-newline", "variant-bidi", "variant-long", "ablated-value", "seed-bool", "seed-neg"])
def test_hostile_study_and_variant_names_are_refused(tmp_path, capsys, fields, needle):
    out = tmp_path / "studies"
    rc = main(["run", str(_study(tmp_path, **fields)), "--out", str(out), "--quiet"])
    one_line_error(capsys, rc, needle)
    assert not out.exists() and not (tmp_path.parent / "escaped").exists()


# ---------------------------------------------------------------------------------------------------- configs

_BOMB = "\n".join(["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                  + [f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi")]
                  + ["model: {name: mlp3, hidden: *i}"])
BAD_CONFIGS = {
    "not-utf8": (b"model: {name: mlp3}\nname: caf\xe9\n", "not a UTF-8 text file (line 2 holds byte 0xe9"),
    "utf16": ("model: {name: mlp3}\n".encode("utf-16"), "UTF-16 text"),
    "utf16-no-bom": ("model: {name: mlp3}\n".encode("utf-16-le"), "UTF-16 text"),
    "empty": (b"", "empty file"),
    "binary": (bytes(range(256)) * 4, "binary data"),
    "gzip": (b"\x1f\x8b\x08\x00" + bytes(40) + b"\xff\x01" * 20, "gzip-compressed"),
    "alias-bomb": (_BOMB.encode(), "expands to more than"),
    "broken-yaml": (b"model: {name: mlp3\ntrain: [\n", "not valid YAML"),
    "not-mapping": (b"- a\n- b\n", "expected a mapping"),
    "huge-value": (b"model: {name: mlp3}\ntrain: {epochs: " + b"9" * 5_000_000 + b"}\n", "thousands of digits"),
    "huge-string": (b"model: {name: mlp3}\noptim: {name: " + b"x" * 5_000_000 + b"}\n", "optim.name"),
    "bool-batch": (b"model: {name: mlp3}\ntrain: {batch_size: true}\n", "train.batch_size=True: expected an integer"),
    "bool-epochs": (b"model: {name: mlp3}\ntrain: {epochs: yes}\n", "expected an integer"),
    "int-nesterov": (b"model: {name: mlp3}\noptim: {nesterov: 1}\n", "expected true or false"),
    "bool-lr": (b"model: {name: mlp3}\noptim: {lr: true}\n", "optim.lr=True"),
    "quoted-lr": (b"model: {name: mlp3}\noptim: {lr: '0.1'}\n", "optim.lr='0.1'"),
    "bool-builder-arg": (b"model: {name: tutorial_cnn, width: true}\n", "model.width=True"),
    "bool-in-list": (b"model: {name: mlp3}\noptim: {betas: [true, 0.9]}\n", "optim.betas.0=True"),
    "key-twice": (b"model: {name: mlp3}\ntrain: {epochs: 1}\ntrain: {epochs: 2}\n",
                  "line 3: not valid YAML (key 'train' given twice)"),
    "python-tag": (b"model: !!python/object/apply:os.system [echo pwned]\n", "could not determine a constructor"),
    "deep": (b"model: " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested too deeply"),
    "list-part": (b"model: [1, 2]\n", "model=[1, 2]: expected a mapping"),
}


@pytest.mark.parametrize("content, needle", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_bad_config_files_are_one_line(tmp_path, capsys, content, needle):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    rc = main(["train", str(path), f"out_dir={tmp_path / 'runs'}", "--quiet"])
    line = one_line_error(capsys, rc, needle)
    assert "bad.yaml" in line or needle.startswith("model.")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("override, needle", [
    ("optim.lr=.inf", "optim.lr=inf: expected a finite number"),
    ("optim.momentum=.nan", "expected a finite number"),
    ("data.val_fraction=.inf", "data.val_fraction=inf"),
    ("train.seed=-1", "train.seed=-1: expected a value ≥ 0"),
    ("train.seed=99999999999999999999", "expected a value ≤ 4294967295"),
    ("train.batch_size=0", "expected a value > 0"),
    ("model.width=100000", "does not fit in memory"),
])
def test_bad_override_values_are_one_line(tmp_path, capsys, override, needle):
    rc = main(["train", "tutorial_cnn", *TOY, f"out_dir={tmp_path}", "--quiet", override])
    one_line_error(capsys, rc, needle)
    assert not any(tmp_path.iterdir())


def test_yaml_numbers_need_no_dot():
    # PyYAML (YAML 1.1) reads 1e-3 as a string; strict numbers would then refuse the commonest way to write an lr
    assert load_config({"model": {"name": "mlp3"}, "optim": {"lr": 1}}).optim.lr == 1.0
    assert load_config("mlp3", ["optim.lr=1e-3"]).optim.lr == 0.001


def test_override_values_are_cut_in_messages(capsys):
    rc = main(["train", "mlp3", "train.device=" + "x" * 100_000])
    line = one_line_error(capsys, rc, "train.device")
    assert len(line) < 300


def test_broken_study_yaml_under_resume(tmp_path, capsys):
    study = _study(tmp_path)
    out = tmp_path / "studies"
    (out / "toy").mkdir(parents=True)
    (out / "toy" / "study.yaml").write_bytes(b"name: toy\nvariants: [\n\xff")
    one_line_error(capsys, main(["run", str(study), "--out", str(out), "--resume", "--quiet"]), "study.yaml")
    (out / "toy" / "study.yaml").write_text("name: toy\nvariants: [\n")
    one_line_error(capsys, main(["run", str(study), "--out", str(out), "--resume", "--quiet"]), "not valid YAML")


# ----------------------------------------------------------------------------------------------------- resume

class Stop(Exception):
    """Stands in for a kill between two checkpoints."""


def _stop_after_checkpoints(monkeypatch, n: int) -> None:
    real, calls = loop.save_checkpoint, []

    def save_then_maybe_stop(path, state):
        real(path, state)
        calls.append(state["step"])
        if len(calls) == n:
            raise Stop

    monkeypatch.setattr(loop, "save_checkpoint", save_then_maybe_stop)


def _interrupted_run(tmp_path, monkeypatch, *extra: str, n: int = 20) -> Path:
    """A toy run stopped after its n-th checkpoint (checkpoint_every=0: one per step, mid-epoch included)."""
    args = [*TOY, "train.checkpoint_every=0", f"out_dir={tmp_path / 'runs'}", "name=cut", *extra]
    with monkeypatch.context() as m:
        _stop_after_checkpoints(m, n)
        with pytest.raises(Stop):
            train(load_config("tutorial_cnn", args), progress=False)
    return tmp_path / "runs" / "cut"


def test_checkpoint_every_0_resumes_from_the_middle_of_an_epoch(tmp_path, monkeypatch):
    whole = train(load_config("tutorial_cnn", [*TOY, f"out_dir={tmp_path / 'runs'}", "name=whole"]),
                  progress=False)
    run = _interrupted_run(tmp_path, monkeypatch, n=16)   # 12 steps per epoch: step 4 of epoch 2
    state = loop.load_checkpoint(run / "checkpoint.pt")
    assert (state["epoch"], state["step"]) == (1, 4)
    resumed = train(load_config(run / "config.yaml"), resume=True, progress=False)
    assert resumed.summary["attempts"] == 2
    assert resumed.summary["metrics"] == whole.summary["metrics"]


def test_checkpoint_every_null_checkpoints_at_epoch_ends_only(tmp_path, monkeypatch):
    steps = []
    real = loop.save_checkpoint
    monkeypatch.setattr(loop, "save_checkpoint", lambda path, state: (steps.append(state["step"]),
                                                                     real(path, state)))
    train(load_config("tutorial_cnn", [*TOY, "train.checkpoint_every=null", f"out_dir={tmp_path}"]),
          progress=False)
    assert steps == [0, 0]


def test_resume_does_not_depend_on_how_the_path_is_spelled(tmp_path, monkeypatch):
    whole = train(load_config("tutorial_cnn", [*TOY, f"out_dir={tmp_path / 'whole'}"]), progress=False)
    run = _interrupted_run(tmp_path, monkeypatch, n=5)        # created through an absolute out_dir
    monkeypatch.chdir(tmp_path)
    with monkeypatch.context() as m:                          # resumed through a relative one, stopped again
        _stop_after_checkpoints(m, 5)
        with pytest.raises(Stop):
            train(load_config("tutorial_cnn", [*TOY, "train.checkpoint_every=0", "out_dir=runs", "name=cut"]),
                  resume=True, progress=False)
    moved = tmp_path / "elsewhere" / "cut-moved"
    moved.parent.mkdir()
    run.rename(moved)                                         # and finished after the folder was moved
    assert main(["train", str(moved), "--resume", "--quiet"]) == 0
    summary = json.loads((moved / "summary.json").read_text())
    assert summary["attempts"] == 3 and summary["metrics"] == whole.summary["metrics"]


def test_edited_config_is_refused_on_resume(tmp_path, monkeypatch, capsys):
    run = _interrupted_run(tmp_path, monkeypatch, n=5)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["optim"]["lr"] = 0.5
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    one_line_error(capsys, main(["train", str(run), "--resume", "--quiet"]), "config.yaml: changed since the run "
                   "started (optim.lr: 0.05 in the run, 0.5 now)")
    # edited to another architecture: refused the same way, before torch meets the shapes
    cfg["optim"]["lr"], cfg["model"]["width"] = 0.05, 2
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    one_line_error(capsys, main(["train", str(run), "--resume", "--quiet"]), "model.width")


def test_missing_best_weights_are_refused_before_training(tmp_path, monkeypatch):
    run = _interrupted_run(tmp_path, monkeypatch, n=16)       # epoch 1 selected, stopped inside epoch 2
    (run / "model.safetensors").unlink()
    steps = []
    monkeypatch.setattr(loop._Trainer, "_train_epoch", lambda self: steps.append(1))
    with pytest.raises(RunDirError, match="model.safetensors: missing .*epoch 1"):
        train(load_config(run / "config.yaml"), resume=True, progress=False)
    assert steps == []                                         # refused before any training


def test_missing_weights_of_the_checkpointed_epoch_are_restored(tmp_path, monkeypatch):
    whole = train(load_config("tutorial_cnn", [*TOY, f"out_dir={tmp_path / 'whole'}"]), progress=False)
    run = _interrupted_run(tmp_path, monkeypatch, n=12)       # the end-of-epoch-1 checkpoint, the best so far
    assert loop.load_checkpoint(run / "checkpoint.pt")["step"] == 0
    (run / "model.safetensors").unlink()
    resumed = train(load_config(run / "config.yaml"), resume=True, progress=False)
    assert resumed.summary["metrics"] == whole.summary["metrics"]


def test_stale_temporary_files_are_removed(tmp_path, monkeypatch):
    run = _interrupted_run(tmp_path, monkeypatch, n=5)
    stale = [run / ".checkpoint.pt.abc123.tmp", run / ".metrics.csv.x.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    train(load_config(run / "config.yaml"), resume=True, progress=False)
    assert not any(p.exists() for p in stale)
    assert not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))


def test_checkpoint_of_another_kind_is_one_line(tmp_path, monkeypatch, capsys):
    import torch
    run = _interrupted_run(tmp_path, monkeypatch, n=5)
    torch.save({"model": {}, "epoch": 1}, run / "checkpoint.pt")
    one_line_error(capsys, main(["train", str(run), "--resume", "--quiet"]), "checkpoint.pt", "optimizer")
    (run / "checkpoint.pt").write_bytes(b"")
    one_line_error(capsys, main(["train", str(run), "--resume", "--quiet"]), "checkpoint.pt", "empty")


def test_summary_that_is_not_an_object(tmp_path):
    from nnstudy.runs import RunDir
    (tmp_path / "summary.json").write_text("[1, 2]")
    with pytest.raises(RunDirError, match="not a JSON object"):
        RunDir(tmp_path).summary()


# ---------------------------------------------------------------------------------------------- study exits

def test_study_with_failed_runs_exits_3_and_says_how_many(tmp_path, capsys):
    study = _study(tmp_path, ablate={"optim.lr": [1e12]})
    rc = main(["run", str(study), "--out", str(tmp_path / "studies"), "--quiet"])
    captured = capsys.readouterr()
    assert rc == 3, captured.err
    assert "2 of 4 runs failed" in captured.err
    rc = main(["run", str(study), "--out", str(tmp_path / "studies"), "--quiet", "--resume"])
    assert rc == 3 and "2 of 4 runs failed" in capsys.readouterr().err


def test_study_that_cannot_start_fails_before_its_first_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "empty-data-root"))
    study = _study(tmp_path, base={"model": {"name": "mlp3"}, "data": {"name": "cifar10"}})
    rc = main(["run", str(study), "--out", str(tmp_path / "studies"), "--quiet"])
    one_line_error(capsys, rc, "cifar10", "nnstudy data")
    assert not (tmp_path / "studies" / "toy").exists()         # nothing written: the same command runs once fixed


def test_retry_failed_continues_from_the_last_checkpoint(tmp_path, monkeypatch):
    from nnstudy.study import load_study_spec, run_study
    study = _study(tmp_path, seeds=[0], base={"model": {"name": "tutorial_cnn"}, "data": {"name": "toy-images"},
                                              "optim": {"lr": 0.05},
                                              "train": {"epochs": 2, "batch_size": 16, "threads": 1}})
    spec, out = load_study_spec(study), tmp_path / "studies"
    real = loop._Trainer._end_epoch

    def broken_second_epoch(self):
        if self.epoch == 1:
            raise RuntimeError("a bug in epoch 2")
        real(self)

    with monkeypatch.context() as m:
        m.setattr(loop._Trainer, "_end_epoch", broken_second_epoch)
        first = run_study(spec, out_dir=out, progress=False)
    assert [r.status for r in first.results] == ["failed"] and first.failed == 1
    run = out / "toy" / "runs" / "base__s0"
    assert loop.load_checkpoint(run / "checkpoint.pt")["epoch"] == 1      # epoch 1 was kept
    again = run_study(spec, out_dir=out, resume=True, retry_failed=True, progress=False)
    summary = json.loads((run / "summary.json").read_text())
    assert [r.status for r in again.results] == ["finished"] and summary["attempts"] == 2
    whole = train(load_config(run / "config.yaml", [f"out_dir={tmp_path / 'whole'}"]), progress=False)
    assert summary["metrics"] == whole.summary["metrics"]


def test_out_dir_that_cannot_hold_a_run_is_one_line(tmp_path, capsys):
    afile = tmp_path / "a-file"
    afile.write_text("not a folder")
    rc = main(["train", "tutorial_cnn", *TOY, f"out_dir={afile}", "name=r", "--quiet"])
    one_line_error(capsys, rc, "cannot create the run directory there (Not a directory")
    rc = main(["run", str(_study(tmp_path)), "--out", str(afile), "--quiet"])
    one_line_error(capsys, rc, "cannot create the study directory there")


def test_report_names_the_run_files_it_could_not_read(tmp_path):
    from nnstudy.report import build_report
    from nnstudy.study import load_study_spec, run_study
    outcome = run_study(load_study_spec(_study(tmp_path)), out_dir=tmp_path / "studies", progress=False)
    runs = outcome.study_dir / "runs"
    (runs / "base__s0" / "predictions.safetensors").write_bytes(os.urandom(100))
    (runs / "base__s1" / "metrics.csv").write_bytes(b"\xff\xfe garbage")
    md = build_report(outcome.study_dir)["report.md"].read_text(encoding="utf-8")
    assert "metrics.csv: unreadable, left out of the curves" in md
    assert "predictions.safetensors: unreadable, left out of the figures" in md


@pytest.mark.parametrize("override, needle", [
    ("model.num_classes=3", "gives outputs of shape (3,) per sample; the data has 4 classes"),
    ("model.input_shape=[3,8,8]", "does not fit dataset 'toy-images' (inputs (3, 16, 16), 4 classes)"),
])
def test_a_model_that_does_not_fit_the_data_is_one_line(tmp_path, capsys, override, needle):
    rc = main(["train", "mlp3", *TOY, f"out_dir={tmp_path}", "--quiet", override])
    one_line_error(capsys, rc, needle)
    assert not any(tmp_path.iterdir())
