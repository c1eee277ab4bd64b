"""`image_folder`: real PNGs written from the bundled CIFAR-10 sample, trained and reported; unusable folders are
one line naming the file."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from nnstudy.cli import main
from nnstudy.data import build_dataset


def _write_pngs(folder: Path, per_class: int = 40, classes: int = 3) -> Path:
    sample = build_dataset("cifar10-sample", val_fraction=0.0)
    x, y, names = sample.train.inputs, sample.train.targets, sample.info.class_names
    for c in range(classes):
        (folder / names[c]).mkdir(parents=True)
        for i, k in enumerate(np.flatnonzero(y.numpy() == c)[:per_class]):
            Image.fromarray(x[k].permute(1, 2, 0).numpy()).save(folder / names[c] / f"{i}.png")
    return folder


def test_a_study_on_a_folder_of_pngs(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "data-root"))
    folder = _write_pngs(tmp_path / "photos")
    data = build_dataset("image_folder", path=str(folder))
    assert data.info.class_names == ["airplane", "automobile", "bird"] and data.info.input_shape == (3, 32, 32)
    assert (len(data.train), len(data.val), len(data.test)) == (86, 10, 24)
    assert len(list((tmp_path / "data-root" / "image_folder").glob("*.pt"))) == 1      # decoded once, cached
    again = build_dataset("image_folder", path=str(folder))
    assert bool((again.train.inputs == data.train.inputs).all())
    study = tmp_path / "s.yaml"
    study.write_text(yaml.safe_dump({
        "name": "pngs", "seeds": [0], "ablate": {"model.act": ["tanh"]},
        "base": {"model": {"name": "tutorial_cnn"}, "data": {"name": "image_folder", "path": str(folder)},
                 "optim": {"name": "adam", "lr": 0.002}, "train": {"epochs": 3, "batch_size": 16, "threads": 1}}}))
    assert main(["run", str(study), "--out", str(tmp_path / "studies"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "studies" / "pngs" / "runs" / "base__s0" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["data"]["info"]["sizes"]["train"] == 86
    assert (tmp_path / "studies" / "pngs" / "report.html").is_file()


@pytest.mark.parametrize("spoil, needle", [
    (lambda f: (f / "bird" / "notes.txt").write_text("x"), "notes.txt: not a PNG or JPEG file"),
    (lambda f: (f / "bird" / "99.png").write_bytes(b"not a png"), "99.png: not a readable image"),
    (lambda f: Image.new("RGB", (16, 16)).save(f / "bird" / "98.png"), "98.png: 16×16 with 3 channel(s), but"),
    (lambda f: [p.unlink() for p in (f / "bird").iterdir()], "bird: a class folder without images"),
])
def test_unusable_folders_name_the_file(tmp_path, capsys, monkeypatch, spoil, needle):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "data-root"))
    folder = _write_pngs(tmp_path / "photos", per_class=5)
    spoil(folder)
    rc = main(["train", "tutorial_cnn", "data.name=image_folder", f"data.path={folder}", f"out_dir={tmp_path}/r",
               "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and needle in err, err
