"""``smkit.image.model_env``: a scan whose versions come from the seller's environment file
says where they came from, not that they are installed here."""

from __future__ import annotations

from pathlib import Path

import joblib
import sklearn
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier
from smkit.image import env_files
from smkit.image.model_env import with_environment
from smkit.image.pickle_scan import scan_model


def test_a_version_from_a_requirements_file_is_said_to_be_pinned_there(tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True)
    joblib.dump(DecisionTreeClassifier(random_state=0).fit(X, y), tmp_path / "model.joblib")
    other = "1.3.2" if sklearn.__version__ != "1.3.2" else "1.5.2"
    (tmp_path / "requirements.txt").write_text(f"scikit-learn=={other}\nnumpy==1.26.4\n")
    scan = with_environment(scan_model(tmp_path / "model.joblib"),
                            env_files.read_requirements(tmp_path / "requirements.txt"))
    [mismatch] = [m for m in scan.mismatches if m.distribution == "scikit-learn"]
    assert mismatch.installed == other
    assert f"but {other} is pinned in requirements.txt;" in mismatch.detail
    assert "the ones pinned in requirements.txt" in mismatch.detail
    assert "installed here" not in " ".join([mismatch.detail, *scan.notes])
