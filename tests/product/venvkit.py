"""Training environments for the product-image tests: a seller's own venv, made for real.

Each ``TrainingEnv`` is a set of pinned packages (what a seller trained with) and a training
script under ``train/``. ``ensure_venv`` makes that venv once with pip (wheels only, CPython
3.11 like the image) under ``build/test-venvs/<hash of the pins>`` and reuses it across runs
and sessions; ``train`` runs the script in it, which saves each model as sellers do (joblib,
plain pickle or skops) and writes the held-out rows (CSV, no header) and the model's own
predictions on them, computed in the venv it was trained in. The tests compare the product
image's answers with those.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
#: Where the venvs live (``build/`` is git-ignored); SMKIT_TEST_VENVS moves it.
CACHE = Path(os.environ.get("SMKIT_TEST_VENVS", REPO / "build" / "test-venvs"))
TRAIN_DIR = HERE / "train"
#: The seller's own code (``features.py``), as a seller keeps it beside the training script.
SELLER_DIR = HERE / "seller"
#: Bump when the way a venv is made changes, so old cached venvs are not reused.
KIT_VERSION = "1"
PIP_TIMEOUT_S = 1200
TRAIN_TIMEOUT_S = 300


@dataclass(frozen=True)
class TrainingEnv:
    """A seller's training environment: pins, the script that trains in it, and its code."""

    name: str
    #: Top-level pins as the seller would declare them (``name==version``).
    pins: tuple[str, ...]
    #: Script in ``train/`` that trains this environment's models.
    script: str
    #: The models the script saves (folder names), so tests can be listed before training.
    models: tuple[str, ...]
    #: The seller's own source files the pickles import (declared as ``python.source``).
    source: tuple[Path, ...] = ()

    def pin(self, name: str) -> str:
        """The pinned version of distribution ``name``."""
        for p in self.pins:
            dist, _, version = p.partition("==")
            if _normalize(dist) == _normalize(name):
                return version
        raise KeyError(name)


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


#: The matrix of issue 12 item 4, in as few environments (so product images) as cover it.
#: - oldest: the oldest scikit-learn with CPython 3.11 manylinux wheels (1.1.3; 1.1.2 and
#:   older have none), the numpy 1.x, scipy and pandas of its time, category_encoders, and
#:   the seller's own module. category_encoders 2.6.3 is the first whose encoders record
#:   ``feature_names_in_``; before it a Pipeline starting with one gives the server no
#:   column names, and its ``cols=[...]`` fail on the unnamed array (KeyError at start-up).
#: - year_old: the issue's "pickled last year" example (scikit-learn 1.5.2, numpy 1.26,
#:   whose HistGradientBoosting pickles need ``sklearn._loss``), with catboost (numpy 1.x).
#: - newest: scikit-learn 1.9.1 and numpy 2.x as in the default image, with xgboost,
#:   lightgbm, an imbalanced-learn pipeline, and skops to save with. ``xgboost-cpu`` is the
#:   same ``xgboost`` module without the 350 MB NCCL wheel the ``xgboost`` wheel pulls in on
#:   Linux.
ENVS: dict[str, TrainingEnv] = {
    env.name: env
    for env in (
        TrainingEnv(
            name="oldest",
            pins=(
                "scikit-learn==1.1.3",
                "numpy==1.23.5",
                "scipy==1.9.3",
                "pandas==1.5.3",
                "joblib==1.2.0",
                "category_encoders==2.6.3",
                "statsmodels==0.13.5",
            ),
            script="oldest.py",
            models=("seller_module", "category_encoders", "onehot_ridge"),
            source=(SELLER_DIR / "features.py",),
        ),
        TrainingEnv(
            name="year_old",
            pins=(
                "scikit-learn==1.5.2",
                "numpy==1.26.4",
                "scipy==1.13.1",
                "pandas==2.2.3",
                "joblib==1.4.2",
                "catboost==1.2.10",
            ),
            script="year_old.py",
            models=("hist_gradient_boosting", "random_forest_array", "catboost",
                    "catboost_strings"),
        ),
        TrainingEnv(
            name="newest",
            pins=(
                "scikit-learn==1.9.1",
                "numpy==2.4.6",
                "scipy==1.17.1",
                "pandas==3.1.1",
                "joblib==1.6.0",
                "xgboost-cpu==3.2.0",
                "lightgbm==4.7.0",
                "imbalanced-learn==0.14.2",
                "skops==0.16.0",
            ),
            script="newest.py",
            models=("xgboost", "xgboost_all_cores", "lightgbm", "lightgbm_classifier",
                    "lightgbm_all_cores", "imbalanced_learn", "forest_all_cores",
                    "skops_pipeline"),
        ),
    )
}


#: Sellers' folders taken along the seller path from the folder alone: ``smkit spec init
#: --model`` reads the pins beside the model (no python section written by hand), then
#: ``smkit build``. Kept apart from ``ENVS`` so the matrix never builds from these pins.
#: - mlflow: an MLflow model directory saved by ``mlflow.sklearn.save_model`` (MLflow 3,
#:   skops format) with scikit-learn 1.6.1, whose pins MLflow wrote;
#: - frozen: a folder with the seller's ``pip freeze`` as ``requirements.txt``, in the
#:   year_old environment's venv (the same pins, so the same cached venv).
FOLDER_ENVS: dict[str, TrainingEnv] = {
    env.name: env
    for env in (
        TrainingEnv(
            name="mlflow",
            pins=(
                "mlflow-skinny==3.17.2",
                "scikit-learn==1.6.1",
                "numpy==2.2.6",
                "scipy==1.15.3",
                "pandas==2.2.3",
                "skops==0.16.0",
            ),
            script="mlflow_dir.py",
            models=("mlflow_skops",),
        ),
        TrainingEnv(
            name="frozen",
            pins=ENVS["year_old"].pins,
            script="frozen.py",
            models=("frozen_requirements",),
        ),
    )
}


@dataclass(frozen=True)
class Venv:
    """A ready training venv."""

    path: Path
    pins: tuple[str, ...]

    @property
    def python(self) -> Path:
        """The venv's interpreter."""
        return self.path / "bin" / "python"

    def run(self, *args: str | Path, cwd: Path | None = None,
            python_path: Sequence[Path] = (), timeout: float = TRAIN_TIMEOUT_S
            ) -> subprocess.CompletedProcess[str]:
        """Run the venv's python with ``args``; raise with its output if it fails."""
        env = _clean_env()
        if python_path:
            env["PYTHONPATH"] = os.pathsep.join(str(p) for p in python_path)
        proc = subprocess.run(
            [str(self.python), *map(str, args)], cwd=cwd, env=env, capture_output=True,
            text=True, timeout=timeout, check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{self.python} {' '.join(map(str, args))} exited {proc.returncode}:\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
            )
        return proc

    def versions(self) -> dict[str, str]:
        """Every distribution installed in the venv, normalized name -> version."""
        out = self.run("-c", "import json, importlib.metadata as m; print(json.dumps("
                       "{d.metadata['Name']: d.version for d in m.distributions()}))")
        return {_normalize(k): v for k, v in json.loads(out.stdout).items()}

    def freeze(self) -> list[str]:
        """``name==version`` for everything installed but pip and setuptools, sorted."""
        return sorted(f"{k}=={v}" for k, v in self.versions().items()
                      if k not in ("pip", "setuptools", "wheel"))


def _clean_env() -> dict[str, str]:
    """The environment without anything that would leak the host venv into another one."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def base_python() -> Path:
    """A CPython 3.11 interpreter to make venvs from (the image's Python)."""
    for candidate in (shutil.which("python3.11"), sys.executable):
        if not candidate:
            continue
        out = subprocess.run(
            [candidate, "-c", "import sys, platform; print(platform.python_implementation(),"
             " sys.version_info[:2] == (3, 11))"],
            capture_output=True, text=True, check=False,
        )
        if out.stdout.split() == ["CPython", "True"]:
            return Path(candidate)
    raise RuntimeError("no CPython 3.11 on this machine; the training venvs must match the "
                       "image's Python (3.11)")


def venv_key(pins: Sequence[str], python: Path) -> str:
    """The cache key: the sorted pins, the interpreter's full version and the kit version."""
    version = subprocess.run([str(python), "-c", "import sys; print(sys.version)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    text = json.dumps({"pins": sorted(pins), "python": version, "kit": KIT_VERSION})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (other sessions making the same venv wait)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_venv(pins: Sequence[str], cache: Path = CACHE, python: Path | None = None) -> Venv:
    """The venv with exactly ``pins`` installed (from PyPI, wheels only); made once, cached.
    ``python`` makes it from another interpreter than the image's default 3.11."""
    python = python or base_python()
    path = cache / venv_key(pins, python)
    marker = path / ".smkit-complete.json"
    with _locked(cache / f"{path.name}.lock"):
        if not marker.is_file():
            shutil.rmtree(path, ignore_errors=True)  # an interrupted attempt
            subprocess.run([str(python), "-m", "venv", str(path)], check=True,
                           env=_clean_env(), capture_output=True, text=True)
            venv = Venv(path, tuple(pins))
            venv.run("-m", "pip", "install", "--no-input", "-q", "--only-binary=:all:",
                     *pins, timeout=PIP_TIMEOUT_S)
            marker.write_text(json.dumps({"pins": sorted(pins)}, indent=1))
    return Venv(path, tuple(pins))


@dataclass(frozen=True)
class TrainedModel:
    """One model a training script saved, and what it predicted where it was trained."""

    name: str
    #: The model file (``model.joblib``, ``model.pkl`` or ``model.skops``) and
    #: ``sample_input.csv``: what ``/opt/ml/model`` holds.
    model_dir: Path
    #: Held-out rows, CSV without a header, in the model's column order.
    input_csv: Path
    #: ``predictions`` (and ``probabilities`` for classifiers) with their dtypes.
    expected: dict[str, Any]


@dataclass(frozen=True)
class Trained:
    """Everything one environment's training script produced."""

    env: TrainingEnv
    venv: Venv
    models: dict[str, TrainedModel]
    #: What the venv had installed when it trained (normalized name -> version).
    versions: dict[str, str]


def train(env: TrainingEnv, out_dir: Path, cache: Path = CACHE) -> Trained:
    """Make (or reuse) ``env``'s venv and run its training script into ``out_dir``."""
    trained = run_script(env, env.script, out_dir, env.source, cache)
    if sorted(trained.models) != sorted(env.models):
        raise RuntimeError(f"{env.script} saved {sorted(trained.models)} into {out_dir}; "
                           f"expected {sorted(env.models)}")
    return trained


def run_script(env: TrainingEnv, script: str, out_dir: Path, source: Sequence[Path] = (),
               cache: Path = CACHE) -> Trained:
    """Run ``train/SCRIPT`` in ``env``'s venv (``source`` on its path) into ``out_dir``."""
    venv = ensure_venv(env.pins, cache)
    out_dir.mkdir(parents=True, exist_ok=True)
    source_dirs = sorted({p.parent if p.is_file() else p for p in source})
    venv.run(TRAIN_DIR / script, out_dir, cwd=out_dir, python_path=source_dirs)
    models = {}
    for expected_file in sorted(out_dir.glob("*/expected.json")):
        folder = expected_file.parent
        models[folder.name] = TrainedModel(
            name=folder.name,
            model_dir=folder / "model",
            input_csv=folder / "input.csv",
            expected=json.loads(expected_file.read_text()),
        )
    if not models:
        raise RuntimeError(f"{script} saved no models into {out_dir}")
    versions = json.loads((out_dir / "versions.json").read_text())
    return Trained(env=env, venv=venv, models=models,
                   versions={_normalize(k): v for k, v in versions.items()})
