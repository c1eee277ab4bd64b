"""Bad files a user may hand nnstudy: every one is a one-line error (or, for a study's runs, a row that says what
is wrong), never a traceback, and never the advice to load a file unsafely."""
from __future__ import annotations

import importlib
import io
import json
import pickle
import re
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import save, save_file

from nnstudy.engine.checkpoint import (
    error_reason,
    fit_optimizer_state,
    fit_state_dict,
    load_checkpoint,
    load_weights,
    read_state_dict,
    save_checkpoint,
)
from nnstudy.errors import MESSAGE_LIMIT, CheckpointError, RunDirError
from nnstudy.models import build_model

# a raw pickle (protocol 4) is refused anyway; torch warns about the protocol on the way
pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol")

UNSAFE_ADVICE = ("weights_only=false", "weights_only set to false", "weights_only` set to `false")
RESUME_KEYS = ("model", "optimizer", "scheduler", "epoch", "step")


class Custom:
    """A class a pickle may hold: never loaded (weights_only=True)."""

    def __init__(self) -> None:
        self.payload = [1, 2, 3]


def _assert_one_line(message: str, *needles: str) -> None:
    assert "\n" not in message and "\r" not in message, message
    assert len(message) < MESSAGE_LIMIT, message
    assert "Traceback" not in message
    assert not any(advice in message.lower() for advice in UNSAFE_ADVICE), message
    for needle in needles:
        assert needle in message, message


# ------------------------------------------------------------------------------------------- checkpoint files

def _safetensors_bytes() -> bytes:
    return save({"w": torch.arange(64, dtype=torch.float32)})


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes/readme.txt", "not a model")
    return buf.getvalue()


# name -> (file name, bytes, words the message must contain)
BAD_FILES = {
    "empty": ("w.pt", lambda: b"", "empty file"),
    "random": ("w.pt", lambda: np.random.default_rng(0).bytes(4096),
               "not a torch checkpoint (random or corrupt bytes)"),
    "text": ("w.pt", lambda: b"hello, I am a text file\n" * 20, "not a torch checkpoint"),
    "zip": ("w.pt", _zip_bytes, "a zip archive that is not a torch file"),
    "truncated-torch": ("w.pt", lambda: _torch_bytes({"w": torch.zeros(1000)})[:1500], "truncated or corrupt zip"),
    "pickle-of-class": ("w.pt", lambda: pickle.dumps(Custom()), "a pickle with objects other than tensors"),
    "torch-file-of-class": ("w.pt", lambda: _torch_bytes({"w": torch.zeros(2), "obj": Custom()}),
                            "a pickle with objects other than tensors"),
    "safetensors-empty": ("w.safetensors", lambda: b"", "empty file"),
    "safetensors-truncated": ("w.safetensors", lambda: _safetensors_bytes()[:-40], "not a readable safetensors file"),
    "safetensors-bad-header": ("w.safetensors", lambda: _safetensors_bytes()[:8] + b"{not json" +
                               _safetensors_bytes()[17:], "not a readable safetensors file"),
    "safetensors-random": ("w.safetensors", lambda: np.random.default_rng(1).bytes(1000),
                           "not a readable safetensors file"),
}


@pytest.fixture(params=sorted(BAD_FILES))
def bad_file(request, tmp_path) -> tuple[Path, str]:
    name, make, needle = BAD_FILES[request.param]
    path = tmp_path / request.param / name
    path.parent.mkdir()
    path.write_bytes(make())
    return path, needle


@pytest.mark.parametrize("loader", ["read_state_dict", "load_weights", "load_checkpoint"])
def test_bad_checkpoint_file_is_one_line(bad_file, loader):
    path, needle = bad_file
    load = {"read_state_dict": read_state_dict, "load_checkpoint": lambda p: load_checkpoint(p, RESUME_KEYS),
            "load_weights": lambda p: load_weights(build_model("mlp3"), p)}[loader]
    with pytest.raises(CheckpointError) as info:
        load(path)
    _assert_one_line(str(info.value), str(path), needle)
    if "class" in path.parent.name:      # the refused class is named, and loading it ran nothing of it
        assert "Custom" in str(info.value) and "only tensors and plain containers" in str(info.value)


def test_error_reason_never_indexes_an_empty_message():
    assert error_reason(EOFError()) and "\n" not in error_reason(EOFError())
    assert error_reason(RuntimeError("")) == "RuntimeError"
    assert error_reason(RuntimeError("\n\n  \n")) == "RuntimeError"
    assert error_reason(KeyError(101)) == "KeyError: 101"
    assert error_reason(ValueError("first\nsecond")) == "first"
    assert "weights_only" not in error_reason(pickle.UnpicklingError(
        "Weights only load failed. Re-running `torch.load` with `weights_only` set to `False` will likely succeed"))
    assert len(error_reason(ValueError("x" * 5000))) <= 200


def test_checkpoint_without_required_keys(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"model": build_model("mlp3").state_dict(), "epoch": 3})
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, required=RESUME_KEYS)
    _assert_one_line(str(info.value), str(path), "optimizer", "scheduler", "step", "delete it")
    assert "'model'" not in str(info.value) and "epoch" not in str(info.value).split("(")[-1]
    assert load_checkpoint(path, required=("model", "epoch"))["epoch"] == 3      # what is there loads
    assert load_checkpoint(path)["epoch"] == 3                                   # nothing required: as before

    listed = tmp_path / "list.pt"
    torch.save([1, 2, 3], listed)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(listed, required=RESUME_KEYS)
    _assert_one_line(str(info.value), "not a training checkpoint", "list")
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "absent.pt")


def test_state_dict_of_another_architecture(tmp_path):
    """What resume does with a checkpoint of another model: one line naming the keys, the model left as it was."""
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"model": build_model("mlp2").state_dict(), "optimizer": {}, "scheduler": {},
                           "epoch": 1, "step": 10})
    state = load_checkpoint(path, required=RESUME_KEYS)
    model = build_model("mlp3")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError) as info:
        fit_state_dict(model, state["model"], path)
    _assert_one_line(str(info.value), f"{path}: does not fit {type(model).__name__}")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())

    with pytest.raises(CheckpointError, match=r"shape mismatch 2 \(5\.weight \(100, 84\) vs model \(10, 84\)") as info:
        fit_state_dict(model, build_model("mlp3", num_classes=100).state_dict(), path)
    _assert_one_line(str(info.value))
    with pytest.raises(CheckpointError, match="not a state_dict"):
        fit_state_dict(model, [1, 2], path)
    with pytest.raises(CheckpointError, match="not tensors"):
        fit_state_dict(model, {k: 0 for k in before}, path)

    fit_state_dict(model, build_model("mlp3").state_dict(), path)             # a fitting one loads


def test_load_weights_reports_by_name_through_fit_state_dict(tmp_path):
    path = tmp_path / "mlp2.safetensors"
    save_file({k: v.contiguous() for k, v in build_model("mlp2").state_dict().items()}, str(path))
    with pytest.raises(CheckpointError) as info:
        load_weights(build_model("mlp3"), path)
    _assert_one_line(str(info.value), "does not fit MLP", "missing 2", "shape mismatch 2")


def test_optimizer_state_of_another_model(tmp_path):
    path = tmp_path / "checkpoint.pt"
    other = torch.optim.SGD(build_model("mlp2").parameters(), lr=0.1, momentum=0.9)
    mine = torch.optim.SGD(build_model("mlp3").parameters(), lr=0.1, momentum=0.9)
    for state, needle in ((other.state_dict(), "parameter group"), ({"state": {}}, "param_groups"),
                          ({"state": {}, "param_groups": []}, "parameter groups"), ("text", "not a state dict")):
        with pytest.raises(CheckpointError) as info:
            fit_optimizer_state(mine, state, path)
        _assert_one_line(str(info.value), f"{path}: optimizer state does not fit SGD", needle)
    same = torch.optim.SGD(build_model("mlp3").parameters(), lr=0.5, momentum=0.9)
    fit_optimizer_state(mine, same.state_dict(), path)
    assert mine.param_groups[0]["lr"] == 0.5


# ----------------------------------------------------------------------------------------------- command line

@pytest.mark.parametrize("kind", ["empty", "random", "zip", "pickle-of-class", "safetensors-truncated",
                                  "other-architecture"])
def test_eval_with_bad_weights_is_one_line(kind, tmp_path, capsys):
    from nnstudy.cli import main
    if kind == "other-architecture":
        bad = tmp_path / "mlp2.pt"
        torch.save(build_model("mlp2").state_dict(), bad)
    else:
        name, make, _ = BAD_FILES[kind]
        bad = tmp_path / name
        bad.write_bytes(make())
    rc = main(["eval", "--model", "mlp3", "--weights", str(bad), "data.name=cifar10-sample"])
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    _assert_one_line(lines[0], "nnstudy eval: error:", bad.name)


# ------------------------------------------------------------------------------------------------- peak memory

@pytest.fixture
def memory_without_resource(monkeypatch):
    """nnstudy.measure.memory imported where the Unix-only `resource` module does not exist (Windows)."""
    from nnstudy.measure import memory
    monkeypatch.setitem(sys.modules, "resource", None)      # `import resource` raises ImportError
    try:
        yield importlib.reload(memory)
    finally:
        monkeypatch.undo()
        importlib.reload(memory)


def test_memory_imports_without_resource(memory_without_resource, monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)
    assert memory_without_resource.peak_memory_mb() == {"peak_rss_mb": None}
    peak = types.SimpleNamespace(peak_wset=3 * 2**30)
    fake = types.SimpleNamespace(Process=lambda: types.SimpleNamespace(memory_info=lambda: peak))
    monkeypatch.setitem(sys.modules, "psutil", fake)         # Windows: psutil's peak working set
    assert memory_without_resource.peak_memory_mb() == {"peak_rss_mb": 3072.0}


@pytest.mark.skipif(sys.platform == "win32", reason="getrusage is Unix only")
def test_memory_on_unix_is_getrusage():
    import resource

    from nnstudy.measure import peak_memory_mb
    scale = 2**20 if sys.platform == "darwin" else 2**10
    low = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    value = peak_memory_mb()["peak_rss_mb"]
    high = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    assert round(low, 1) <= value <= round(high, 1)


# ------------------------------------------------------------------------------------------ study directories

GOOD = {"status": "finished", "model": "mlp3", "task": "classification", "selected_epoch": 2,
        "metrics": {"test_acc": 0.5, "test_loss": 1.2}, "params": 1000,
        "compute": {"params": 1000, "macs": 2000}, "time": {"train_seconds": 1.0, "eval_seconds": 0.1},
        "memory": {"peak_rss_mb": 100.0}, "data": {"train": 10, "val": 2, "test": 5, "info": {}},
        "attempts": 1, "environment": {"cpu": "Test CPU", "torch": "2.x"}}

# variant -> summary.json text, and what its error must say
BAD_SUMMARIES = {
    "list": ("[]", "not a JSON object"),
    "string": ('"x"', "not a JSON object"),
    "number": ("3", "not a JSON object"),
    "invalid-json": ('{"status": "finished", ', "not valid JSON"),
    "metrics-list": (json.dumps({**GOOD, "metrics": [1, 2]}), "'metrics' is not a JSON object"),
    "time-string": (json.dumps({**GOOD, "time": "fast"}), "'time' is not a JSON object"),
    "memory-number": (json.dumps({**GOOD, "memory": 3}), "'memory' is not a JSON object"),
    "compute-list": (json.dumps({**GOOD, "compute": [1]}), "'compute' is not a JSON object"),
    "environment-string": (json.dumps({**GOOD, "environment": "laptop"}), "'environment' is not a JSON object"),
    "data-info-list": (json.dumps({**GOOD, "data": {"info": [1]}}), "'data.info' is not a JSON object"),
    "epoch-string": (json.dumps({**GOOD, "selected_epoch": "two"}), "'selected_epoch' is not a number"),
    "status-list": (json.dumps({**GOOD, "status": ["finished"]}), "'status' is not a string"),
}


def _study(root: Path, variants: dict[str, list[str | None]], **extra) -> Path:
    """A study directory; variants[name][seed] is that run's summary.json text (None: no summary yet)."""
    seeds = list(range(max(len(v) for v in variants.values())))
    study = {"name": "bad-files", "mode": "quick", "seeds": seeds, "baseline": next(iter(variants)),
             "variants": [{"name": n, "overrides": {}} for n in variants],
             "report": {"metric": "test_acc", "mode": "max", "metrics": ["test_acc"]}, **extra}
    root.mkdir(parents=True)
    (root / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    from nnstudy.study.spec import run_name
    for name, summaries in variants.items():
        for seed, text in enumerate(summaries):
            run = root / "runs" / run_name(name, seed)
            run.mkdir(parents=True)
            (run / "config.yaml").write_text("name: x\n", encoding="utf-8")
            (run / "metrics.csv").write_text("epoch,train_loss,val_loss,val_acc\n1,2.0,2.1,0.3\n2,1.5,1.8,0.4\n",
                                             encoding="utf-8")
            if text is not None:
                (run / "summary.json").write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def corrupt_study(tmp_path_factory) -> Path:
    good = json.dumps(GOOD)
    return _study(tmp_path_factory.mktemp("corrupt") / "study",
                  {"base": [good, good], **{name: [text, good] for name, (text, _) in BAD_SUMMARIES.items()}})


def test_corrupt_summaries_are_listed_not_fatal(corrupt_study):
    from nnstudy.study.results import aggregate, collect_runs, read_study
    from nnstudy.study.tables import summary_table
    runs = collect_runs(corrupt_study).set_index(["variant", "seed"])
    for name, (_, needle) in BAD_SUMMARIES.items():
        row = runs.loc[(name, 0)]
        assert row["status"] == "corrupt", name
        _assert_one_line(str(row["error"]), "summary.json", needle)
        assert runs.loc[(name, 1), "status"] == "finished"
    assert (runs.loc["base", "status"] == "finished").all()
    study = read_study(corrupt_study)
    table = summary_table(aggregate(collect_runs(corrupt_study), study), study).set_index("variant")
    assert table.loc["list", "n"] == "1 (1 corrupt)"


def test_report_builds_with_corrupt_summaries(corrupt_study):
    from nnstudy.report import build_report
    built = build_report(corrupt_study)
    md = built["report.md"].read_text(encoding="utf-8")
    html = built["report.html"].read_text(encoding="utf-8")
    for text in (md, html):
        assert "corrupt" in text and "not a JSON object" in text and "&#x27;metrics&#x27;" in html


def test_read_study_bad_files_are_one_line(tmp_path):
    from nnstudy.study.results import read_study
    cases = {
        "latin-1": "name: caf\xe9\n".encode("latin-1"),
        "binary": np.random.default_rng(2).bytes(300),
        "not-a-mapping": b"- 1\n- 2\n",
        "metrics-string": yaml.safe_dump({"variants": [{"name": "a"}], "seeds": [0], "baseline": "a",
                                          "report": {"metric": "acc", "metrics": "acc"}}).encode(),
        "reference-list": yaml.safe_dump({"variants": [{"name": "a"}], "seeds": [0], "baseline": "a",
                                          "report": {"metric": "acc", "reference": [1]}}).encode(),
        "baseline-list": yaml.safe_dump({"variants": [{"name": "a"}], "seeds": [0], "baseline": ["a"],
                                         "report": {"metric": "acc"}}).encode(),
    }
    for name, data in cases.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "study.yaml").write_bytes(data)
        with pytest.raises(RunDirError) as info:
            read_study(tmp_path / name)
        _assert_one_line(str(info.value), "study.yaml")
    with pytest.raises(RunDirError, match="not a UTF-8 text file"):
        read_study(tmp_path / "latin-1")


# --------------------------------------------------------------------------------------- hostile names in HTML

HOSTILE_VARIANT = "<img src=x onerror=alert(1)>"
SHELL_VARIANT = "$(rm -rf ~)"
MATH_VARIANT = r"$\frac$ {x}"             # paired $: matplotlib would parse it as mathtext and fail
HOSTILE_ERROR = "<script>alert('error')</script> & <img src=y onerror=alert(2)>"
HOSTILE_NOTES = "<b onmouseover=alert(3)>notes</b>"


REPORT_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "p", "div", "strong",
               "code", "a", "nav", "ul", "li", "table", "thead", "tbody", "tr", "th", "td", "figure", "img",
               "figcaption", "pre"}


def _tags(text: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every start tag of an HTML document with its attributes, as a browser's tokenizer sees them."""
    from html.parser import HTMLParser
    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collect().feed(text)
    return found


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory) -> dict[str, Path]:
    from nnstudy.report import build_report
    good = json.dumps({**GOOD, "environment": {"cpu": "<script>cpu()</script>", "torch": "2.x"}})
    failed = json.dumps({"status": "failed", "error": HOSTILE_ERROR, "attempts": 1})
    root = _study(tmp_path_factory.mktemp("hostile") / "study",
                  {"base": [good, good], HOSTILE_VARIANT: [good, failed], SHELL_VARIANT: [good, good],
                   MATH_VARIANT: [good, None]},
                  description="<iframe src=//evil>", )
    study = yaml.safe_load((root / "study.yaml").read_text(encoding="utf-8"))
    study["report"].update(notes=HOSTILE_NOTES, reference={HOSTILE_VARIANT: {"test_acc": "<img src=z>"}},
                           reference_source="<script>src()</script>")
    (root / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    return build_report(root)


def test_html_escapes_names_errors_and_notes(hostile_report):
    text = hostile_report["report.html"].read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    assert "<iframe" not in text.lower() and "<b onmouseover" not in text
    # the tags are the report's own: no event handler, no script, images only the embedded figures
    tags = _tags(text)
    assert {t for t, _ in tags} <= REPORT_TAGS, {t for t, _ in tags} - REPORT_TAGS
    assert not [(t, a) for t, attrs in tags for a, _ in attrs if a.lower().startswith("on")]
    images = [dict(attrs)["src"] for t, attrs in tags if t == "img"]
    assert images and all(src.startswith("data:image/png;base64,") for src in images)
    assert all(dict(attrs).get("href", "#").startswith(("#", "runs/", "results.", "summary."))
               for t, attrs in tags if t == "a")
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&lt;script&gt;alert(&#x27;error&#x27;)&lt;/script&gt; &amp; &lt;img src=y onerror=alert(2)&gt;" in text
    assert "&lt;b onmouseover=alert(3)&gt;notes&lt;/b&gt;" in text
    assert SHELL_VARIANT in text                       # shown as it is: nothing in a report runs it


def test_markdown_escapes_names_and_errors(hostile_report):
    md = hostile_report["report.md"].read_text(encoding="utf-8")
    outside_code = re.sub(r"(`+).*?\1", "", md)       # code spans show text literally
    assert "<img" not in outside_code and "<script" not in outside_code.lower()
    assert "<iframe" not in outside_code and "<b " not in outside_code


def test_figures_of_dollar_names_are_drawn(hostile_report):
    md = hostile_report["report.md"].read_text(encoding="utf-8")
    assert "not drawn" not in md, [line for line in md.splitlines() if "not drawn" in line]
    assert sum(k.startswith("figures/curves_") for k in hostile_report) == 4
