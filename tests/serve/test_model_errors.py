"""The server says what cannot be served in the words the host's pickle scan uses
(tests/cli/test_mistakes.py holds the host's commands to the same first lines).

A model the scan would refuse still reaches a server when the seller skips smkit's checks
(``--allow-todo``, a hand-made model.tar.gz): its reason is then the cause and the fix, not
pickle's ``AttributeError``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier
from smkit_serve.model import load_model
from smkit_testkit import TRAIN_IN_MAIN


def test_a_class_from_the_training_script_is_named_with_its_fix(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(TRAIN_IN_MAIN)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    subprocess.run([sys.executable, "train.py", "model/model.joblib"], cwd=tmp_path,
                   check=True)
    loaded = load_model(str(model_dir))
    assert loaded.model is None
    assert "AttributeError" not in loaded.reason
    assert loaded.reason.startswith("model.joblib: __main__.LogDistance was defined in the "
                                    "script or notebook that saved the model (__main__)")
    assert loaded.reason.endswith("move it into a module (e.g. features.py), import it from "
                                  "there, save the model again and list that file under "
                                  "python.source")


def test_a_truncated_file_is_worded_as_the_pickle_scan_words_it(tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True)
    whole = tmp_path / "whole.joblib"
    joblib.dump(DecisionTreeClassifier(random_state=0).fit(X, y), whole)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    raw = whole.read_bytes()
    (model_dir / "model.joblib").write_bytes(raw[:300])
    loaded = load_model(str(model_dir))
    assert loaded.model is None
    assert loaded.reason.startswith("model.joblib is not a loadable joblib file (")
    assert loaded.reason.endswith("it may be truncated or corrupt: save the model again with "
                                  "joblib.dump(model, 'model.joblib')")
