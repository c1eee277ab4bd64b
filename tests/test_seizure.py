"""Epileptic Seizure Recognition: the reader's checks, segment and row splits, standardisation, sample, store."""
from __future__ import annotations

import gzip
import importlib.util
import inspect
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from nnstudy.data import DATASETS, build_dataset, store
from nnstudy.data import seizure as sz
from nnstudy.errors import ConfigError, DataError
from nnstudy.models import build_model

REPO = Path(__file__).resolve().parents[1]
REAL = REPO / ".." / "shared" / "data" / "epileptic_seizure" / "Epileptic_Seizure_Recognition.csv.gz"


# --------------------------------------------------------------------------------------------- fixtures

def rows(segments: int = 4, chunks: int = 3, seed: int = 0) -> list[tuple[str, list[int], int]]:
    """(id, 178 samples, y) for `segments` per class of `chunks` each, shuffled as the real file is."""
    rng = np.random.default_rng(seed)
    out = [(f"X{k}.V{y}.{s}", rng.integers(-500, 500, sz.SAMPLES).tolist(), y)
           for y in range(1, 6) for s in range(segments) for k in range(1, chunks + 1)]
    return [out[i] for i in rng.permutation(len(out))]


def write(path: Path, data: list[tuple[str, list[int], int]], *, id_header: str | None = "Unnamed",
          eol: str = "\n") -> Path:
    """A CSV like the Kaggle file (id_header "Unnamed"), the UCI one ("") or a copy without ids (None);
    gzipped when the name ends in .gz."""
    head = ([id_header] if id_header is not None else []) + list(sz.COLUMNS) + ["y"]
    lines = [",".join(head)] + [",".join(([rid] if id_header is not None else []) + [str(v) for v in x] + [str(y)])
                                for rid, x, y in data]
    raw = (eol.join(lines) + eol).encode()
    path.write_bytes(gzip.compress(raw) if path.name.endswith(".gz") else raw)
    return path


def edit(path: Path, line: int, change) -> Path:
    """Apply `change` to the list of fields on 1-based `line` of a plain CSV."""
    lines = path.read_text().split("\n")
    fields = lines[line - 1].split(",")
    change(fields)
    lines[line - 1] = ",".join(fields)
    path.write_text("\n".join(lines))
    return path


def setter(index: int, value: str):
    def change(fields: list[str]) -> None:
        fields[index] = value
    return change


# ---------------------------------------------------------------------------------------------- reading

@pytest.mark.parametrize("name", ["s.csv", "s.csv.gz"])
@pytest.mark.parametrize("id_header", ["Unnamed", "", None])
def test_header_variants_and_compression_parse_the_same(tmp_path, name, id_header):
    data = rows()
    t = sz.read_seizure(write(tmp_path / name, data, id_header=id_header, eol="\r\n"))
    assert t.x.shape == (60, 178) and t.x.dtype == np.float64 and t.id_header == id_header
    assert t.y.tolist() == [y for _, _, y in data]
    assert t.x[3].tolist() == data[3][1]
    if id_header is None:
        assert t.ids is None and t.segment is None
    else:
        assert t.ids.tolist() == [r for r, _, _ in data]
        assert len(t.segment_ids) == 20 and np.bincount(t.segment).tolist() == [3] * 20
        assert t.segment_ids[t.segment[0]] == data[0][0].split(".", 1)[1]


def test_checksums_ignore_order_format_and_the_id_header(tmp_path):
    data = rows()
    kaggle = sz.read_seizure(write(tmp_path / "a.csv.gz", data))
    uci = sz.read_seizure(write(tmp_path / "b.csv", data[::-1], id_header="", eol="\r\n"))
    bare = sz.read_seizure(write(tmp_path / "c.csv", data[1:] + data[:1], id_header=None))
    assert sz.content_sha256(kaggle.ids, kaggle.x, kaggle.y) == sz.content_sha256(uci.ids, uci.x, uci.y)
    assert sz.values_sha256(kaggle.x, kaggle.y) == sz.values_sha256(bare.x, bare.y)
    changed = kaggle.x.copy()
    changed[0, 0] += 1
    assert sz.values_sha256(changed, kaggle.y) != sz.values_sha256(kaggle.x, kaggle.y)


@pytest.mark.parametrize("change,match", [
    (setter(-1, "6"), r"line 4: y is '6', not a class label 1..5"),
    (setter(-1, "0"), r"line 4: y is '0', not a class label"),
    (setter(-1, "1.5"), r"line 4: y is '1.5', not a class label"),
    (setter(-1, "one"), r"line 4: y is 'one', not a number"),
    (lambda f: f.insert(5, "7"), r"line 4: 181 fields, expected 180 \(id,X1..X178,y"),
    (lambda f: f.pop(5), r"line 4: 179 fields, expected 180"),
    (setter(1, "abc"), r"line 4: X1 is 'abc', not a number"),
    (setter(5, ""), r"line 4: X5 is '', not a number"),
    (setter(178, "nan"), r"line 4: X178 is 'nan', not a number"),
    (setter(178, "inf"), r"line 4: X178 is 'inf', not a number"),
    (setter(0, "chunk3"), r"line 4: id 'chunk3' is not X<chunk>.<segment>"),
    (setter(0, "X1.V1.0"), r"line 4: id 'X1.V1.0' repeats line 2"),
    (setter(-1, "2"), r"line 4: segment 'V1.0' has y=2 here but y=1 on line 2"),
])
def test_malformed_rows_raise_data_error_naming_file_and_line(tmp_path, change, match):
    # Sorted by (y, segment, id): lines 2-4 are chunks 1-3 of segment V1.0 (y=1); the change hits line 4.
    path = write(tmp_path / "bad.csv", sorted(rows(), key=lambda r: (r[2], r[0].split(".", 1)[1], r[0])))
    assert path.read_text().split("\n")[3].startswith("X3.V1.0,")
    with pytest.raises(DataError, match=rf"bad\.csv: {match}"):
        sz.read_seizure(edit(path, 4, change))


@pytest.mark.parametrize("header,match", [
    ("Unnamed,X1,X2,y", r"line 1: header 'Unnamed,X1,X2,y', expected \[id,\]X1,...,X178,y"),
    ("id," + ",".join(sz.COLUMNS) + ",label", r"line 1: header"),
    ("a,b," + ",".join(sz.COLUMNS) + ",y", r"line 1: header"),
])
def test_wrong_header(tmp_path, header, match):
    path = write(tmp_path / "h.csv", rows(1, 1))
    lines = path.read_text().split("\n")
    path.write_text("\n".join([header] + lines[1:]))
    with pytest.raises(DataError, match=rf"h\.csv: {match}"):
        sz.read_seizure(path)


def test_unreadable_inputs(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        sz.read_seizure(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(DataError, match="empty.csv: empty file"):
        sz.read_seizure(tmp_path / "empty.csv")
    (tmp_path / "head.csv").write_text(",".join(sz.COLUMNS) + ",y\n\n")
    with pytest.raises(DataError, match="head.csv: no data rows"):
        sz.read_seizure(tmp_path / "head.csv")
    (tmp_path / "cut.csv.gz").write_bytes(gzip.compress(np.random.default_rng(0).bytes(1000))[:500])
    with pytest.raises(DataError, match="cut.csv.gz: not a readable gzip"):
        sz.read_seizure(tmp_path / "cut.csv.gz")
    (tmp_path / "latin.csv").write_bytes("Unnamed\xe9".encode("latin-1"))
    with pytest.raises(DataError, match="latin.csv: not a UTF-8"):
        sz.read_seizure(tmp_path / "latin.csv")


def test_zip_and_folder_inputs(tmp_path):
    (tmp_path / "src").mkdir()
    csv = write(tmp_path / "src" / "Epileptic Seizure Recognition.csv", rows())
    with zipfile.ZipFile(tmp_path / "download.zip", "w") as zf:
        zf.write(csv, "data.csv")
    assert len(sz.read_seizure(tmp_path / "download.zip").y) == 60
    assert len(sz.read_seizure(tmp_path / "src").y) == 60                  # a folder holding one CSV
    write(tmp_path / "src" / "other.csv.gz", rows())
    with pytest.raises(DataError, match="src: holds 2 CSV files"):
        sz.read_seizure(tmp_path / "src")
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as zf:
        zf.writestr("a.csv", "x")
        zf.writestr("b.csv", "y")
    with pytest.raises(DataError, match="two.zip: the zip holds 2 CSV files"):
        sz.read_seizure(tmp_path / "two.zip")


# ----------------------------------------------------------------------------------------------- splits

def build(path: Path, **kw) -> object:
    return build_dataset("seizure", path=str(path), **kw)


def test_segment_split_keeps_each_segment_in_one_split_and_is_stratified(tmp_path):
    path = write(tmp_path / "s.csv", rows(segments=20, chunks=3))   # 100 segments, 300 rows
    d = build(path)
    assert (d.info.input_shape, d.info.num_classes, d.info.class_names) == ((178,), 5, list(sz.CLASSES))
    seg = {k: set(s.groups.tolist()) for k, s in (("train", d.train), ("val", d.val), ("test", d.test))}
    assert not (seg["train"] & seg["val"] or seg["train"] & seg["test"] or seg["val"] & seg["test"])
    assert len(seg["train"] | seg["val"] | seg["test"]) == 100
    e = d.info.extra
    # Each class's 20 segments: round(0.15·20) = 3 to test, 3 to validation, 14 to training; 3 chunks each.
    assert e["per_class"] == {"train": [42] * 5, "val": [9] * 5, "test": [9] * 5}
    assert e["sizes"] == {"train": 210, "val": 45, "test": 45}
    assert e["segments"] == {"total": 100, "train": 70, "val": 15, "test": 15, "in_two_splits": 0}
    assert (e["split"], e["val_fraction"], e["test_fraction"], e["split_seed"]) == ("segment", 0.15, 0.15, 0)
    assert d.train.inputs.dtype == torch.float32 and d.train.inputs.shape == (210, 178)
    assert d.train.targets.dtype == torch.int64 and set(d.train.targets.tolist()) == {0, 1, 2, 3, 4}
    # Every chunk of a segment is in the split of its segment: 3 rows per segment everywhere.
    for s in (d.train, d.val, d.test):
        assert set(torch.bincount(s.groups).tolist()) <= {0, 3}


def test_row_split_spreads_segments_over_splits(tmp_path):
    path = write(tmp_path / "s.csv", rows(segments=20, chunks=3))
    e = build(path, split="row").info.extra
    assert e["per_class"] == {"train": [42] * 5, "val": [9] * 5, "test": [9] * 5}   # 60 rows/class: 9, 9, 42
    assert e["segments"]["in_two_splits"] > 30                    # the leak the segment split avoids
    # Without ids only the row split is possible.
    bare = write(tmp_path / "bare.csv", rows(segments=20, chunks=3), id_header=None)
    with pytest.raises(DataError, match="bare.csv: has no id column.*data.split=row"):
        build(bare)
    d = build(bare, split="row")
    assert d.train.groups is None and d.info.extra["segments"] is None and len(d.test) == 45


@pytest.mark.parametrize("split", ["segment", "row"])
def test_split_is_determined_by_split_seed(tmp_path, split):
    path = write(tmp_path / "s.csv", rows(segments=20, chunks=3))
    a, b, c = (build(path, split=split, split_seed=s) for s in (0, 0, 1))
    assert torch.equal(a.test.inputs, b.test.inputs) and torch.equal(a.train.groups, b.train.groups)
    assert not torch.equal(a.test.groups, c.test.groups)
    assert a.info.extra["per_class"] == c.info.extra["per_class"]


def test_standardisation_uses_training_rows_only(tmp_path):
    path = write(tmp_path / "s.csv", rows(segments=20, chunks=3))
    raw, std = build(path, standardize=False), build(path)
    x = raw.train.inputs.double()
    m, s = (torch.tensor(std.info.extra[k], dtype=torch.float64) for k in ("mean", "std"))
    assert torch.allclose(m, x.mean(0)) and torch.allclose(s, x.std(0, unbiased=False))
    z = std.train.inputs.double()
    assert torch.allclose(z.mean(0), torch.zeros(178, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(z.std(0, unbiased=False), torch.ones(178, dtype=torch.float64), atol=1e-5)
    # Validation and test rows are scaled with the training statistics, not their own.
    assert torch.allclose(std.test.inputs.double(), (raw.test.inputs.double() - m) / s, atol=1e-5)
    assert not torch.allclose(std.test.inputs.double().mean(0), torch.zeros(178, dtype=torch.float64), atol=1e-3)
    assert "training rows only" in std.info.extra["standardization"]
    assert "mean" not in raw.info.extra and raw.train.inputs.abs().max() > 100    # raw integer samples


def test_subset_is_stratified_and_seeded(tmp_path):
    path = write(tmp_path / "s.csv", rows(segments=20, chunks=3))
    a, b = build(path, subset=50), build(path, subset=50)
    assert len(a.train) == 50 and torch.bincount(a.train.targets).tolist() == [10] * 5
    assert torch.equal(a.train.inputs, b.train.inputs)
    assert len(a.test) == 45                                        # subset touches training rows only


def test_builders_are_typed_keyword_only_with_the_same_options():
    sigs = {n: inspect.signature(DATASETS.get(n).builder, eval_str=True) for n in ("seizure", "seizure-sample")}
    for sig in sigs.values():
        assert all(p.kind is p.KEYWORD_ONLY and p.annotation is not p.empty for p in sig.parameters.values())
    assert list(sigs["seizure"].parameters) == ["path", *sigs["seizure-sample"].parameters]
    assert {k: p.default for k, p in sigs["seizure-sample"].parameters.items()} == {
        "val_fraction": 0.15, "test_fraction": 0.15, "split": "segment", "split_seed": 0, "standardize": True,
        "subset": None}


@pytest.mark.parametrize("kwargs,error,match", [
    ({"test_fraction": 0.0}, ValueError, "test_fraction must be in"),
    ({"val_fraction": -0.1}, ValueError, "val_fraction must be in"),
    ({"val_fraction": 0.5, "test_fraction": 0.5}, ValueError, "must be below 1"),
    ({"split": "chunk"}, ValueError, "split must be one of segment, row"),
    ({"subset": 0}, ValueError, "subset must be a positive"),
    ({"subset": 10_000}, ValueError, "exceeds the 690 training rows"),
    ({"test_fraction": 0.01}, ValueError, "class 0 .seizure. has 10 segments: too few"),
    ({"splitt": "row"}, ConfigError, "splitt"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        build_dataset("seizure-sample", **kwargs)


def test_constant_feature_cannot_be_standardised(tmp_path):
    data = [(rid, [7] + x[1:], y) for rid, x, y in rows(segments=20, chunks=3)]
    path = write(tmp_path / "s.csv", data)
    with pytest.raises(ValueError, match="X1 is constant on the 210 training rows"):
        build(path)
    assert build(path, standardize=False).train.inputs[:, 0].eq(7).all()


def test_val_fraction_zero_gives_no_validation_split(tmp_path):
    d = build(write(tmp_path / "s.csv", rows(segments=20, chunks=3)), val_fraction=0.0)
    assert d.val is None and len(d.train) == 255 and d.info.extra["sizes"]["val"] == 0


# ----------------------------------------------------------------------------------------------- sample

def test_sample_holds_ten_whole_segments_per_class():
    t = sz.read_seizure(sz.sample_file())
    assert len(t.y) == 1150 and t.id_header == "Unnamed"
    assert np.bincount(t.y).tolist() == [0] + [230] * 5
    assert len(t.segment_ids) == 50 and (np.bincount(t.segment) == 23).all()
    assert sz.sample_file().stat().st_size < 400_000
    d = build_dataset("seizure-sample")
    e = d.info.extra
    # 10 segments per class: round(1.5) = 2 to test, 2 to validation, 6 to training (23 rows each).
    assert e["sizes"] == {"train": 690, "val": 230, "test": 230}
    assert e["segments"] == {"total": 50, "train": 30, "val": 10, "test": 10, "in_two_splits": 0}
    assert d.source == "bundled sample seizure-sample.csv.gz"
    assert build_dataset("seizure-sample", split="row").info.extra["sizes"] == {"train": 800, "val": 175,
                                                                                "test": 175}


@pytest.mark.parametrize("model,kwargs", [("mlp", {"hidden": [16], "act": "sigmoid"}), ("cnn1d", {}),
                                          ("rnn_classifier", {})])
def test_the_seizure_models_take_the_inputs(model, kwargs):
    torch.set_num_threads(1)
    d = build_dataset("seizure-sample")
    net = build_model(model, input_shape=d.info.input_shape, num_classes=d.info.num_classes, **kwargs)
    with torch.no_grad():
        assert net(d.train.inputs[:4]).shape == (4, 5)


# ------------------------------------------------------------------------------------------------ store

def test_store_source_add_and_verify(tmp_path, monkeypatch):
    src = store.get_source("seizure")
    assert (src.folder, src.content, src.sample, src.url) == ("seizure", sz.CONTENT, "seizure-sample", "")
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "root"))
    with pytest.raises(DataError, match="no public download address"):
        store.fetch("seizure", progress=False)
    with pytest.raises(DataError, match="seizure is not installed.*nnstudy data add seizure PATH"):
        build_dataset("seizure")
    # A well-formed file that is not the published data is refused, naming the user's file; nothing installed.
    fake = write(tmp_path / "fake.csv.gz", rows())
    with pytest.raises(DataError, match=r"fake.csv.gz: 60 rows, per class y=1..5 \[12, 12, 12, 12, 12\]"):
        store.add("seizure", fake)
    assert not (store.dataset_dir("seizure") / sz.CONTENT).exists()
    bad = edit(write(tmp_path / "bad.csv", rows()), 1, setter(178, "X179"))
    with pytest.raises(DataError, match="bad.csv: line 1: header"):
        store.add("seizure", bad)


# -------------------------------------------------------------------------------------------- real data

def _load_script() -> object:
    spec = importlib.util.spec_from_file_location("make_seizure_sample", REPO / "scripts" / "make_seizure_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_real_file(tmp_path, monkeypatch):
    if not REAL.is_file():
        pytest.skip(f"no real file at {REAL.resolve()} (../shared/data/epileptic_seizure beside the repository)")
    t = sz.read_seizure(REAL)
    assert t.x.shape == (11_500, 178) and t.id_header == "Unnamed"
    assert np.bincount(t.y).tolist() == [0] + [2_300] * 5
    assert len(t.segment_ids) == 500 and (np.bincount(t.segment) == 23).all()
    assert len(sz.verify_file(REAL)) == 4
    # The UCI layout (empty id header, plain CSV) and a copy without ids pass too.
    raw = gzip.decompress(REAL.read_bytes())
    (tmp_path / "data.csv").write_bytes(raw.replace(b"Unnamed,", b",", 1))
    assert sz.verify_file(tmp_path / "data.csv")[-1].startswith("content sha256 e603c5819fac3a52")
    lines = raw.decode().split("\r\n")
    (tmp_path / "bare.csv").write_text("\n".join(ln.split(",", 1)[1] for ln in lines if ln))
    assert sz.verify_file(tmp_path / "bare.csv")[-1].startswith("values sha256 (no ids) 8806ddf3")
    # Import with the store, then build from the data root: 70/15/15 of each class's 100 segments.
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "root"))
    store.add("seizure", REAL)
    installed = store.installed_path("seizure")
    assert installed.read_bytes() == raw                           # stored as the plain CSV
    assert store.verify("seizure")[-1].endswith("ok")
    for split in ("segment", "row"):
        e = build_dataset("seizure", split=split).info.extra
        assert e["per_class"] == {"train": [1_610] * 5, "val": [345] * 5, "test": [345] * 5}
        assert e["segments"]["in_two_splits"] == (0 if split == "segment" else 499)
    # The bundled sample is what the script cuts from this file.
    data, n, segments = _load_script().cut(raw, 10)
    assert (n, segments) == (1_150, 50)
    assert gzip.decompress(sz.sample_file().read_bytes()) == data
