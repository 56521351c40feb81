"""The describe exchange: what the image prints reads back on the host as the same typed
description, and a version the host does not know is refused with the fix."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pytest
import sklearn
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier
from smkit_contract.describe import VERSION, Description, ExchangeError
from smkit_serve.describe import describe, main


def test_the_printed_description_reads_back_on_the_host(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    X, y = load_iris(return_X_y=True)
    joblib.dump(DecisionTreeClassifier(random_state=0).fit(X, y), tmp_path / "clf.joblib")
    assert main("describe", str(tmp_path)) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["version"] == VERSION
    read = Description.from_json(printed)
    assert read == describe(str(tmp_path))
    assert read.model_file == "clf.joblib"
    assert read.error is None
    assert read.versions.packages["scikit-learn"] == sklearn.__version__
    assert read.model is not None
    assert (read.model.type, read.model.task, read.model.n_features, read.model.classes) == (
        "DecisionTreeClassifier", "classification", 4, [0, 1, 2])


def test_a_folder_without_a_model_prints_the_error_and_fails(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main("describe", str(tmp_path)) == 1
    read = Description.from_json(json.loads(capsys.readouterr().out))
    assert read.model is None
    assert read.error is not None
    assert "has no model.joblib" in read.error


def test_an_unversioned_description_is_version_1_and_another_version_is_refused() -> None:
    old = {"versions": {"python": "3.11.9", "smkit": "0.1.0", "packages": {}},
           "error": "boom"}
    assert Description.from_json(old).error == "boom"
    with pytest.raises(ExchangeError, match=r"describe version 2 .* rebuild the image"):
        Description.from_json({**old, "version": 2})
