"""PJM energy loader: cleaning of dirty CSVs, features and scaling, splits, lazy windows, the sample, the store."""
from __future__ import annotations

import gzip
import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from nnstudy.data import build_dataset, store
from nnstudy.data import energy as en
from nnstudy.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]
PJM = REPO / ".." / "shared" / "data" / "pjm_hourly"   # the real Kaggle files, beside the repository
T0 = pd.Timestamp("2020-01-01 01:00:00")


# --------------------------------------------------------------------------------------------- fixtures

def write_csv(path: Path, rows: list[tuple[pd.Timestamp, float]], *, header: str | None = None) -> Path:
    """A regional file as Kaggle writes it (``.gz`` suffix: gzip), rows in the given order."""
    region = en.region_of(path)
    text = (header or f"Datetime,{region}_MW") + "\n"
    text += "".join(f"{t:%Y-%m-%d %H:%M:%S},{v:.1f}\n" for t, v in rows)
    data = text.encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def dirty_rows() -> list[tuple[pd.Timestamp, float]]:
    """40 hours of load 1000 + 10·h, shuffled, with hour 5 twice, hours 10-11 missing (2 h), 20-29 missing (10 h)."""
    hours = [h for h in range(40) if h not in (10, 11) and not 20 <= h <= 29]
    rows = [(T0 + pd.Timedelta(hours=h), 1000.0 + 10 * h) for h in hours]
    rows.append((T0 + pd.Timedelta(hours=5), 1100.0))   # the duplicate: mean (1050 + 1100) / 2 = 1075
    order = np.random.default_rng(0).permutation(len(rows))
    return [rows[i] for i in order]


def synthetic(folder: Path, region: str = "AEP", hours: int = 1000, *, trend: float = 1.0,
              drop: range | None = None) -> Path:
    """A clean(ish) region file: load 5000 + trend·h MW, hours in `drop` missing."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [(T0 + pd.Timedelta(hours=h), 5000.0 + trend * h) for h in range(hours) if not (drop and h in drop)]
    return write_csv(folder / f"{region}_hourly.csv", rows)


# --------------------------------------------------------------------------------------------- cleaning

@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_cleaning_sorts_merges_fills_and_splits(tmp_path, suffix):
    path = write_csv(tmp_path / f"TEST_hourly{suffix}", dirty_rows())
    series, rep = en.read_region(path)  # max_gap_hours=3: the 2-hour gap is filled, the 10-hour one splits
    assert (rep.region, rep.rows, rep.unsorted) == ("TEST", 29, True)
    assert (rep.duplicates, rep.duplicate_times, rep.duplicate_spread_mw) == (1, 1, 50.0)
    assert (rep.filled, rep.filled_gaps, rep.splits, rep.skipped, rep.segments) == (2, 1, 1, 10, 2)
    assert rep.hours == len(series) == 30 and rep.first == "2020-01-01 01:00:00" and rep.last == "2020-01-02 16:00:00"
    assert series.index.is_monotonic_increasing and series.index.is_unique
    h = ((series.index - T0) / pd.Timedelta(hours=1)).astype(int).to_numpy()
    assert list(h) == [*range(20), *range(30, 40)]              # nothing inside the long gap
    expected = 1000.0 + 10 * h
    expected[h == 5] = 1075.0                                    # duplicates merged into their mean
    np.testing.assert_allclose(series.to_numpy(), expected)      # linear fill of hours 10, 11 is exact here
    starts = en.segment_starts(series.index)
    assert list(starts) == [0] * 20 + [20] * 10
    text = str(rep)
    assert "\n" not in text and "1 duplicate row" in text and "2 missing hours filled" in text and "2 segments" in text


def test_cleaning_max_gap_hours(tmp_path):
    path = write_csv(tmp_path / "TEST_hourly.csv", dirty_rows())
    _, rep = en.read_region(path, max_gap_hours=10)              # both gaps filled: one segment
    assert (rep.filled, rep.splits, rep.segments, rep.hours) == (12, 0, 1, 40)
    _, rep = en.read_region(path, max_gap_hours=1)               # both split
    assert (rep.filled, rep.splits, rep.segments, rep.hours) == (0, 2, 3, 28)


@pytest.mark.parametrize("name,header,content,match", [
    ("AEP_hourly.csv", "Datetime,PJME_MW", None,
     "AEP_hourly.csv: header 'Datetime,PJME_MW', expected 'Datetime,AEP_MW'"),
    ("AEP_hourly.csv.gz", "ds,y", None, "AEP_hourly.csv.gz: header 'ds,y'"),
    ("AEP_hourly.csv", None, "2020-01-01 01:00:00,1.0\nyesterday,2.0\n",
     "AEP_hourly.csv: line 3: timestamp 'yesterday'"),
    ("AEP_hourly.csv", None, "2020-01-01 01:00:00,lots\n", "AEP_hourly.csv: line 2: value 'lots'"),
    ("AEP_hourly.csv", None, "2020-01-01 01:30:00,1.0\n", "line 2: .* not on the hour"),
    ("AEP_hourly.csv", None, "2020-01-01 01:00:00,1.0,7\n", "AEP_hourly.csv: line 2: 3 fields, expected 2"),
    ("AEP_hourly.csv", None, "2020-01-01 01:00:00\n", "AEP_hourly.csv: line 2: 1 fields, expected 2"),
    ("AEP_hourly.csv", None, "", "AEP_hourly.csv: no data rows"),
])
def test_malformed_files_raise_data_error_naming_the_file(tmp_path, name, header, content, match):
    path = tmp_path / name
    if content is None:
        write_csv(path, [(T0, 1.0)], header=header)
    else:
        path.write_bytes(f"Datetime,AEP_MW\n{content}".encode())
    with pytest.raises(DataError, match=match):
        en.read_region(path)


def test_corrupt_gzip_and_missing_file(tmp_path):
    path = write_csv(tmp_path / "AEP_hourly.csv.gz", [(T0, 1.0)])
    path.write_bytes(path.read_bytes()[:-6])                     # truncated
    with pytest.raises(DataError, match="AEP_hourly.csv.gz: not a readable gzip"):
        en.read_region(path)
    with pytest.raises(DataError, match="NI_hourly.csv: no such file"):
        en.read_region(tmp_path / "NI_hourly.csv")


def test_excel_resave_bom_crlf_unpadded_hours(tmp_path):
    path = tmp_path / "NI_hourly.csv"
    path.write_bytes(b"\xef\xbb\xbfDatetime,NI_MW\r\n2004-12-31 1:00:00,13478\r\n2004-12-31 2:00:00,12865\r\n")
    series, rep = en.read_region(path)
    assert list(series) == [13478.0, 12865.0] and rep.hours == 2 and not rep.unsorted


# ------------------------------------------------------------------------------ features, scaling, splits

def test_calendar_features_for_known_timestamps(tmp_path):
    # 2020 is a leap year: 31 Dec 2020 is day 366, a Thursday; 1 Jan 2021 00:00 is a Friday.
    synthetic(tmp_path, hours=9000)
    data = en.energy(path=str(tmp_path), regions=["AEP"], lookback=4)
    feats = data.train.inputs.features
    for when, (hour, dow, month, doy) in {
        "2020-12-31 23:00:00": (23, 3, 12, 366),
        "2021-01-01 00:00:00": (0, 4, 1, 1),
        "2020-02-29 12:00:00": (12, 5, 2, 60),
    }.items():
        row = feats[int((pd.Timestamp(when) - T0) / pd.Timedelta(hours=1))]
        want = [hour / 23, dow / 6, (month - 1) / 11, (doy - 1) / 365]
        np.testing.assert_allclose(row[1:].numpy(), want, rtol=0, atol=1e-7)
    assert feats.dtype == torch.float32 and 0.0 <= float(feats[:, 1:].min()) and float(feats[:, 1:].max()) <= 1.0


def test_scaler_fit_on_training_hours_by_default_and_whole_file_with_floydhub(tmp_path):
    synthetic(tmp_path, hours=1000, trend=2.0)                   # rising load: the test period is the highest
    default = en.energy(path=str(tmp_path), regions=["AEP"], lookback=10)
    floyd = en.energy(path=str(tmp_path), regions=["AEP"], lookback=10, protocol="floydhub")
    # 1000 hours: test = last 100, val = last 90 of the other 900, train hours 0..809 fit the default scaler.
    assert default.info.extra["scalers"]["AEP"] == (5000.0, 5000.0 + 2 * 809)
    assert floyd.info.extra["scalers"]["AEP"] == (5000.0, 5000.0 + 2 * 999)
    assert float(default.test.targets.max()) > 1.0 and float(default.val.targets.min()) > 1.0
    assert float(floyd.test.targets.max()) == pytest.approx(1.0) and float(floyd.train.targets.max()) < 1.0
    for split in (default.train, default.val, default.test):     # targets inverse-scale to the MW written
        lo, hi = default.info.extra["scalers"]["AEP"]
        mw = split.targets.double() * (hi - lo) + lo
        assert torch.allclose(mw, mw.round(), atol=0.01)         # integer MW (5000 + 2h) come back


def test_window_counts_per_split(tmp_path):
    synthetic(tmp_path, hours=1000)
    data = en.energy(path=str(tmp_path), regions=["AEP"], lookback=10)
    # test: int(0.1·1000) = 100 target hours; val: int(0.1·900) = 90; train: 810 hours less the first 10.
    assert (len(data.train), len(data.val), len(data.test)) == (800, 90, 100)
    assert data.info.extra["counts"]["AEP"]["train"] == 800
    none = en.energy(path=str(tmp_path), regions=["AEP"], lookback=10, val_fraction=0.0)
    assert none.val is None and len(none.train) == 890
    # A 50-hour hole at hours 300-349 (> max_gap_hours) splits the series: no window crosses it, so the
    # second segment loses its first 10 targets too.
    synthetic(tmp_path / "split", hours=1050, drop=range(300, 350))
    data = en.energy(path=str(tmp_path / "split"), regions=["AEP"], lookback=10)
    assert data.info.extra["counts"]["AEP"]["segments"] == 2
    assert (len(data.train), len(data.val), len(data.test)) == (790, 90, 100)


def test_window_view_gathers_the_right_rows_and_never_crosses_a_split(tmp_path):
    synthetic(tmp_path, hours=1050, drop=range(300, 350))
    synthetic(tmp_path, "DEOK", hours=700, trend=-1.0)
    data = en.energy(path=str(tmp_path), regions=["AEP", "DEOK"], lookback=12)
    view = data.train.inputs
    feats, starts = view.features, view.starts
    idx = torch.tensor([0, 1, 287, 288, 289, 500, len(view) - 1])
    batch = view[idx]
    assert batch.shape == (7, 12, 5) and batch.dtype == torch.float32 and batch.is_contiguous()
    for row, k in zip(batch, idx.tolist()):
        s = int(starts[k])
        assert torch.equal(row, feats[s:s + 12])                                   # a naive slice
        assert float(data.train.targets[k]) == float(feats[s + 12, 0])            # the next hour's load
    assert torch.equal(view[3], feats[int(starts[3]):int(starts[3]) + 12])
    # No window (inputs + target) spans the hole: every window's 13 hours are consecutive clock hours.
    seconds = np.concatenate([en.read_region(tmp_path / f"{r}_hourly.csv")[0].index.as_unit("s").asi8
                              for r in ("AEP", "DEOK")])
    for split in (data.train, data.val, data.test):
        s = split.inputs.starts.numpy()
        assert np.all(seconds[s + 12] - seconds[s] == 12 * 3600)
    # No training window reads a validation or test hour; each split's targets follow the previous split's.
    for gid, region in enumerate(("AEP", "DEOK")):
        c = data.info.extra["counts"][region]
        last_train = pd.Timestamp(c["train_targets"][1])
        assert last_train < pd.Timestamp(c["val_targets"][0]) < pd.Timestamp(c["test_targets"][0])
    assert set(data.train.groups.tolist()) == {0, 1} and data.test.groups.dtype == torch.int64


def test_memory_is_linear_in_hours_and_shared_between_splits():
    data = build_dataset("energy-sample")
    hours = data.info.extra["sizes"]["hours"]
    feats = data.train.inputs.features
    assert feats.numel() == 5 * hours                                  # not × lookback
    materialised = len(data.train) * 90 * 5                             # what stacking the windows would hold
    assert feats.numel() * 50 < materialised
    view = data.train.inputs                                            # per window: one int64 start only
    assert view.starts.numel() == len(data.train) and data.train.targets.numel() == len(data.train)
    assert data.val.inputs.features.data_ptr() == data.test.inputs.features.data_ptr() == feats.data_ptr()


# ---------------------------------------------------------------------------------------------- datasets

def test_energy_sample_builds_through_the_registry():
    data = build_dataset("energy-sample")
    info = data.info
    assert info.input_shape == (90, 5) and info.num_classes is None
    assert info.extra["regions"] == ["AEP", "DEOK"] and info.extra["protocol"] == "default"
    # The sample keeps a real DST duplicate and a real missing hour of each region, and says so.
    for region in ("AEP", "DEOK"):
        text = info.extra["cleaning"][region]
        assert "6,600 rows read" in text and "1 duplicate row merged" in text and "1 missing hour filled" in text
        assert info.extra["counts"][region]["hours"] == 6600
    assert (len(data.train), len(data.val), len(data.test)) == (2 * 5256, 2 * 594, 2 * 660)
    assert "energy-sample" in data.source
    x = data.train.inputs[torch.arange(4)]
    assert x.shape == (4, 90, 5) and data.train.targets.dtype == torch.float32
    lo, hi = info.extra["scalers"]["AEP"]
    assert 9000 < lo < hi < 30000                                      # MW
    # max_gap_hours=0: the real spring-forward hole (2018-03-11 03:00) splits each region in two.
    split = build_dataset("energy-sample", max_gap_hours=0, regions=["DEOK"])
    assert split.info.extra["counts"]["DEOK"]["segments"] == 2


def test_floydhub_sample_stays_within_unit_range():
    data = build_dataset("energy-sample", protocol="floydhub")
    for split in (data.train, data.val, data.test):
        assert 0.0 <= float(split.targets.min()) and float(split.targets.max()) <= 1.0


def test_subset_is_seeded():
    a = build_dataset("energy-sample", subset=100, split_seed=1)
    b = build_dataset("energy-sample", subset=100, split_seed=1)
    c = build_dataset("energy-sample", subset=100, split_seed=2)
    assert len(a.train) == 100 and torch.equal(a.train.inputs.starts, b.train.inputs.starts)
    assert not torch.equal(a.train.inputs.starts, c.train.inputs.starts)
    assert len(a.test) == 2 * 660                                       # only training windows are subset


@pytest.mark.parametrize("kwargs,match", [
    ({"lookback": 0}, "lookback"), ({"test_fraction": 1.0}, "test_fraction"), ({"val_fraction": -0.1}, "val_fraction"),
    ({"protocol": "blog"}, "protocol must be one of default, floydhub"),
    ({"regions": ["PJME"]}, "unknown region 'PJME'"),
    ({"regions": "AEP"}, "list of names"), ({"regions": []}, "non-empty"), ({"max_gap_hours": -1}, "max_gap_hours"),
    ({"subset": 10**7}, "exceeds"), ({"lookback": 6000}, "too few"),
])
def test_bad_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_dataset("energy-sample", **kwargs)


def test_unknown_argument_and_missing_data(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="batch"):
        build_dataset("energy-sample", batch=3)
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "root"))
    with pytest.raises(DataError, match="nnstudy data add energy PATH"):
        build_dataset("energy")
    with pytest.raises(DataError, match="holds no <REGION>_hourly.csv"):
        build_dataset("energy", path=str(tmp_path))
    synthetic(tmp_path / "some")
    with pytest.raises(DataError, match="missing COMED_hourly.csv"):
        build_dataset("energy", path=str(tmp_path / "some"))


# ------------------------------------------------------------------------------------------------- store

def test_store_source_and_checks(tmp_path, monkeypatch):
    src = store.get_source("energy")
    assert (src.folder, src.content, src.sample) == ("energy", "pjm_hourly", "energy-sample")
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "root"))
    with pytest.raises(DataError):                                  # there is no public download to fetch
        store.fetch("energy", progress=False)
    # A folder of 12 files that are not the Kaggle data fails verification, naming the first file.
    for r in en.REGIONS:
        synthetic(tmp_path / "fake", r, hours=10)
    with pytest.raises(DataError, match="AEP_hourly.csv: 10 rows, 0 duplicate"):
        en.verify_folder(tmp_path / "fake")
    # copy_regions takes the regional files out of a Kaggle-like zip (other files left behind).
    with zipfile.ZipFile(tmp_path / "hourly-energy-consumption.zip", "w") as zf:
        for f in (tmp_path / "fake").iterdir():
            zf.write(f, f.name)
        zf.writestr("pjm_hourly_est.csv", "Datetime,AEP,COMED\n")
    copied = en.copy_regions(tmp_path / "hourly-energy-consumption.zip", tmp_path / "out")
    assert sorted(p.name for p in copied) == sorted(f"{r}_hourly.csv" for r in en.REGIONS)
    assert not (tmp_path / "out" / "pjm_hourly_est.csv").exists()
    # `nnstudy data add energy` stages with copy_regions: a folder of any name or the zip; a copy that fails
    # verification names the user's path and leaves nothing installed.
    for given in (tmp_path / "fake", tmp_path / "hourly-energy-consumption.zip"):
        with pytest.raises(DataError, match=f"{given.name}|AEP_hourly.csv: 10 rows"):
            store.add("energy", given)
        assert not (store.dataset_dir("energy") / "pjm_hourly").exists()


def test_content_checksum_ignores_order_and_format():
    t = np.array([7200, 3600, 3600], dtype=np.int64)
    v = np.array([2.0, 1.0, 3.0])
    assert en.content_sha256(t, v) == en.content_sha256(t[::-1].copy(), v[::-1].copy())
    assert en.content_sha256(t, v) != en.content_sha256(t, v + 1)


# ------------------------------------------------------------------------------------------- real data

@pytest.mark.slow
def test_all_twelve_real_regions(tmp_path, monkeypatch):
    if not PJM.is_dir():
        pytest.skip(f"no real PJM files at {PJM.resolve()} (../shared/data/pjm_hourly beside the repository)")
    # The README's table: rows and duplicate timestamps per file.
    readme = {"AEP": (121273, 4), "COMED": (66497, 4), "DAYTON": (121275, 4), "DEOK": (57739, 4),
              "DOM": (116189, 4), "DUQ": (119068, 4), "EKPC": (45334, 4), "FE": (62874, 4), "NI": (58450, 0),
              "PJME": (145366, 4), "PJMW": (143206, 4), "PJM_Load": (32896, 0)}
    data = build_dataset("energy", path=str(PJM))
    for region, (rows, dups) in readme.items():
        _, rep = en.read_region(PJM / f"{region}_hourly.csv.gz")
        assert (rep.rows, rep.duplicates, rep.segments) == (rows, dups, 1)
        assert rep.hours == rows - dups + rep.filled                  # every gap is a single hour: filled
        assert str(rep) == data.info.extra["cleaning"][region]
    assert data.info.extra["sizes"]["hours"] == 1_090_344
    assert data.train.inputs.features.numel() == 5 * 1_090_344       # ~22 MB, not 980k × 90 × 5 floats
    lines = en.verify_folder(PJM)
    assert len(lines) == 1 + 2 * 12 and all("ok" in ln for ln in lines[1::2])
    # A plain-CSV Excel-style re-save (CRLF) of one file passes on its content checksum; the rest as .gz.
    folder = tmp_path / "hourly-energy-consumption"   # as unzipped from Kaggle: any folder name is accepted
    folder.mkdir()
    for f in PJM.glob("*_hourly.csv.gz"):
        (folder / f.name).write_bytes(f.read_bytes())
    ni = folder / "NI_hourly.csv.gz"
    (folder / "NI_hourly.csv").write_bytes(gzip.decompress(ni.read_bytes()).replace(b"\n", b"\r\n"))
    ni.unlink()
    assert "content sha256" in "\n".join(en.verify_folder(folder))
    # `nnstudy data add energy FOLDER` and `verify`.
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "root"))
    store.add("energy", folder)
    assert len(store.verify("energy")) == 25
    assert hashlib.sha256((store.installed_path("energy") / "AEP_hourly.csv.gz").read_bytes()).hexdigest() == \
        "0f2c4993e58a61e92a36899ef402f38c95ef1e98ce65b00caabfa220a7b4fd66"
    # ... and the Kaggle zip itself (re-adding replaces the installed copy)
    with zipfile.ZipFile(tmp_path / "archive.zip", "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f.name)
    store.add("energy", tmp_path / "archive.zip")
    assert len(store.verify("energy")) == 25
