"""Shared fixtures: real scikit-learn models trained into tmp dirs, and the real image.

Container tests use ``container_factory``: it starts the image built once per run
(``SMKIT_IMAGE``, default ``smkit-inference:latest``; built here if missing), polls
``/ping`` against a deadline and removes the container afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import requests
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

REPO = Path(__file__).resolve().parents[1]
IMAGE = os.environ.get("SMKIT_IMAGE", "smkit-inference:latest")


# ----------------------------------------------------------------------------- models


def save_model(model: object, directory: Path) -> Path:
    """Dump ``model`` as ``directory/model.joblib`` and return the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, directory / "model.joblib")
    return directory


@pytest.fixture(scope="session")
def iris() -> tuple[np.ndarray, np.ndarray]:
    """The iris features and labels."""
    X, y = load_iris(return_X_y=True)
    return X, y


@pytest.fixture(scope="session")
def iris_model_dir(tmp_path_factory: pytest.TempPathFactory, iris) -> Path:
    """A DecisionTreeClassifier on iris, fitted on a numpy array (no feature names)."""
    X, y = iris
    return save_model(
        DecisionTreeClassifier(random_state=0).fit(X, y), tmp_path_factory.mktemp("iris")
    )


def penguin_like_frame(n: int = 200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A mixed numeric/categorical frame with a learnable label (string classes)."""
    rng = np.random.default_rng(seed)
    island = rng.choice(["Biscoe", "Dream", "Torgersen"], size=n)
    sex = rng.choice(["male", "female"], size=n)
    bill = rng.normal(44, 5, size=n)
    mass = rng.normal(4200, 800, size=n)
    label = np.where((bill > 44) & (island != "Torgersen"), "Gentoo", "Adelie")
    frame = pd.DataFrame(
        {"island": island, "bill_length_mm": bill, "sex": sex, "body_mass_g": mass}
    )
    return frame, label


@pytest.fixture(scope="session")
def pipeline_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Pipeline (ColumnTransformer: OneHotEncoder + StandardScaler, then LogisticRegression)
    fitted on a DataFrame with string and numeric columns, so it has feature_names_in_."""
    frame, label = penguin_like_frame()
    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="error"), ["island", "sex"]),
            ("num", StandardScaler(), ["bill_length_mm", "body_mass_g"]),
        ]
    )
    model = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))]).fit(frame, label)
    return save_model(model, tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="session")
def regressor_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LinearRegression on the diabetes data (no predict_proba)."""
    X, y = load_diabetes(return_X_y=True)
    return save_model(LinearRegression().fit(X, y), tmp_path_factory.mktemp("diabetes"))


# ----------------------------------------------------------------------------- docker


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the docker CLI with a list of arguments."""
    return subprocess.run(
        ["docker", *args], check=check, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def image() -> str:
    """The inference image under test, built once per run if it is not there yet."""
    if docker("image", "inspect", IMAGE, check=False).returncode != 0:
        subprocess.run(
            ["bash", str(REPO / "scripts" / "build-container.sh"), IMAGE], check=True, cwd=REPO
        )
    return IMAGE


@dataclass
class RunningContainer:
    """A started container and how to reach it."""

    name: str
    url: str
    port: int
    started_at: float
    ready_after: float | None = None
    ping_status: int | None = None
    extra: dict = field(default_factory=dict)

    def logs(self) -> str:
        """Everything the container printed so far."""
        out = docker("logs", self.name, check=False)
        return out.stdout + out.stderr

    def post(self, body: bytes | str, content_type: str, accept: str | None = None,
             **headers: str) -> requests.Response:
        """POST /invocations."""
        h = {"Content-Type": content_type, **headers}
        if accept is not None:
            h["Accept"] = accept
        data = body.encode() if isinstance(body, str) else body
        return requests.post(f"{self.url}/invocations", data=data, headers=h, timeout=60)


def wait_for_ping(url: str, deadline_s: float, want: int | None = 200) -> tuple[int, float]:
    """Poll ``GET /ping`` until it answers ``want`` (any status if None) or time runs out."""
    start = time.monotonic()
    last: int | None = None
    while time.monotonic() - start < deadline_s:
        try:
            last = requests.get(f"{url}/ping", timeout=2).status_code
            if want is None or last == want:
                return last, time.monotonic() - start
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"/ping did not answer {want} within {deadline_s}s (last: {last})")


@pytest.fixture
def container_factory(image: str) -> Iterator[Callable[..., RunningContainer]]:
    """Start containers of the image; each is removed when the test ends."""
    started: list[str] = []

    def start(
        model_dir: Path | None,
        env: dict[str, str] | None = None,
        docker_args: tuple[str, ...] = (),
        wait_status: int | None = 200,
        deadline_s: float = 60,
        command: tuple[str, ...] = ("serve",),
    ) -> RunningContainer:
        name = f"smkit-test-{uuid.uuid4().hex[:10]}"
        port = free_port()
        args = ["run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080"]
        if model_dir is not None:
            args += ["-v", f"{model_dir}:/opt/ml/model:ro"]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        args += [*docker_args, image, *command]
        started.append(name)
        t0 = time.monotonic()
        docker(*args)
        running = RunningContainer(name, f"http://127.0.0.1:{port}", port, t0)
        if wait_status is not None or deadline_s:
            try:
                status, _ = wait_for_ping(running.url, deadline_s, wait_status)
            except TimeoutError as e:
                raise AssertionError(f"{e}\ncontainer log:\n{running.logs()}") from e
            running.ping_status = status
            running.ready_after = time.monotonic() - t0
        return running

    yield start
    for name in started:
        docker("rm", "-f", name, check=False)
