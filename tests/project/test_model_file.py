"""Which file is the model: one rule (smkit_contract.names.model_file), the same answer on
both halves, without Docker."""

from __future__ import annotations

from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier
from smkit.core.errors import UserError
from smkit.image import artifact
from smkit.image.pickle_scan import scan_model
from smkit_contract import names
from smkit_serve.model import ModelLoadError, find_model_file


@pytest.fixture(scope="module")
def fitted() -> DecisionTreeClassifier:
    X, y = load_iris(return_X_y=True)
    return DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)


def test_a_single_joblib_under_any_name_is_the_model_for_every_caller(
        tmp_path: Path, fitted: DecisionTreeClassifier) -> None:
    joblib.dump(fitted, tmp_path / "clf.joblib")
    (tmp_path / "notes.txt").write_text("not a model")
    expected = tmp_path / "clf.joblib"
    assert names.model_file(tmp_path) == expected
    assert artifact.model_file(tmp_path) == expected
    assert find_model_file(str(tmp_path)) == expected
    assert scan_model(tmp_path).path == expected


def test_a_contract_name_wins_over_another_joblib(tmp_path: Path,
                                                 fitted: DecisionTreeClassifier) -> None:
    joblib.dump(fitted, tmp_path / "clf.joblib")
    joblib.dump(fitted, tmp_path / "model.pkl")
    assert names.model_file(tmp_path) == tmp_path / "model.pkl"


def test_two_joblib_files_and_no_contract_name_are_refused_by_name(
        tmp_path: Path, fitted: DecisionTreeClassifier) -> None:
    joblib.dump(fitted, tmp_path / "a.joblib")
    joblib.dump(fitted, tmp_path / "b.joblib")
    with pytest.raises(names.ModelFileError, match=r"2 \*\.joblib files \(a\.joblib, b\.joblib\)"):
        names.model_file(tmp_path)
    with pytest.raises(UserError, match=r"^model_dir: .*name the model model\.joblib"):
        artifact.model_file(tmp_path)
    with pytest.raises(ModelLoadError, match="define model_fn"):
        find_model_file(str(tmp_path))


def test_an_empty_folder_says_what_it_holds(tmp_path: Path) -> None:
    (tmp_path / "readme.md").write_text("")
    with pytest.raises(UserError, match=r"has no model\.joblib \(found: readme\.md\); give "
                                        "--model the file itself"):
        scan_model(tmp_path)
