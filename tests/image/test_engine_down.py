"""With no Docker engine, the commands that need one say so on their first line instead of
taking the engine's silence for a missing image and setting out to build one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier


@pytest.mark.parametrize("command", [
    pytest.param(("local", "endpoint", "model"), id="local-endpoint"),
    pytest.param(("build", "--default"), id="build"),
])
def test_no_engine_is_named_first(tmp_path: Path, command: tuple[str, ...]) -> None:
    (tmp_path / "model").mkdir()
    X, y = load_iris(return_X_y=True)
    joblib.dump(DecisionTreeClassifier().fit(X, y), tmp_path / "model" / "model.joblib")
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
           "SMKIT_HOME": str(tmp_path / "home")}
    # A hang here (the old behaviour: building the default image) fails by the timeout.
    proc = subprocess.run([sys.executable, "-m", "smkit.cli", *command], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    first = proc.stderr.strip().splitlines()[0]
    assert "no Docker engine is running" in first, proc.stderr
    assert "Traceback" not in proc.stderr
