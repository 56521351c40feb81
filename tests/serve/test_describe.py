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
from smkit_testkit import HANG_MODULE, HANG_TRAIN


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


def test_a_model_that_hangs_in_predict_is_described_as_hanging_within_the_limit(
        tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    (tmp_path / "hang.py").write_text(HANG_MODULE)
    model_dir, sample = tmp_path / "model", tmp_path / "sample"
    model_dir.mkdir()
    sample.mkdir()
    (tmp_path / "train.py").write_text(HANG_TRAIN)
    subprocess.run([sys.executable, "train.py", str(model_dir / "model.joblib")],
                   cwd=tmp_path, check=True, timeout=60)
    (sample / "sample").write_text("5.1,3.5,1.4,0.2\n")
    (sample / "content_type").write_text("text/csv")
    run = ("import sys, smkit_serve.describe as d; d.INPUT_DIR = sys.argv[2]; "
           "sys.exit(d.main('describe', sys.argv[1], timeout=3))")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", run, str(model_dir), str(sample)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          check=False)
    assert time.monotonic() - t0 < 30
    assert proc.returncode == 1, proc.stderr
    read = Description.from_json(json.loads(proc.stdout))
    assert read.model is not None
    assert read.model.type == "Pipeline"
    assert read.derivation is not None
    assert read.derivation.error is not None
    assert read.derivation.error.startswith(
        "the sklearn model did not predict the validation sample within 3 s"), read
    assert "the model hangs in predict" in read.derivation.error
