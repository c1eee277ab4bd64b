"""PhysioNet/CinC 2012 mortality data (SPEC G): reading, cleaning, binning, scaling, splits, padding, both
layouts, malformed files, the bundled sample and the real set-a. Scoring another set: test_mortality_eval.py;
MIMIC-III: test_mimic3.py."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mortality_stays import (
    EMPTY,
    HAND,
    SHORT,
    F,
    col,
    hand_stats,
    long_bytes,
    one_line,
    population,
    write_long,
    write_outcomes,
    write_records,
)
from nnstudy.data import build_dataset, store
from nnstudy.data import mortality as mo
from nnstudy.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]
REAL = REPO / ".." / "shared" / "data" / "physionet2012"


@pytest.fixture
def challenge(tmp_path) -> Path:
    """The original layout: tmp/set-a/<RecordID>.txt with tmp/Outcomes-a.txt beside the folder."""
    stays, labels = population()
    write_records(tmp_path / "set-a", stays)
    write_outcomes(tmp_path / "Outcomes-a.txt", labels)
    return tmp_path / "set-a"


# ---------------------------------------------------------------------------- binning, carry-forward, masks

def test_hand_made_stay_is_binned_carried_forward_and_timed_exactly(challenge):
    t = mo.read_mortality(challenge)
    s = int(np.flatnonzero(t.record_ids == HAND)[0])
    hr, temp, weight, alp = (mo.VARIABLES.index(v) for v in ("HR", "Temp", "Weight", "ALP"))
    h = np.arange(48)
    # HR: bins 0 (mean of 80 and 90) and 2; the 0 at 01:00 is dropped, so bin 1 is not observed.
    assert np.flatnonzero(t.observed[s, :, hr]).tolist() == [0, 2]
    assert t.last[s, :, hr].tolist() == [85.0, 85.0] + [100.0] * 46
    assert t.since[s, :, hr].tolist() == [0, 1] + (h[2:] - 2).tolist()
    # Temp: -17.8 dropped; 47:30 and 48:00 share bin 47; nothing before, so NaN and the cap.
    assert np.flatnonzero(t.observed[s, :, temp]).tolist() == [47]
    assert np.isnan(t.last[s, :47, temp]).all() and t.last[s, 47, temp] == 37.5
    assert t.since[s, :, temp].tolist() == [48] * 47 + [0]
    # The second Weight at 00:00 is a measurement; the first is the admission weight (a static descriptor).
    assert t.last[s, :, weight].tolist() == [82.0] * 48 and t.since[s, :, weight].tolist() == h.tolist()
    assert t.static[s].tolist() == [60.0, 1.0, 170.0, 2.0, 80.0]
    assert not t.observed[s, :, alp].any() and (t.since[s, :, alp] == 48).all()
    assert t.lengths[s] == 48
    c = t.cleaning
    assert c["dropped_impossible"]["HR"] == 1 and c["dropped_impossible"]["Temp"] == 1
    assert c["unknown_parameters_ignored"] == {"Foo": 1}
    assert c["measurements_at_48h_in_bin_47"] >= 1 and c["stays_without_measurements"] == 1
    assert c["static"]["Height"]["unknown (-1)"] == 1 and c["static"]["Gender"]["unknown (-1)"] == 1


def test_inputs_with_given_statistics_are_exact_and_padded_with_zeros(challenge, tmp_path):
    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps(hand_stats()))
    d = mo.mortality(path=str(challenge), test_fraction=1.0, stats=str(stats))
    assert len(d.train) == 0 and d.val is None and len(d.test) == 43
    ids = d.info.extra["record_ids"]["test"]
    assert ids == sorted(ids)
    x = d.test.inputs
    assert x.dtype == torch.float32 and x.shape == (43, 48, F) and d.info.input_shape == (48, F)

    hand = x[ids.index(HAND)]
    f32 = np.float32
    assert hand[:, 0].tolist() == [1.0] * 48
    assert hand[:, col("value:HR")].tolist() == [0.5, 0.5] + [2.0] * 46              # (85 − 80)/10, (100 − 80)/10
    assert hand[:, col("mask:HR")].tolist() == [1.0, 0.0, 1.0] + [0.0] * 45
    assert hand[:, col("hours_since:HR")].tolist() == [0.0, float(f32(1) / f32(48)), 0.0] + [
        float(f32(k) / f32(48)) for k in range(1, 46)]
    assert hand[:, col("value:Temp")].tolist() == [7.0] * 47 + [37.5]                 # fill = median 7 before
    assert hand[:, col("hours_since:Temp")].tolist() == [1.0] * 47 + [0.0]
    assert hand[:, col("value:ALP")].tolist() == [7.0] * 48
    assert hand[0, col("age"):].tolist() == [1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]

    short = x[ids.index(SHORT)]
    assert short[:, 0].tolist() == [1.0] * 6 + [0.0] * 42
    assert short[:6, col("value:HR")].tolist() == [-0.5] * 5 + [-1.0]                # fill (75 − 80)/10, then 70
    assert short[:6, col("hours_since:HR")].tolist() == [1.0] * 5 + [0.0]
    # Unknown gender: both one-hot channels 0; unknown height/weight: the median, flagged; medical ICU.
    assert short[0, col("age"):].tolist() == [1.0, 0.0, 0.0, -0.5, 1.0, -0.5, 1.0, 0.0, 0.0, 1.0, 0.0]
    assert (short[6:] == 0).all()

    empty = x[ids.index(EMPTY)]
    assert empty[:, 0].tolist() == [1.0] + [0.0] * 47                                 # one step, never zero
    assert empty[0, col("mask:HR"):col("hours_since:Albumin")].sum() == 0
    assert (empty[0, col("hours_since:Albumin"):col("age")] == 1.0).all()
    assert (empty[1:] == 0).all()
    lengths = x[..., 0].sum(1)
    assert lengths.tolist() == [float(n) for n in mo.read_mortality(challenge).lengths]


def test_normalisation_uses_training_stays_only(tmp_path):
    stays, labels = population()
    write_records(tmp_path / "a" / "set-a", stays)
    write_outcomes(tmp_path / "a" / "Outcomes-a.txt", labels)
    d = mo.mortality(path=str(tmp_path / "a"))
    e = d.info.extra
    assert e["sizes"] == {"train": 31, "val": 6, "test": 6}
    assert sum(e["deaths"].values()) == sum(labels.values())
    train_ids = e["record_ids"]["train"]
    # Recompute HR's statistics from the training stays' observed hourly means.
    t = mo.read_mortality(tmp_path / "a" / "set-a")
    rows = np.isin(t.record_ids, train_ids)
    hr = mo.VARIABLES.index("HR")
    vals = t.last[rows][:, :, hr][t.observed[rows][:, :, hr]].astype(np.float64)
    norm = e["normalization"]
    assert norm["mean"][hr] == pytest.approx(vals.mean()) and norm["std"][hr] == pytest.approx(vals.std())
    assert norm["median"][hr] == pytest.approx(np.median(vals)) and norm["stays"] == 31
    # A wild value in a test stay changes neither the statistics nor any training input.
    victim = e["record_ids"]["test"][0]
    stays[victim] = stays[victim] + [("10:00", "HR", "250")]
    write_records(tmp_path / "b" / "set-a", stays)
    write_outcomes(tmp_path / "b" / "Outcomes-a.txt", labels)
    d2 = mo.mortality(path=str(tmp_path / "b"))
    same = lambda n: {k: v for k, v in n.items() if k != "fit_on"}
    assert same(d2.info.extra["normalization"]) == same(norm)
    assert torch.equal(d2.train.inputs, d.train.inputs) and not torch.equal(d2.test.inputs, d.test.inputs)


def test_split_is_seeded_stratified_and_subset_draws_training_stays(challenge):
    a = mo.mortality(path=str(challenge), split_seed=3)
    b = mo.mortality(path=str(challenge), split_seed=3)
    c = mo.mortality(path=str(challenge), split_seed=4)
    assert a.info.extra["record_ids"] == b.info.extra["record_ids"] != c.info.extra["record_ids"]
    # 11 deaths of 43: test 6 · 11/43 = 1.53 → 2 (the larger remainder), val 6 · 9/37 = 1.46 → 1
    assert a.info.extra["deaths"] == {"train": 8, "val": 1, "test": 2}
    ids = a.info.extra["record_ids"]
    assert not set(ids["train"]) & set(ids["test"]) and not set(ids["val"]) & set(ids["test"])
    s = mo.mortality(path=str(challenge), split_seed=3, subset=10, val_fraction=0.0)
    assert len(s.train) == 10 and s.val is None and s.info.extra["normalization"]["stays"] == 10
    assert set(s.info.extra["record_ids"]["train"]) <= set(mo.mortality(
        path=str(challenge), split_seed=3, val_fraction=0.0).info.extra["record_ids"]["train"])
    assert a.train.targets.dtype == torch.int64 and a.train.groups is None
    assert a.info.num_classes == 2 and a.info.class_names == ["survived", "died"]


@pytest.mark.parametrize("kwargs, match", [
    ({"test_fraction": 1.0}, "data.stats"),
    ({"test_fraction": 0.0}, "test_fraction"),
    ({"val_fraction": 0.5, "test_fraction": 0.5}, "below 1"),
    ({"subset": 0}, "subset"),
    ({"subset": 1000}, "exceeds"),
    ({"layout": "zip"}, "layout"),
])
def test_bad_arguments_are_value_errors(challenge, kwargs, match):
    with pytest.raises(ValueError, match=match):
        mo.mortality(path=str(challenge), **kwargs)


def test_unknown_config_key_is_named():
    with pytest.raises(ConfigError, match="subsett"):
        build_dataset("mortality-sample", subsett=5)


# ---------------------------------------------------------------------------------------- both layouts

def test_original_layout_equals_long_csv_and_converts_byte_for_byte(challenge, tmp_path):
    stays, labels = population()
    long_dir = tmp_path / "long"
    write_long(long_dir / "set-a.csv.gz", stays)
    write_outcomes(long_dir / "Outcomes-a.txt", labels)
    (long_dir / "set-a_files_sha256.csv.gz").write_bytes(gzip.compress(b"filename,bytes,sha256\n"))  # not data
    a, b = mo.read_mortality(challenge), mo.read_mortality(long_dir)
    for field in ("record_ids", "labels", "static", "observed", "last", "since", "lengths"):
        assert np.array_equal(getattr(a, field), getattr(b, field), equal_nan=True), field
    assert a.cleaning == b.cleaning
    assert mo.records_to_long(challenge) == long_bytes(stays)
    # The same through the builder: records found through the parent folder, the long CSV named directly.
    d1 = mo.mortality(path=str(tmp_path), layout="records")
    d2 = mo.mortality(path=str(long_dir / "set-a.csv.gz"))
    assert torch.equal(d1.train.inputs, d2.train.inputs) and torch.equal(d1.test.targets, d2.test.targets)
    assert mo.locate(tmp_path)[0] == "records" and mo.locate(long_dir)[0] == "long"


def test_crlf_and_gzipped_record_files_read_the_same(challenge, tmp_path):
    copy = tmp_path / "copy" / "set-a"
    copy.mkdir(parents=True)
    for k, f in enumerate(sorted(challenge.iterdir())):
        raw = f.read_bytes().replace(b"\n", b"\r\n")
        (copy / f.name).write_bytes(gzip.compress(raw) if k % 2 else raw)
    write_outcomes(copy.parent / "Outcomes-a.txt", population()[1])
    a, b = mo.read_mortality(challenge), mo.read_mortality(copy)
    assert np.array_equal(a.last, b.last, equal_nan=True) and a.cleaning == b.cleaning


def test_outcomes_file_is_found_for_the_set(tmp_path):
    stays, labels = population(8)
    write_records(tmp_path / "set-b", stays)
    write_outcomes(tmp_path / "Outcomes-a.txt", {1: 0})
    write_outcomes(tmp_path / "Outcomes-b.txt", labels)
    layout, data, outcomes = mo.locate(tmp_path / "set-b")
    assert (layout, data.name, outcomes.name) == ("records", "set-b", "Outcomes-b.txt")
    write_records(tmp_path / "other", stays)
    with pytest.raises(DataError, match="data.outcomes"):
        mo.locate(tmp_path / "other")
    assert mo.locate(tmp_path / "other", outcomes=tmp_path / "Outcomes-b.txt")[2].name == "Outcomes-b.txt"
    write_records(tmp_path / "set-c", stays)
    with pytest.raises(DataError, match="set-b, set-c; name one"):
        mo.locate(tmp_path)


# ------------------------------------------------------------------------------------------------ errors

def record_file(folder: Path, lines: list[str], rid: int = 132539) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_outcomes(folder / "Outcomes-a.txt", {rid: 0})
    f = folder / f"{rid}.txt"
    f.write_text("\n".join(["Time,Parameter,Value", *lines]) + "\n")
    return f


@pytest.mark.parametrize("bad, message", [
    ("00:07,HR,73,1", "line 4: 4 fields in '00:07,HR,73,1', expected 3 (Time,Parameter,Value)"),
    ("00:07,HR", "line 4: 2 fields"),
    ("00:07,HR,abc", "line 4: Value 'abc' of HR is not a number"),
    ("00:07,HR,", "line 4: Value '' of HR is not a number"),
    ("49:10,HR,70", "line 4: Time '49:10' is after 48:00"),
    ("0:7,HR,70", "line 4: Time '0:7' is not HH:MM"),
    ("00:07,,70", "line 4: Parameter is empty"),
    ("00:00,RecordID,132540", "line 4: RecordID descriptor 132540 differs from the record's id 132539"),
])
def test_malformed_record_lines_name_file_and_line(tmp_path, bad, message):
    f = record_file(tmp_path / "set-a", ["00:00,Age,54", "", bad, "00:09,HR,70"])   # line 3 is blank
    with pytest.raises(DataError) as e:
        mo.read_mortality(tmp_path / "set-a")
    assert one_line(e).startswith(f"{f}: {message}")


def test_malformed_long_csv_and_headers(tmp_path):
    data = tmp_path / "x.csv"
    write_outcomes(tmp_path / "Outcomes-a.txt", {1: 0})
    data.write_text("RecordID,Time,Parameter,Value\r\n1,00:00,Age,54\r\n1x,00:07,HR,7\r\n")
    with pytest.raises(DataError) as e:
        mo.read_mortality(data)
    assert one_line(e) == f"{data}: line 3: RecordID '1x' is not a whole number"
    data.write_text("Time,Parameter,Value\n00:00,Age,54\n")
    with pytest.raises(DataError, match="not a long CSV"):
        mo.read_mortality(data)
    f = record_file(tmp_path / "r", ["00:00,Age,54"])
    f.write_text("Tijd,Parameter,Value\n00:00,Age,54\n")
    with pytest.raises(DataError, match=r"r/132539.txt: line 1: header 'Tijd,Parameter,Value'"):
        mo.read_mortality(tmp_path / "r")
    (tmp_path / "gz").mkdir()
    (tmp_path / "gz" / "132539.txt").write_bytes(b"\x1f\x8b\x08broken")
    with pytest.raises(DataError, match="not a readable gzip"):
        mo.read_mortality(tmp_path / "gz", outcomes=tmp_path / "Outcomes-a.txt")
    with pytest.raises(DataError, match="no such file or folder"):
        mo.read_mortality(tmp_path / "nowhere")


def test_outcomes_problems_name_the_outcomes_file(challenge, tmp_path):
    _, labels = population()
    out = challenge.parent / "Outcomes-a.txt"
    missing = dict(labels)
    del missing[SHORT]
    write_outcomes(out, missing)
    with pytest.raises(DataError) as e:
        mo.read_mortality(challenge)
    assert one_line(e) == f"{out}: no outcome for RecordID {SHORT}"
    # Outcome rows without data are ignored and counted (a folder may hold a part of a set).
    write_outcomes(out, {**labels, 999999: 1})
    assert mo.read_mortality(challenge).cleaning["outcomes_without_data_ignored"] == 1
    for text, message in [("RecordID,In-hospital_death\n5,2\n", "line 2: In-hospital_death '2' is not 0 or 1"),
                          ("RecordID,In-hospital_death\n5,1\n5,0\n", "line 3: RecordID 5 repeats line 2"),
                          ("RecordID,Death\n5,1\n", "line 1: header"),
                          ("RecordID,In-hospital_death\n5,1,3\n", "line 2: 3 fields")]:
        out.write_text(text)
        with pytest.raises(DataError) as e:
            mo.read_outcomes(out)
        assert one_line(e).startswith(f"{out}: {message}")


# -------------------------------------------------------------------------------- sample, model, store

def test_bundled_sample():
    d = build_dataset("mortality-sample")
    e = d.info.extra
    assert e["stays"] == 200 and sum(e["deaths"].values()) == 28
    assert e["sizes"] == {"train": 140, "val": 30, "test": 30} and e["deaths"] == {"train": 20, "val": 4, "test": 4}
    assert d.train.inputs.shape == (140, 48, F) and e["features"] == list(mo.FEATURES) and F == 123
    for split in (d.train, d.val, d.test):
        x = split.inputs
        lengths = x[..., 0].sum(1).long()
        after = torch.arange(48).unsqueeze(0) >= lengths.unsqueeze(1)
        assert (x[after] == 0).all() and (x[~after][:, 0] == 1).all()
    assert e["cleaning"]["dropped_total"] > 0 and e["cleaning"]["measurements_at_48h_in_bin_47"] > 0
    for f in mo.sample_files():
        assert f.stat().st_size < 400_000


def test_sample_feeds_the_variable_rnn():
    from nnstudy.models import build_model
    d = build_dataset("mortality-sample", subset=20)
    model = build_model("variable_rnn", input_shape=d.info.input_shape, num_classes=2)
    x = d.test.inputs[:8]
    padded = torch.cat([x, torch.zeros(8, 5, F)], dim=1)       # more padding changes nothing
    with torch.no_grad():
        assert torch.allclose(model(x), model(padded), atol=1e-6) and model(x).shape == (8, 2)


def test_store_import_copies_and_verify_checks_the_published_set(challenge, tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "root"))
    with pytest.raises(DataError, match=f"^{challenge}: sha256 .* differs from the published set-a"):
        mo.import_copy(challenge, tmp_path / "staged")
    with pytest.raises(DataError, match=f"^{challenge}: sha256 .* differs from the published set-a"):
        store.add("mortality", challenge)
    assert not (tmp_path / "root" / "mortality" / mo.CONTENT).exists()
    with pytest.raises(DataError, match="mortality is not installed.*mortality-sample"):
        build_dataset("mortality")


# ------------------------------------------------------------------------------------- the real set-a

@pytest.mark.slow
def test_real_set_a(tmp_path, monkeypatch):
    if not (REAL / "set-a.csv.gz").is_file():
        pytest.skip("needs ../shared/data/physionet2012")
    d = mo.mortality(path=str(REAL))
    e = d.info.extra
    assert e["stays"] == 4000 and sum(e["deaths"].values()) == 554
    assert e["sizes"] == {"train": 2800, "val": 600, "test": 600}
    assert e["deaths"] == {"train": 388, "val": 83, "test": 83}
    assert d.info.input_shape == (48, 123) and e["cleaning"]["stays_without_measurements"] == 3
    assert e["lengths"]["counts_by_length_1_to_48"][47] == 3645
    # The original layout, rebuilt from the long CSV as its README says, reads the same and converts back exactly.
    raw = gzip.decompress((REAL / "set-a.csv.gz").read_bytes())
    files: dict[str, list[bytes]] = {}
    for line in raw.split(b"\n")[1:-1]:
        rid, rest = line.split(b",", 1)
        files.setdefault(rid.decode(), []).append(rest)
    folder = tmp_path / "set-a"
    folder.mkdir()
    for rid, lines in files.items():
        (folder / f"{rid}.txt").write_bytes(b"Time,Parameter,Value\n" + b"\n".join(lines) + b"\n")
    (tmp_path / "Outcomes-a.txt").write_bytes((REAL / "Outcomes-a.txt").read_bytes())
    import hashlib
    sums = gzip.decompress((REAL / "set-a_files_sha256.csv.gz").read_bytes()).decode().split("\n")[1:]
    for row in filter(None, sums):
        name, _, digest = row.split(",")
        assert hashlib.sha256((folder / Path(name).name).read_bytes()).hexdigest() == digest
    assert hashlib.sha256(mo.records_to_long(folder)).hexdigest() == mo.EXPECTED.csv_sha256
    d2 = mo.mortality(path=str(tmp_path))
    assert torch.equal(d2.train.inputs, d.train.inputs) and torch.equal(d2.test.targets, d.test.targets)
    # nnstudy data add / verify, then the default (data root) copy.
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "root"))
    store.add("mortality", folder)
    assert any("4,000 stays, 554 deaths" in line for line in store.verify("mortality"))
    assert torch.equal(mo.mortality().val.inputs, d.val.inputs)


@pytest.mark.slow
def test_sample_script_rebuilds_the_bundled_sample(tmp_path):
    if not (REAL / "set-a.csv.gz").is_file():
        pytest.skip("needs ../shared/data/physionet2012")
    import subprocess
    import sys
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_mortality_sample.py"), str(REAL),
                    "--out", str(tmp_path)], check=True, capture_output=True)
    for f in mo.sample_files():
        assert (tmp_path / f.name).read_bytes() == f.read_bytes()
