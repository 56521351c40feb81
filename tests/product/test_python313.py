"""Issue 23 item 5: the image's Python follows the seller's where Debian offers it.

A seller trains in a CPython 3.13 venv a pipeline whose first step is their own transformer,
in a module that uses syntax Python 3.11 cannot even parse (a ``type`` alias statement and a
PEP 695 generic function). ``smkit env detect --python`` proposes ``python.version: "3.13"``
and lists the module as source; that section, put in ``smkit.yaml`` as the seller would,
builds a product image on Debian trixie's Python 3.13, whose answers under ``--network none``
equal the pipeline's own predict and predict_proba in the training venv.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from productkit import PROBABILITIES, assert_same, invoke, run_smkit, spec_dict
from smkit.image import docker
from venvkit import ensure_venv

pytestmark = pytest.mark.container

PYTHON313 = Path("/root/.pyenv/versions/3.13.0/bin/python")
PINS = ("scikit-learn==1.9.1", "numpy==2.4.6", "scipy==1.17.1", "joblib==1.6.0")

#: The seller's own module: a SyntaxError on Python 3.11 (``type`` statement, PEP 695).
SELLER_MODULE = '''\
"""The seller's feature step, written for Python 3.12+."""
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

type Bounds = tuple[float, float]


def widest[T: float](values: list[T]) -> T:
    return max(values, key=abs)


class Clipper(TransformerMixin, BaseEstimator):
    def __init__(self, bounds: Bounds = (-1.5, 1.5)) -> None:
        self.bounds = bounds

    def fit(self, X, y=None):
        self.scale_ = widest([float(v) for v in np.abs(X).max(axis=0)])
        return self

    def transform(self, X):
        low, high = self.bounds
        return np.clip(np.asarray(X, dtype=float) / self.scale_ * 3, low, high)
'''

TRAIN = '''\
import json, sys
from pathlib import Path
import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from shapes import Clipper

out = Path(sys.argv[1])
rng = np.random.default_rng(7)
X = rng.normal(size=(400, 4))
y = (X[:, 0] + 0.5 * X[:, 1] - X[:, 3] > 0).astype(int)
model = make_pipeline(Clipper(), LogisticRegression()).fit(X[:300], y[:300])
(out / "model").mkdir(parents=True)
joblib.dump(model, out / "model" / "model.joblib")
np.savetxt(out / "model" / "sample_input.csv", X[300:305], delimiter=",", fmt="%.17g")
np.savetxt(out / "input.csv", X[300:], delimiter=",", fmt="%.17g")
pred, proba = model.predict(X[300:]), model.predict_proba(X[300:])
(out / "expected.json").write_text(json.dumps({
    "predictions": pred.tolist(), "predictions_dtype": str(pred.dtype),
    "probabilities": proba.tolist(), "probabilities_dtype": str(proba.dtype),
    "python": sys.version}))
'''


@pytest.mark.skipif(not PYTHON313.is_file(), reason=f"no CPython 3.13 at {PYTHON313}")
def test_a_313_sellers_own_code_imports_in_a_313_image(tmp_path: Path) -> None:
    venv = ensure_venv(PINS, python=PYTHON313)
    project = tmp_path / "project"
    project.mkdir()
    (project / "shapes.py").write_text(SELLER_MODULE)
    (project / "train.py").write_text(TRAIN)
    venv.run("train.py", project, cwd=project, python_path=[project])
    expected = json.loads((project / "expected.json").read_text())
    assert expected["python"].startswith("3.13")

    detect = run_smkit("env", "detect", "--model", "model", "--python", venv.python,
                       cwd=project, timeout=300)
    assert detect.returncode == 0, detect.stderr
    python = yaml.safe_load(detect.stdout)["python"]
    assert python["version"] == "3.13", detect.stdout
    assert python["source"] == ["shapes.py"], detect.stdout
    assert 'python.version "3.13" is proposed' in detect.stderr, detect.stderr

    (project / "validation").mkdir()
    shutil.copy2(project / "model" / "sample_input.csv", project / "validation" / "input.csv")
    (project / "smkit.yaml").write_text(yaml.safe_dump(spec_dict("py313-own-code", python),
                                                       sort_keys=False))
    build = run_smkit("build", "smkit.yaml", cwd=project)
    assert build.returncode == 0, build.stderr[-6000:]
    image = build.stdout.strip().splitlines()[-1]

    inside = docker.docker("run", "--rm", "--network", "none", "--entrypoint", "python3",
                           image, "-c", "import sys; print(sys.version)").stdout.decode()
    assert inside.startswith("3.13."), inside
    body = (project / "input.csv").read_bytes()
    with docker.serve(image, project / "model", network="none", startup_timeout=90) as server:
        assert_same(invoke(server, body), expected["predictions"],
                    expected["predictions_dtype"], "predictions")
        assert_same(invoke(server, body, PROBABILITIES), expected["probabilities"],
                    expected["probabilities_dtype"], "probabilities")
