"""Hostile data files: every loader refuses them with one short DataError naming the file and the line.

Non-finite or float32-overflowing values, ids too large for int64, negative load (a warning), files that are
empty, UTF-16/32 or binary where text is expected, and archives that are not archives. Small fixtures only.
"""
from __future__ import annotations

import codecs
import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest

from nnstudy.data import energy as en
from nnstudy.data import files, store
from nnstudy.data import mimic3 as mm
from nnstudy.data import mortality as mo
from nnstudy.data import seizure as sz
from nnstudy.errors import MESSAGE_LIMIT, DataError

RANDOM = np.random.default_rng(0).bytes(2000)
FLOAT32_RANGE = "not a number within the float32 range"


def refused(call, *args, **kwargs) -> str:
    """The DataError message of call(*args): one line, short."""
    with pytest.raises(DataError) as e:
        call(*args, **kwargs)
    text = str(e.value)
    assert "\n" not in text and len(text) < MESSAGE_LIMIT, text
    return text


# ------------------------------------------------------------------------------------------------ fixtures

ENERGY_HEADER = "Datetime,AEP_MW"


def energy_lines(values: list[str]) -> list[str]:
    """Hourly rows from 2020-01-01 01:00 with the given MW texts."""
    return [f"2020-01-01 {h + 1:02d}:00:00,{v}" for h, v in enumerate(values)]


def energy_file(folder: Path, lines: list[str], name: str = "AEP_hourly.csv") -> Path:
    path = folder / name
    raw = ("\n".join([ENERGY_HEADER, *lines]) + "\n").encode()
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    return path


SEIZURE_HEADER = ",".join(["Unnamed", *sz.COLUMNS, "y"])


def seizure_line(rid: str, y: int, change: tuple[int, str] | None = None) -> str:
    x = [str(v) for v in range(sz.SAMPLES)]
    if change is not None:
        x[change[0]] = change[1]
    return ",".join([rid, *x, str(y)])


def seizure_file(path: Path, change: tuple[int, str] | None = None) -> Path:
    """Three rows (lines 2-4); `change` = (index into X1..X178, text) applies to line 3."""
    lines = [SEIZURE_HEADER, seizure_line("X1.V1.0", 1), seizure_line("X2.V1.0", 1, change),
             seizure_line("X1.V2.1", 2)]
    path.write_text("\n".join(lines) + "\n")
    return path


LONG_HEADER = "RecordID,Time,Parameter,Value"
OUTCOMES_HEADER = "RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death"


def long_file(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join([LONG_HEADER, *lines]) + "\n")
    return path


def good_long_lines(rid: str = "132539") -> list[str]:
    return [f"{rid},00:00,RecordID,{rid}", f"{rid},00:00,Age,54", f"{rid},00:07,HR,73"]


def outcomes_file(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join([OUTCOMES_HEADER, *lines]) + "\n")
    return path


ADM_HEADER = "ROW_ID,SUBJECT_ID,HADM_ID,ADMITTIME,HOSPITAL_EXPIRE_FLAG"


def mimic_folder(folder: Path, adm_lines: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    adm = adm_lines or ["1,10,100,2100-01-01 00:00:00,0", "2,11,110,2100-02-01 00:00:00,1"]
    (folder / "ADMISSIONS.csv").write_text("\n".join([ADM_HEADER, *adm]) + "\n")
    (folder / "DIAGNOSES_ICD.csv").write_text("ROW_ID,HADM_ID,ICD9_CODE\n1,100,4019\n2,110,42731\n")
    return folder


# ------------------------------------------------------------------------------- values: energy (PJM CSV)

@pytest.mark.parametrize("value", ["1e300", "inf", "-inf", "Infinity", "1e39", "-4e38"])
def test_energy_refuses_non_finite_and_float32_overflow(tmp_path, value):
    path = energy_file(tmp_path, energy_lines(["1000", "1010", value, "1030"]))
    text = refused(en.read_region, path)
    assert text == f"{path}: line 4: MW is {value!r}, {FLOAT32_RANGE} (±3.403e+38)"


def test_energy_value_message_is_clipped(tmp_path):
    value = "9" * 400                                     # 1e399: inf as a float
    path = energy_file(tmp_path, energy_lines(["1000", value]))
    text = refused(en.read_region, path)
    assert text.startswith(f"{path}: line 3: MW is '9999") and "…" in text


def test_energy_largest_float32_value_is_accepted(tmp_path):
    series, _ = en.read_region(energy_file(tmp_path, energy_lines(["1000", "3.4e38", "1020"])))
    assert series.max() == 3.4e38


def test_energy_lines_are_counted_past_blank_lines(tmp_path):
    path = energy_file(tmp_path, [*energy_lines(["1000", "1010"]), "", "   ", "2020-01-01 03:00:00,1e300"])
    assert refused(en.read_region, path).startswith(f"{path}: line 6: MW is '1e300'")
    path.write_text(f"{ENERGY_HEADER}\n2020-01-01 01:00:00,1\n\n2020-01-01 02:00:00,lots\n")
    assert refused(en.read_region, path).startswith(f"{path}: line 4: value 'lots'")
    path.write_text(f"{ENERGY_HEADER}\n2020-01-01 01:00:00,1\n  \nyesterday,2\n")
    assert refused(en.read_region, path).startswith(f"{path}: line 4: timestamp 'yesterday'")


def test_energy_blank_lines_of_white_space_are_skipped(tmp_path):
    path = energy_file(tmp_path, [*energy_lines(["1000"]), "  ", "2020-01-01 02:00:00,1010"])
    series, report = en.read_region(path)
    assert series.tolist() == [1000.0, 1010.0] and report.rows == 2


def test_energy_negative_load_warns_and_is_kept(tmp_path):
    path = energy_file(tmp_path, energy_lines(["1000", "-5", "1020", "-7.5", "1040"]))
    with pytest.warns(en.NegativeLoadWarning) as caught:
        series, report = en.read_region(path)
    message = str(caught[0].message)
    assert message == f"{path}: 2 negative MW values, the first on line 3 (load is never negative; kept unchanged)"
    assert issubclass(en.NegativeLoadWarning, UserWarning)
    assert report.negative == 2 and "2 negative values kept" in str(report)
    assert series.min() == -7.5 and len(series) == 5


def test_energy_non_negative_load_does_not_warn(tmp_path):
    path = energy_file(tmp_path, energy_lines(["0", "1010"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, report = en.read_region(path)
    assert report.negative == 0 and "negative" not in str(report)


# ---------------------------------------------------------------------------------------- values: seizure

@pytest.mark.parametrize("value", ["1e300", "-1e39", "inf", "-Infinity"])
def test_seizure_refuses_non_finite_and_float32_overflow(tmp_path, value):
    path = seizure_file(tmp_path / "s.csv", change=(4, value))
    text = refused(sz.read_seizure, path)
    assert text == f"{path}: line 3: X5 is {value!r}, {FLOAT32_RANGE} (±3.403e+38)"


def test_seizure_unparsable_cell_is_clipped(tmp_path):
    path = seizure_file(tmp_path / "s.csv", change=(0, "x" * 300))
    text = refused(sz.read_seizure, path)
    assert text.startswith(f"{path}: line 3: X1 is 'xxx") and "…" in text and "not a number" in text


def test_seizure_from_the_cli(tmp_path, capsys, monkeypatch):
    from nnstudy.cli import main
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "root"))
    path = seizure_file(tmp_path / "s.csv", change=(177, "1e300"))
    assert main(["data", "add", "seizure", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{path}: line 3: X178 is '1e300', {FLOAT32_RANGE}" in err


# -------------------------------------------------------------------------------------- values: mortality

@pytest.mark.parametrize("value", ["1e300", "inf", "-inf", "1e39"])
def test_mortality_long_csv_refuses_non_finite_and_float32_overflow(tmp_path, value):
    path = long_file(tmp_path / "set-a.csv", [*good_long_lines(), f"132539,00:09,HR,{value}"])
    text = refused(mo.read_long, path)
    assert text == f"{path}: line 5: Value of HR is {value!r}, {FLOAT32_RANGE} (±3.403e+38)"


def test_mortality_descriptor_overflow_is_refused(tmp_path):
    path = long_file(tmp_path / "set-a.csv", ["1,00:00,RecordID,1", "1,00:00,Age,1e300"])
    assert refused(mo.read_long, path) == f"{path}: line 3: Value of Age is '1e300', {FLOAT32_RANGE} (±3.403e+38)"


def test_mortality_record_file_names_its_own_line(tmp_path):
    folder = tmp_path / "set-a"
    folder.mkdir()
    (folder / "132539.txt").write_text("Time,Parameter,Value\n00:00,RecordID,132539\n00:07,HR,73\n")
    bad = folder / "132540.txt"
    bad.write_text("Time,Parameter,Value\n00:00,RecordID,132540\n\n00:07,HR,-inf\n")
    assert refused(mo.read_records, folder) == f"{bad}: line 4: Value of HR is '-inf', {FLOAT32_RANGE} (±3.403e+38)"


def test_mortality_missing_measurements_stay_legitimate(tmp_path):
    # Sparse by design: a variable never measured is simply absent; that must keep working.
    rows = mo.read_long(long_file(tmp_path / "set-a.csv", good_long_lines()))
    assert np.isfinite(rows.value).all() and len(rows.value) == 3


@pytest.mark.parametrize("rid, why", [("99999999999999999999", "too large (more than 18 digits)"),
                                      ("²", "not a whole number"), ("1e3", "not a whole number")])
def test_mortality_record_ids_must_be_int64_digits(tmp_path, rid, why):
    path = long_file(tmp_path / "set-a.csv", ["1,00:00,Age,54", f"{rid},00:00,Age,54"])
    assert refused(mo.read_long, path) == f"{path}: line 3: RecordID {rid!r} is {why}"
    out = outcomes_file(tmp_path / "Outcomes-a.txt", ["1,10,3,7,-1,0", f"{rid},10,3,7,-1,1"])
    assert refused(mo.read_outcomes, out) == f"{out}: line 3: RecordID {rid!r} is {why}"


# ----------------------------------------------------------------------------------------- values: mimic3

@pytest.mark.parametrize("column, line, why", [
    ("SUBJECT_ID", "1,99999999999999999999,100,2100-01-01 00:00:00,0", "too large (more than 18 digits)"),
    ("HADM_ID", "1,10,١٢,2100-01-01 00:00:00,0", "not a whole number"),
    ("HADM_ID", "1,10,inf,2100-01-01 00:00:00,0", "not a whole number"),
])
def test_mimic3_ids_must_be_int64_digits(tmp_path, column, line, why):
    folder = mimic_folder(tmp_path / "m", [line])
    value = line.split(",")[ADM_HEADER.split(",").index(column)]
    text = refused(mm.read_mimic3, folder)
    assert text == f"{folder / 'ADMISSIONS.csv'}: line 2: {column} {value!r} is {why}"


# ------------------------------------------------------------------------------ text files that are not text

NOT_TEXT = {
    "empty": (b"", "empty file"),
    "blank": (b"\n \r\n\n", "empty file (only blank lines)"),
    "utf-16": ((ENERGY_HEADER + "\n").encode("utf-16"), "UTF-16 text (save it as UTF-8)"),
    "utf-16-be": (codecs.BOM_UTF16_BE + (ENERGY_HEADER + "\n").encode("utf-16-be"), "UTF-16 text (save it as UTF-8)"),
    "utf-16-no-bom": ((ENERGY_HEADER + "\n2020-01-01 01:00:00,1\n").encode("utf-16-le"),
                      "UTF-16 text (save it as UTF-8)"),
    "utf-32": ((ENERGY_HEADER + "\n").encode("utf-32"), "UTF-32 text (save it as UTF-8)"),
    "utf-32-no-bom": ((ENERGY_HEADER + "\n").encode("utf-32-be"), "UTF-32 text (save it as UTF-8)"),
    "binary": (RANDOM, "binary data, not text"),
    "zip": (b"PK\x03\x04" + RANDOM, "a zip archive, not text"),
    "latin-1": ("Datetime,AEP_MW\n2020-01-01 01:00:00,1\n2020-01-01 02:00:00,2\xe9\n".encode("latin-1"),
                "not a UTF-8 text file (line 3 holds byte 0xe9; save it as UTF-8)"),
}


@pytest.mark.parametrize("case", sorted(NOT_TEXT))
def test_describe_bytes(case):
    raw, words = NOT_TEXT[case]
    assert files.describe_bytes(raw) == words
    assert files.describe_bytes(gzip.compress(raw), packed=False) == "gzip-compressed data, not text"


def test_describe_bytes_accepts_text():
    for raw in (b"a,b\n1,2\n", codecs.BOM_UTF8 + b"a,b\n", "Temp,°C\n".encode(), b"a\tb\r\n\x1a"):
        assert files.describe_bytes(raw) is None
    assert files.describe_bytes(b"", packed=True) == "gzip-compressed empty file"
    # a NUL far down a text file is corruption on a line, not "binary data"
    raw = b"a,b\n" * 5000 + b"1,\x002\n"
    assert files.describe_bytes(raw) == "line 5001 holds a NUL byte (0x00), which text never does"


def _text_loaders(tmp_path: Path, raw: bytes, gz: bool):
    """(call, its file) per text reader, each given `raw` (gzipped when `gz`) as its file."""
    data = gzip.compress(raw) if gz else raw
    ext = ".csv.gz" if gz else ".csv"

    def put(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    energy = put(tmp_path / "e" / f"AEP_hourly{ext}")
    seizure = put(tmp_path / "s" / f"seizure{ext}")
    long = put(tmp_path / "l" / f"set-a{ext}")
    record = put(tmp_path / "r" / "132539.txt")
    outcomes = put(tmp_path / "o" / "Outcomes-a.txt")
    adm = mimic_folder(tmp_path / "m")
    (adm / "ADMISSIONS.csv").unlink()
    admissions = put(adm / f"ADMISSIONS{ext}")
    return [(lambda: en.read_region(energy), energy), (lambda: sz.read_seizure(seizure), seizure),
            (lambda: mo.read_long(long), long), (lambda: mo.read_records(record.parent), record),
            (lambda: mo.read_outcomes(outcomes), outcomes), (lambda: mm.read_mimic3(adm), admissions)]


@pytest.mark.parametrize("case", ["empty", "utf-16", "utf-16-no-bom", "utf-32", "binary", "latin-1"])
def test_every_text_reader_says_what_the_file_is(tmp_path, case):
    raw, words = NOT_TEXT[case]
    for call, path in _text_loaders(tmp_path, raw, gz=False):
        assert refused(call) == f"{path}: {words}"


def test_empty_after_gunzip(tmp_path):
    for call, path in _text_loaders(tmp_path, b"", gz=True):
        assert refused(call) == f"{path}: gzip-compressed empty file"


def test_locating_a_long_csv_that_is_not_text(tmp_path):
    path = tmp_path / "set-a.csv"
    path.write_bytes(NOT_TEXT["utf-16"][0])
    outcomes_file(tmp_path / "Outcomes-a.txt", ["132539,10,3,7,-1,0"])
    assert refused(mo.read_mortality, path) == f"{path}: UTF-16 text (save it as UTF-8)"


def test_mortality_statistics_file_that_is_not_text(tmp_path):
    stats = tmp_path / "stats.json"
    stats.write_bytes('{"normalization": {}}'.encode("utf-16"))
    assert refused(mo.load_stats, stats) == f"{stats}: UTF-16 text (save it as UTF-8)"
    stats.write_bytes(b"")
    assert refused(mo.load_stats, stats) == f"{stats}: empty file"


def test_energy_utf16_from_the_cli(tmp_path, capsys):
    from nnstudy.cli import main
    (tmp_path / "pjm").mkdir()
    (tmp_path / "pjm" / "AEP_hourly.csv").write_bytes(
        (ENERGY_HEADER + "\n" + "\n".join(energy_lines(["1"] * 20)) + "\n").encode("utf-16"))
    rc = main(["train", "rnn_forecaster", "data.name=energy", f"data.path={tmp_path / 'pjm'}", "data.regions=[AEP]",
               f"out_dir={tmp_path / 'runs'}", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "AEP_hourly.csv: UTF-16 text (save it as UTF-8)" in err


# ---------------------------------------------------------------------------------- archives: `data add`

ARCHIVES = {
    "gzip-of-csv": (gzip.compress(b"a,b\n1,2\n" * 100), "gzip-compressed data that is not a tar archive"),
    "gzip-of-nothing": (gzip.compress(b""), "gzip-compressed empty file, not a tar archive"),
    "empty": (b"", "empty file, not a tar or zip archive"),
    "random": (RANDOM, "binary data that is not a tar or zip archive"),
    "text": (b"a,b\n1,2\n", "text, not a tar or zip archive"),
    "cut-gzip": (gzip.compress(RANDOM)[:40], "truncated or corrupt gzip data"),
    "broken-zip": (b"PK\x03\x04" + b"\x00" * 100, "truncated or corrupt zip data"),
}


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "root"))
    return tmp_path / "root"


@pytest.mark.parametrize("case", sorted(ARCHIVES))
def test_add_says_what_a_non_archive_is(tmp_path, root, case):
    raw, words = ARCHIVES[case]
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(raw)
    text = refused(store.add, "cifar10", path)
    assert text.startswith(f"{path}: {words}"), text
    assert "ReadError" not in text and "method gz" not in text
    assert not (root / "cifar10" / "cifar-10-batches-py").exists()


@pytest.mark.parametrize("case", ["gzip-of-csv", "empty"])
def test_add_from_the_cli(tmp_path, root, capsys, case):
    from nnstudy.cli import main
    raw, words = ARCHIVES[case]
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(raw)
    assert main(["data", "add", "cifar10", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and len(err) < MESSAGE_LIMIT + 40
    assert f"{path}: {words}" in err


@pytest.mark.parametrize("case", ["gzip-of-csv", "empty", "random"])
def test_reading_cifar10_from_a_non_archive_says_what_it_is(tmp_path, case):
    from nnstudy.data import cifar10 as c10
    raw, words = ARCHIVES[case]
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(raw)
    assert refused(c10.read_cifar10, path) == f"{path}: {words} (expected cifar-10-python.tar.gz)"


def test_describe_archive_leaves_real_archives_to_their_library(tmp_path):
    import tarfile
    import zipfile
    good = tmp_path / "a.tar.gz"
    with tarfile.open(good, "w:gz") as tar:
        tar.add(__file__, arcname="x.py")
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr("x.csv", "a,b\n")
    assert files.describe_archive(good) is None and files.describe_archive(tmp_path / "a.zip") is None
