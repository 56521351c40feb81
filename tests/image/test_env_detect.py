"""``smkit env detect`` and ``smkit spec init --model`` read the environment where the seller
has it, without installing smkit there: a real CPython 3.12 venv (``--python``), its own
``pip freeze`` (``--from``), and real MLflow model directories written by mlflow-skinny in a
venv of their own (skops, MLflow 3's default, and cloudpickle, older MLflow's). The venvs
are made once with pip and cached like the product tests' (``tests/product/venvkit.py``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sklearn
import skops
import yaml
from product import venvkit
from smkit.cli import main
from smkit.image import build as images_mod
from smkit.image import docker
from smkit.project import spec_yaml

#: A training venv on another Python than the image's and smkit's (3.11), with older pins.
PINS_312 = ("scikit-learn==1.5.2", "numpy==1.26.4", "scipy==1.13.1", "joblib==1.4.2")
#: MLflow 3 (the skinny distribution: the same mlflow.sklearn, fewer dependencies), with a
#: skops older than smkit's own, so a version read from the MLflow files is told apart.
PINS_MLFLOW = ("mlflow-skinny==3.18.0", "scikit-learn==1.5.2", "numpy==1.26.4",
               "scipy==1.13.1", "skops==0.13.0", "pandas==2.2.3")
PYTHON_312 = next(iter(sorted((Path.home() / ".pyenv" / "versions").glob(
    "3.12.*/bin/python3.12"))), None)

TRAIN_312 = """\
import sys, joblib
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
X, y = load_iris(return_X_y=True)
joblib.dump(RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y), sys.argv[1])
"""
SAVE_MLFLOW = """\
import json, sys
import numpy as np, mlflow.sklearn
from sklearn.datasets import load_iris
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
out = sys.argv[1]
X, y = load_iris(return_X_y=True)
rows = X[::7]
models = {
    "skops_model": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
    "cloudpickle_model": make_pipeline(StandardScaler(),
                                       HistGradientBoostingClassifier(max_iter=20)),
}
for name, model in models.items():
    model.fit(X, y)
    kwargs = {} if name == "skops_model" else {"serialization_format": "cloudpickle"}
    mlflow.sklearn.save_model(model, f"{out}/{name}", **kwargs)
    json.dump(model.predict(rows).tolist(), open(f"{out}/{name}.expected.json", "w"))
np.savetxt(f"{out}/input.csv", rows, delimiter=",", fmt="%r")
"""


def venv_312() -> venvkit.Venv:
    """The CPython 3.12 venv with ``PINS_312``, made once (as venvkit makes its 3.11 ones)."""
    if PYTHON_312 is None:
        pytest.skip("no CPython 3.12 on this machine")
    path = venvkit.CACHE / venvkit.venv_key(PINS_312, PYTHON_312)
    marker = path / ".smkit-complete.json"
    if not marker.is_file():
        subprocess.run([str(PYTHON_312), "-m", "venv", "--clear", str(path)], check=True,
                       timeout=300)
        venvkit.Venv(path, PINS_312).run("-m", "pip", "install", "--no-input", "-q",
                                         "--only-binary=:all:", *PINS_312,
                                         timeout=venvkit.PIP_TIMEOUT_S)
        marker.write_text(json.dumps({"pins": sorted(PINS_312)}))
    return venvkit.Venv(path, PINS_312)


@pytest.fixture(scope="module")
def trained_312(tmp_path_factory: pytest.TempPathFactory) -> tuple[venvkit.Venv, Path]:
    """The 3.12 venv and a project whose model/model.joblib was saved there."""
    venv = venv_312()
    project = tmp_path_factory.mktemp("py312")
    (project / "model").mkdir()
    venv.run("-c", TRAIN_312, project / "model" / "model.joblib")
    return venv, project


@pytest.fixture(scope="module")
def mlflow_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two MLflow model directories saved by mlflow.sklearn.save_model, with the rows
    (input.csv) and each model's own predictions on them (NAME.expected.json)."""
    out = tmp_path_factory.mktemp("mlflow")
    venvkit.ensure_venv(PINS_MLFLOW).run("-c", SAVE_MLFLOW, out)
    return out


def _detect(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[dict[str, Any], str]:
    assert main(["env", "detect", *args]) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    return yaml.safe_load(captured.out), captured.err


def test_python_asks_the_training_interpreter_for_its_versions(
        trained_312: tuple[venvkit.Venv, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    venv, project = trained_312
    monkeypatch.chdir(project)
    assert sklearn.__version__ != "1.5.2"  # smkit's own would give other versions
    out, err = _detect(capsys, "--python", str(venv.python))
    have = venv.versions()  # what the venv itself says it has
    assert out["python"]["packages"] == [
        f"joblib=={have['joblib']}", f"numpy=={have['numpy']}",
        f"scikit-learn=={have['scikit-learn']}"]
    assert out["python"]["packages"] == ["joblib==1.4.2", "numpy==1.26.4",
                                         "scikit-learn==1.5.2"]
    assert f"note: versions read from {venv.python} (Python 3.12." in err
    assert ("note: the model was trained with Python 3.12 and the image runs Python 3.11: "
            "your own code (python.source) must run on 3.11") in err
    # Nothing was installed into the seller's venv.
    assert "smkit" not in have
    # The venv folder itself is taken too.
    again, _ = _detect(capsys, "--python", str(venv.path))
    assert again == out


def test_spec_init_takes_the_training_interpreters_versions(
        trained_312: tuple[venvkit.Venv, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    venv, project = trained_312
    monkeypatch.chdir(project)
    spec = project / "from-python.yaml"
    assert main(["spec", "init", str(spec), "--model", "model/model.joblib",
                 "--python", str(venv.python)]) == 0, capsys.readouterr().err
    written = yaml.safe_load(spec.read_text())["python"]["packages"]
    assert written == ["joblib==1.4.2", "numpy==1.26.4", "scikit-learn==1.5.2"]


def test_spec_init_refuses_python_without_a_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["spec", "init", "--python", "x"]) == 2
    assert "--python and --from need --model" in capsys.readouterr().err
    assert not (tmp_path / "smkit.yaml").exists()


def test_from_reads_the_same_versions_from_pip_freeze(
        trained_312: tuple[venvkit.Venv, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    venv, project = trained_312
    freeze = project / "freeze.txt"
    freeze.write_text(venv.run("-m", "pip", "freeze").stdout)
    monkeypatch.chdir(project)
    out, err = _detect(capsys, "--from", "freeze.txt")
    assert out["python"]["packages"] == ["joblib==1.4.2", "numpy==1.26.4",
                                         "scikit-learn==1.5.2"]
    assert "note: versions read from freeze.txt" in err


def test_python_and_from_together_are_refused(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "detect", "--python", "x", "--from", "y"]) == 2
    assert "give --python or --from, not both" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "packages", "loader_note"), [
    ("skops_model", ["scikit-learn==1.5.2", "skops==0.13.0"],
     "note: skops is listed because the server loads model.skops with it"),
    ("cloudpickle_model", ["scikit-learn==1.5.2"],
     "note: joblib is not pinned in cloudpickle_model/ (MLflow model); the build adds a "
     "version that fits the other pins"),
])
def test_an_mlflow_model_directory_is_read_with_its_own_pins(
        mlflow_models: Path, name: str, packages: list[str], loader_note: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(mlflow_models)
    assert skops.__version__ != "0.13.0"  # the MLflow files', not smkit's own
    out, err = _detect(capsys, "--model", name)
    assert out["python"]["packages"] == packages
    assert f"note: versions read from {name}/ (MLflow model)" in err
    assert (f"note: numpy is not pinned in {name}/ (MLflow model); the build picks a version "
            "that fits the other pins") in err
    assert loader_note in err
    explicit, _ = _detect(capsys, "--model", name, "--from", f"{name}/MLmodel")
    assert explicit == out


def _project(mlflow_models: Path, name: str, root: Path) -> Path:
    """A seller's folder: the MLflow directory as the model, the rows as validation input,
    and the spec ``smkit spec init --model`` wrote (its placeholders kept)."""
    shutil.copytree(mlflow_models / name, root / "model")
    (root / "validation").mkdir()
    shutil.copy2(mlflow_models / "input.csv", root / "validation" / "input.csv")
    assert main(["spec", "init", str(root / "smkit.yaml"), "--model",
                 str(root / "model")]) == 0
    return root / "smkit.yaml"


@pytest.mark.parametrize("name", ["skops_model", "cloudpickle_model"])
def test_spec_init_with_an_mlflow_directory_writes_its_pins(
        mlflow_models: Path, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    spec = spec_yaml.load(_project(mlflow_models, name, tmp_path))
    assert spec.model_dir == tmp_path / "model"
    assert "scikit-learn==1.5.2" in spec.python.packages
    assert ("skops==0.13.0" in spec.python.packages) == (name == "skops_model")
    assert f"versions read from {name}/ (MLflow model)" not in capsys.readouterr().out


@pytest.mark.container
@pytest.mark.parametrize("name", ["skops_model", "cloudpickle_model"])
def test_an_mlflow_directory_is_served_as_mlflow_predicted(
        mlflow_models: Path, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """spec init --model, build, package (proven offline), then the product image answers
    what the model answered in the venv MLflow saved it from."""
    monkeypatch.chdir(tmp_path)
    spec_file = _project(mlflow_models, name, tmp_path)
    assert main(["build", str(spec_file)]) == 0, capsys.readouterr().err
    assert main(["package", str(spec_file)]) == 0, capsys.readouterr().err
    assert "validation sample predicted" in capsys.readouterr().out
    spec = spec_yaml.load(spec_file)
    image = images_mod.for_spec(spec).image.local
    expected = json.loads((mlflow_models / f"{name}.expected.json").read_text())
    body = (mlflow_models / "input.csv").read_bytes()
    with docker.serve(image, tmp_path / "model", network="none", startup_timeout=90) as server:
        status, _, data = server.request_inside("POST", "/invocations", body, {
            "Content-Type": "text/csv", "Accept": "application/json"})
    assert status == 200, data[:2000]
    np.testing.assert_array_equal(np.asarray(json.loads(data)["predictions"]),
                                  np.asarray(expected))


def test_check_resolves_the_pins_for_the_image_before_any_build(
        trained_312: tuple[venvkit.Venv, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    venv, project = trained_312
    monkeypatch.chdir(project)
    out, err = _detect(capsys, "--python", str(venv.python), "--check")
    assert out["python"]["packages"] == ["joblib==1.4.2", "numpy==1.26.4",
                                         "scikit-learn==1.5.2"]
    assert ("check: every pin has a wheel for the image (Python 3.11, Linux x86_64) and fits "
            "the server's own") in err


@pytest.mark.parametrize(("pin", "message"), [
    # numpy 1.21 says Requires-Python <3.11: the index has it, for older Pythons only.
    ("numpy==1.21.6", "error: python: numpy==1.21.6: numpy 1.21.6 does not support the "
     "image's Python (3.11); pin the release closest to yours that has a wheel for it "
     "(1.23.2, 1.23.3, 1.23.4, 1.23.5)"),
    # numpy 1.19.5 allows 3.11 but has no wheel for it (1.23.2 is the first).
    ("numpy==1.19.5", "error: python: numpy==1.19.5: no wheel for the image's Python (3.11, "
     "Linux x86_64, glibc 2.36), and the build installs wheels only. Pin the release closest "
     "to yours that has one (1.23.2, 1.23.3, 1.23.4, 1.23.5), or build one"),
])
def test_check_names_a_pin_the_image_cannot_honour_with_what_to_do(
        trained_312: tuple[venvkit.Venv, Path], pin: str, message: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _, project = trained_312
    monkeypatch.chdir(project)
    (project / "old.txt").write_text(f"{pin}\nscikit-learn==1.5.2\njoblib==1.4.2\n")
    assert main(["env", "detect", "--from", "old.txt", "--check"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_a_requirements_txt_beside_the_model_is_read_by_itself(
        trained_312: tuple[venvkit.Venv, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    venv, project = trained_312
    shutil.copytree(project / "model", tmp_path / "model")
    (tmp_path / "model" / "requirements.txt").write_text(venv.run("-m", "pip", "freeze").stdout)
    monkeypatch.chdir(tmp_path)
    out, err = _detect(capsys)  # --model model, the default
    assert out["python"]["packages"] == ["joblib==1.4.2", "numpy==1.26.4",
                                         "scikit-learn==1.5.2"]
    assert "note: versions read from requirements.txt" in err
    assert main(["spec", "init", "smkit.yaml", "--model", "model"]) == 0
    (tmp_path / "validation").mkdir()  # what the starter spec asks for beside the model
    (tmp_path / "validation" / "input.csv").write_text("5.1,3.5,1.4,0.2\n")
    assert spec_yaml.load(tmp_path / "smkit.yaml").python.packages == out["python"]["packages"]
