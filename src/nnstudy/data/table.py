"""A table of your own: CSV (optionally gzipped) or Parquet, one row per sample, a target column.

    nnstudy train mlp data.name=table data.path=patients.csv data.target=outcome

Features are every other column unless `features` names them. Numeric columns are standardised with the training
split's mean and standard deviation (recorded in the summary); text columns are one-hot encoded (categories from
the training split; a category seen only later gets all zeros). The task follows the target: text, booleans or
integers with at most `max_classes` distinct values are classification (classes sorted, their names kept),
anything else regression (the target standardised on the training split too; see tasks.regression). Missing
values and non-finite numbers are refused with the file and line.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..errors import DataError, clip
from . import register_dataset
from .base import DataInfo, Dataset, Split
from .files import check_finite, read_frame
from .splits import stratified_split
from .store import sha256_file

__all__ = ["table", "read_table"]

def read_table(path: str | Path) -> pd.DataFrame:
    """The rows of a CSV (UTF-8, gzipped or not) or Parquet file; DataError naming the file when it is neither."""
    return read_frame(Path(path).expanduser(), "table")[0]


def _line(path: Path, parquet: bool):
    return (lambda row: f"{path}: row {row + 1}") if parquet else (lambda row: f"{path}: line {row + 2}")


@register_dataset("table", tags=("table",))
def table(*, path: str | None = None, target: str = "target", features: list[str] | None = None,
          drop: list[str] | None = None, task: str = "auto", max_classes: int = 50, val_fraction: float = 0.1,
          test_fraction: float = 0.2, split_seed: int = 0) -> Dataset:
    """Rows of a CSV or Parquet file: `target` column → classes or a value (see the module docstring).

    Args:
        path: the file (.csv, .csv.gz or .parquet).
        target: the column to predict.
        features: the input columns (default: all others).
        drop: columns to leave out of the default features (an id column, say).
        task: auto, classification or regression.
        max_classes: with task auto, an integer target with more distinct values than this is a regression.
        val_fraction, test_fraction: shares of the rows for validation and test, drawn with `split_seed`.
    """
    if path is None:
        raise DataError("table: give the file with data.path=FILE (CSV or Parquet) and the column to predict "
                        "with data.target=NAME")
    file = Path(path).expanduser()
    frame, parquet = read_frame(file, "table")
    where = _line(file, parquet)
    if target not in frame.columns:
        raise DataError(f"{file}: no column {clip(target, quote=True)} to predict (data.target); columns: "
                        f"{clip(', '.join(map(str, frame.columns)), 200)}")
    names = [c for c in frame.columns if c != target and c not in (drop or [])] if features is None \
        else list(features)
    missing = [c for c in [*names, *(drop or [])] if c not in frame.columns]
    if missing or not names:
        raise DataError(f"{file}: " + (f"no column(s) {clip(', '.join(map(str, missing)))} (data.features, data.drop)"
                                       if missing else "no feature columns besides the target"))
    if len(frame) < 10:
        raise DataError(f"{file}: {len(frame)} rows; a table needs at least 10 to split into train, validation "
                        f"and test")
    for column in [*names, target]:
        empty = frame[column].isna().to_numpy()
        if empty.any():
            raise DataError(f"{where(int(np.argmax(empty)))}: {clip(str(column), quote=True)} is empty; fill "
                            f"or drop the rows with missing values first")
    y, kind, class_names = _target(frame[target], task, max_classes, file, target)
    if not (0 <= val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise DataError(f"table: val_fraction={val_fraction}, test_fraction={test_fraction}: expected shares in "
                        f"[0, 1) and (0, 1) that leave rows to train on")
    order = _split_rows(y, kind, val_fraction, test_fraction, split_seed)
    x, encoding = _features(frame, names, order["train"], where, file)
    extra: dict[str, Any] = {"table": {"file": str(file), "sha256": sha256_file(file), "rows": len(frame),
                                       "target": target, "features": encoding}}
    if kind == "regression":
        mean, std = float(y[order["train"]].mean()), float(y[order["train"]].std()) or 1.0
        y = (y - mean) / std
        extra["target_scale"] = [mean, std]
    targets = torch.tensor(y, dtype=torch.float32 if kind == "regression" else torch.long)
    inputs = torch.tensor(x, dtype=torch.float32)
    split = {k: Split(inputs[idx], targets[idx]) if len(idx) else None for k, idx in order.items()}
    if split["test"] is None or split["train"] is None:
        raise DataError(f"{file}: {len(frame)} rows leave no training or test rows with val_fraction="
                        f"{val_fraction}, test_fraction={test_fraction}")
    info = DataInfo(input_shape=(x.shape[1],), num_classes=len(class_names) if class_names else 1,
                    class_names=class_names, task=kind, extra=extra)
    return Dataset("table", split["train"], split["val"], split["test"], info, source=str(file))


def _target(column: pd.Series, task: str, max_classes: int, file: Path, name: str
            ) -> tuple[np.ndarray, str, list[str] | None]:
    """(values, 'classification' or 'regression', class names)."""
    if task not in ("auto", "classification", "regression"):
        raise DataError(f"data.task={clip(task, quote=True)}: expected auto, classification or regression")
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    whole = numeric and bool(np.all(np.mod(column.to_numpy(dtype=np.float64), 1) == 0))
    if task == "auto":
        task = "classification" if not numeric or (whole and column.nunique() <= max_classes) else "regression"
    if task == "regression":
        if not numeric:
            raise DataError(f"{file}: column {clip(name, quote=True)} holds text; regression needs numbers")
        values = column.to_numpy(dtype=np.float64)
        check_finite(values, lambda r: f"{file}: row {r + 1}", lambda r, c: (name, str(column.iloc[r])))
        return values, task, None
    classes = sorted(column.unique().tolist(), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise DataError(f"{file}: column {clip(name, quote=True)} has one class ({clip(classes[0])}); "
                        f"classification needs at least two")
    index = {c: i for i, c in enumerate(classes)}
    return column.map(index).to_numpy(dtype=np.int64), task, [str(c) for c in classes]


def _features(frame: pd.DataFrame, names: list[str], train: np.ndarray, where, file: Path
              ) -> tuple[np.ndarray, dict]:
    """Numeric columns standardised on the training rows, text columns one-hot (training categories)."""
    blocks, encoding = [], {}
    for name in names:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column):
            values = column.to_numpy(dtype=np.float64)
            check_finite(values, where, lambda r, c, n=name: (str(n), str(frame[n].iloc[r])))
            mean, std = float(values[train].mean()), float(values[train].std()) or 1.0
            blocks.append(((values - mean) / std)[:, None])
            encoding[str(name)] = {"standardised": [mean, std]}
        else:
            categories = sorted(map(str, column.iloc[train].unique()))
            if len(categories) > 0.5 * len(train) and len(train) > 20:   # an id, not a category
                raise DataError(f"{file}: text column {clip(str(name), quote=True)} has {len(categories):,} "
                                f"different values in {len(train):,} training rows, like an id; leave it out "
                                f"with data.drop=[{name}]")
            text = column.astype(str).to_numpy()
            blocks.append(np.stack([text == c for c in categories], axis=1).astype(np.float64))
            encoding[str(name)] = {"one_hot": categories[:50] + (["…"] if len(categories) > 50 else [])}
    return np.concatenate(blocks, axis=1), encoding


def _split_rows(y: np.ndarray, kind: str, val_fraction: float, test_fraction: float, seed: int
                ) -> dict[str, np.ndarray]:
    """Row indices of train / val / test drawn with `seed`; stratified by class for classification."""
    g = torch.Generator().manual_seed(seed)
    if kind == "classification":
        labels = torch.tensor(y)   # a copy: pandas may hand over a read-only array
        rest, test = stratified_split(labels, test_fraction, g)
        train, val = stratified_split(labels[rest], val_fraction / (1 - test_fraction), g)
        train, val = rest[train], rest[val]
    else:
        perm = torch.randperm(len(y), generator=g)
        n_test, n_val = round(test_fraction * len(y)), round(val_fraction * len(y))
        test, val, train = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    return {k: v.sort().values.numpy() for k, v in (("train", train), ("val", val), ("test", test))}
