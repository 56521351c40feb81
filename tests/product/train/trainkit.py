"""Shared by the training scripts; runs inside the training venvs (numpy 1.23 to 2.x, pandas
1.5 to 3.x, scikit-learn 1.1 to 1.9), so it uses only long-stable APIs.

``save`` writes one model the way a seller would hand it to smkit, plus what the tests need:
``NAME/model/model.joblib`` (or ``model.pkl`` from ``pickle.dump``, ``model.skops`` from
``skops.io.dump``, or an MLflow model directory from ``mlflow.sklearn.save_model``: the ways
sellers save), ``NAME/model/sample_input.csv`` (one row, for the start-up check),
``NAME/input.csv`` (held-out rows, no header) and ``NAME/expected.json`` (the model's own
predictions on exactly those rows, computed here, in the training venv).
"""

from __future__ import annotations

import csv
import importlib.metadata
import json
import math
import pickle
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np


def out_dir() -> Path:
    """The output folder given on the command line."""
    path = Path(sys.argv[1])
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cell(value: Any) -> str:
    """One CSV cell: repr for floats (round-trips exactly), empty for missing."""
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def _rows(frame_or_array: Any) -> list[list[str]]:
    if hasattr(frame_or_array, "itertuples"):
        return [[_cell(v) for v in row] for row in frame_or_array.itertuples(index=False)]
    return [[_cell(v) for v in row] for row in np.asarray(frame_or_array, dtype=object)]


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    # No trailing newline, as a batch-transform record split leaves it.
    path.write_bytes(path.read_bytes().rstrip(b"\n"))


def _as_json(values: Any) -> tuple[Any, str]:
    array = np.asarray(values)
    return array.tolist(), str(array.dtype)


#: How a model is saved: the file name in the model folder for each way.
#: (MLflow 3 saves a scikit-learn model with skops by default.)
SAVED_AS = {"joblib": "model.joblib", "pickle": "model.pkl", "skops": "model.skops",
            "mlflow": "model.skops"}


def _dump(model: Any, folder: Path, how: str) -> None:
    """Save ``model`` into ``folder`` (made here) the way ``how`` says."""
    if how == "mlflow":
        import mlflow.sklearn  # only the MLflow environment has it

        mlflow.sklearn.save_model(model, str(folder))  # makes the folder; refuses one that exists
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SAVED_AS[how]
    if how == "joblib":
        joblib.dump(model, path)
    elif how == "pickle":
        with path.open("wb") as f:
            pickle.dump(model, f)
    else:
        import skops.io  # only the environments that save with skops have it

        skops.io.dump(model, path)


def save(out: Path, name: str, model: Any, X_held_out: Any, how: str = "joblib") -> None:
    """Save ``model`` (``how``: a key of SAVED_AS) and its predictions (and probabilities)
    on ``X_held_out``."""
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    _dump(model, folder / "model", how)
    rows = _rows(X_held_out)
    _write_csv(folder / "input.csv", rows)
    _write_csv(folder / "model" / "sample_input.csv", rows[:1])
    predictions, dtype = _as_json(model.predict(X_held_out))
    expected: dict[str, Any] = {
        "type": f"{type(model).__module__}.{type(model).__name__}",
        "file": SAVED_AS[how],
        "rows": len(rows),
        "predictions": predictions,
        "predictions_dtype": dtype,
        "probabilities": None,
        "probabilities_dtype": None,
    }
    if hasattr(model, "predict_proba"):
        expected["probabilities"], expected["probabilities_dtype"] = _as_json(
            model.predict_proba(X_held_out)
        )
    (folder / "expected.json").write_text(json.dumps(expected))


def write_versions(out: Path) -> None:
    """What this venv has installed, for the tests to check the matrix really ran."""
    versions = {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()}
    (out / "versions.json").write_text(json.dumps(versions, indent=1, sort_keys=True))


def rounded(values: np.ndarray, decimals: int = 5) -> np.ndarray:
    """Held-out values as a buyer would send them: a few decimals, so every CSV reader
    parses them to the same double."""
    return np.round(np.asarray(values, dtype=np.float64), decimals)
