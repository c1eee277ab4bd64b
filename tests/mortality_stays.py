"""PhysioNet/CinC 2012 stays made by hand for the mortality tests: record files, long CSVs, outcomes, the
original layout as a fixture, and statistics that make expected inputs easy to write."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from nnstudy.data import mortality as mo

V = len(mo.VARIABLES)
F = len(mo.FEATURES)


def col(name: str) -> int:
    """Channel index of a feature name."""
    return mo.FEATURES.index(name)


Row = tuple[str, str, str]          # (Time, Parameter, Value) as written in a record file


def descriptors(rid: int, age: str = "60", gender: str = "1", height: str = "170", icu: str = "2",
                weight: str = "80") -> list[Row]:
    return [("00:00", "RecordID", str(rid)), ("00:00", "Age", age), ("00:00", "Gender", gender),
            ("00:00", "Height", height), ("00:00", "ICUType", icu), ("00:00", "Weight", weight)]


# A hand-made stay with every quirk: a second Weight at 00:00 (time series), HR twice in bin 0, an impossible HR
# of 0, an impossible Temp, 48:00 (bin 47) and an unknown parameter.
HAND = 200001
HAND_ROWS = descriptors(HAND) + [
    ("00:00", "Weight", "82"), ("00:10", "HR", "80"), ("00:50", "HR", "90"), ("01:00", "HR", "0"),
    ("02:30", "HR", "100"), ("03:00", "Foo", "1"), ("05:59", "Temp", "-17.8"), ("47:30", "Temp", "37"),
    ("48:00", "Temp", "38")]
SHORT = 200002           # last measurement in bin 5; unknown Height, Gender and admission Weight
SHORT_ROWS = descriptors(SHORT, gender="-1", height="-1", icu="3", weight="-1") + [("05:20", "HR", "70")]
EMPTY = 200003           # descriptors only: no time-series rows
EMPTY_ROWS = descriptors(EMPTY, age="40", icu="4")


def population(n: int = 40, seed: int = 0) -> tuple[dict[int, list[Row]], dict[int, int]]:
    """(rows per RecordID, label per RecordID): the three hand-made stays plus `n` random ones, ~1/4 deaths."""
    rng = np.random.default_rng(seed)
    stays = {HAND: HAND_ROWS, SHORT: SHORT_ROWS, EMPTY: EMPTY_ROWS}
    labels = {HAND: 1, SHORT: 0, EMPTY: 0}
    for k in range(n):
        rid = 132539 + 3 * k
        rows = descriptors(rid, age=str(rng.integers(20, 90)), gender=str(rng.integers(0, 2)),
                           height=f"{rng.uniform(150, 190):.1f}", icu=str(rng.integers(1, 5)),
                           weight=f"{rng.uniform(50, 110):.1f}")
        for minute in np.sort(rng.choice(48 * 60 + 1, size=30, replace=False)):
            var = ("HR", "Temp", "GCS", "Urine", "pH")[rng.integers(0, 5)]
            value = {"HR": rng.uniform(50, 120), "Temp": rng.uniform(35, 40), "GCS": rng.integers(3, 16),
                     "Urine": rng.uniform(0, 200), "pH": rng.uniform(7.1, 7.6)}[var]
            rows.append((f"{minute // 60:02d}:{minute % 60:02d}", var, f"{value:.2f}" if var != "GCS" else str(value)))
        stays[rid] = rows
        labels[rid] = int(k % 4 == 0)
    return stays, labels


def write_records(folder: Path, stays: dict[int, list[Row]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rid, rows in stays.items():
        (folder / f"{rid}.txt").write_text("Time,Parameter,Value\n" + "".join(f"{t},{p},{v}\n" for t, p, v in rows))
    return folder


def long_bytes(stays: dict[int, list[Row]]) -> bytes:
    lines = ["RecordID,Time,Parameter,Value"] + [f"{rid},{t},{p},{v}" for rid in sorted(stays)
                                                 for t, p, v in stays[rid]]
    return ("\n".join(lines) + "\n").encode()


def write_long(path: Path, stays: dict[int, list[Row]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = long_bytes(stays)
    path.write_bytes(gzip.compress(raw) if path.name.endswith(".gz") else raw)
    return path


def write_outcomes(path: Path, labels: dict[int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death\n"
                    + "".join(f"{rid},10,3,7,-1,{y}\n" for rid, y in sorted(labels.items())))
    return path


def hand_stats() -> dict:
    """Statistics that make expected inputs easy to write: z = raw value, fill 7, except HR and the statics."""
    mean, std, median = [0.0] * V, [1.0] * V, [7.0] * V
    hr = mo.VARIABLES.index("HR")
    mean[hr], std[hr], median[hr] = 80.0, 10.0, 75.0
    return {"variables": list(mo.VARIABLES), "mean": mean, "std": std, "median": median,
            "static": {"age": {"mean": 50.0, "std": 10.0, "median": 55.0},
                       "height": {"mean": 170.0, "std": 10.0, "median": 165.0},
                       "weight": {"mean": 80.0, "std": 20.0, "median": 70.0}}}


def one_line(e: pytest.ExceptionInfo) -> str:
    text = str(e.value)
    assert "\n" not in text
    return text
