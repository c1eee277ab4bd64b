"""MIMIC-III visit data (the ADMISSIONS and DIAGNOSES_ICD tables, v1.4 schema): ICD-9 categories, visits in
time order, labels, the multi-hot inputs on a vocabulary of training patients, options and errors."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from mortality_stays import one_line
from nnstudy.data import mimic3 as mm
from nnstudy.errors import DataError

ADM_HEADER = ("ROW_ID,SUBJECT_ID,HADM_ID,ADMITTIME,DISCHTIME,DEATHTIME,ADMISSION_TYPE,ADMISSION_LOCATION,"
              "DISCHARGE_LOCATION,INSURANCE,LANGUAGE,RELIGION,MARITAL_STATUS,ETHNICITY,EDREGTIME,EDOUTTIME,"
              "DIAGNOSIS,HOSPITAL_EXPIRE_FLAG,HAS_CHARTEVENTS_DATA")
DX_HEADER = "ROW_ID,SUBJECT_ID,HADM_ID,SEQ_NUM,ICD9_CODE"
POOL = ["4019", "25000", "E8798", "V3001", "4011", "42731", "0389", "5849", "E8497", "V4581"]


def mimic_fixture(folder: Path, n: int = 40, gz: bool = False) -> Path:
    """ADMISSIONS and DIAGNOSES_ICD in the v1.4 schema: 4 hand-made patients and `n` random ones."""
    rng = np.random.default_rng(0)
    adm = [  # subject, hadm, admittime, flag, codes; listed out of time order on purpose
        (1, 11, "2101-01-05 10:00:00", 0, ["4019", "25000", "E8798"]),
        (1, 10, "2100-03-01 08:30:00", 0, ["V3001", "4011", "4019"]),
        (2, 20, "2120-07-07 00:00:00", 1, ["42731"]),
        (3, 31, "2150-01-03 09:00:00", 0, ["0389"]),         # organ-donor account after the death: dropped
        (3, 30, "2150-01-01 09:00:00", 1, ["5849"]),
        (4, 40, "2130-02-02 12:00:00", 0, []),
    ]
    for k in range(n):
        subject = 100 + k
        died = int(k % 4 == 0)
        for v in range(int(rng.integers(1, 4))):
            adm.append((subject, 1000 + 10 * k + v, f"21{k + 10:02d}-0{v + 1}-01 00:00:00", 0, list(
                rng.choice(POOL, size=int(rng.integers(1, 5)), replace=False))))
        adm[-1] = adm[-1][:3] + (died,) + adm[-1][4:]
    a_lines, d_lines = [ADM_HEADER], [DX_HEADER]
    for i, (s, h, t, flag, codes) in enumerate(adm):
        a_lines.append(f'{i},{s},{h},{t},{t},,EMERGENCY,"CLINIC REFERRAL/PREMATURE",HOME,Medicare,ENGL,'
                       f'CATHOLIC,MARRIED,WHITE,,,"SEPSIS, PNEUMONIA",{flag},1')
        d_lines += [f'{len(d_lines)},{s},{h},{j + 1},"{c}"' for j, c in enumerate(codes)]
    d_lines += [f"{len(d_lines)},4,40,1,", f'{len(d_lines) + 1},9,999,1,"4019"']   # blank code, unknown HADM
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in (("ADMISSIONS.csv", a_lines), ("DIAGNOSES_ICD.csv", d_lines)):
        raw = ("\n".join(lines) + "\n").encode()
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return folder


@pytest.mark.parametrize("code, category", [("4019", "401"), ("401.9", "401"), ("V3001", "V30"),
                                            ("E8798", "E879"), ("E879.8", "E879"), ("0389", "038"), (" ", "")])
def test_icd9_category(code, category):
    assert mm.icd9_category(code) == category


def test_mimic3_visits_labels_and_multi_hot(tmp_path):
    t = mm.read_mimic3(mimic_fixture(tmp_path / "m", gz=True))
    r = t.report
    assert r["admissions_after_death_dropped"] == 1 and r["diagnoses_without_code_ignored"] == 1
    assert r["diagnoses_of_unknown_admissions_ignored"] == 1 and r["visits_without_diagnoses"] == 1
    cats = lambda p, v: [str(t.categories[c]) for c in t.category[t.code_start[t.visit_start[p] + v]:
                                                                  t.code_start[t.visit_start[p] + v + 1]]]
    p1, p2, p3, p4 = (int(np.flatnonzero(t.subject_ids == s)[0]) for s in (1, 2, 3, 4))
    assert t.visit_hadm[t.visit_start[p1]:t.visit_start[p1 + 1]].tolist() == [10, 11]     # by ADMITTIME
    assert cats(p1, 0) == ["401", "V30"] and cats(p1, 1) == ["250", "401", "E879"]
    assert t.labels[[p1, p2, p3, p4]].tolist() == [0, 1, 1, 0]
    assert t.visits[[p1, p2, p3, p4]].tolist() == [2, 1, 1, 1]

    d = mm.mimic3(path=str(tmp_path / "m"))
    e = d.info.extra
    vocab = [f[len("icd9:"):] for f in e["features"][1:]]
    train = np.isin(t.subject_ids, e["subject_ids"]["train"])
    seen = {str(t.categories[c]) for p in np.flatnonzero(train)
            for c in t.category[t.code_start[t.visit_start[p]]:t.code_start[t.visit_start[p + 1]]]}
    assert vocab == sorted(seen)                                         # the vocabulary: training patients only
    assert d.info.input_shape == (3, 1 + len(vocab)) and sum(e["sizes"].values()) == len(t)
    for name, split in (("train", d.train), ("val", d.val), ("test", d.test)):
        x = split.inputs[torch.arange(len(split))]
        ids = e["subject_ids"][name]
        assert x.shape == (len(split), 3, 1 + len(vocab)) and x.dtype == torch.float32
        assert x[..., 0].sum(1).tolist() == [float(t.visits[np.flatnonzero(t.subject_ids == s)[0]]) for s in ids]
        if 1 in ids:
            k = ids.index(1)
            for v in range(2):
                want = [c for c in cats(p1, v) if c in vocab]
                assert [vocab[j - 1] for j in torch.nonzero(x[k, v, 1:]).flatten() + 1] == want
            assert (x[k, 2] == 0).all()
        assert split.targets.tolist() == [int(t.labels[np.flatnonzero(t.subject_ids == s)[0]]) for s in ids]
    one = d.test.inputs[torch.tensor(0)]
    assert one.shape == d.info.input_shape


def test_mimic3_options_and_errors(tmp_path):
    folder = mimic_fixture(tmp_path / "m")
    full = mm.mimic3(path=str(folder))
    no_last = mm.mimic3(path=str(folder), include_last_visit=False)
    assert no_last.info.extra["patients_without_input_visits_dropped"] > 0
    assert sum(no_last.info.extra["sizes"].values()) + no_last.info.extra[
        "patients_without_input_visits_dropped"] == sum(full.info.extra["sizes"].values())
    last_one = mm.mimic3(path=str(folder), max_visits=1)
    assert last_one.info.input_shape[0] == 1
    adm = folder / "ADMISSIONS.csv"
    lines = adm.read_text().split("\n")
    adm.write_text("\n".join([lines[0], lines[1].replace("2101-01-05 10:00:00", "05/01/2101", 1), *lines[2:]]))
    with pytest.raises(DataError) as e:
        mm.read_mimic3(folder)
    assert one_line(e) == f"{adm}: line 2: ADMITTIME '05/01/2101' is not YYYY-MM-DD HH:MM:SS"
    adm.write_text("SUBJECT_ID,HADM_ID,ADMITTIME\n1,2,2100-01-01 00:00:00\n")
    with pytest.raises(DataError, match="no column HOSPITAL_EXPIRE_FLAG"):
        mm.read_mimic3(folder)
    with pytest.raises(DataError, match="holds no ADMISSIONS.csv"):
        mm.read_mimic3(tmp_path)
