"""Shared fixtures: real scikit-learn models trained into tmp dirs, and the real image.

Container tests use ``container_factory``: it starts the image built once per run
(``SMKIT_IMAGE``, default ``smkit-inference:latest``; built here if missing), polls
``/ping`` against a deadline and removes the container afterwards.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import requests
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier
from smkit_testkit import docker, free_port, penguin_like_frame, save_model, wait_for_ping

pytest_plugins = ["seller_fixtures"]

REPO = Path(__file__).resolve().parents[1]
IMAGE = os.environ.get("SMKIT_IMAGE", "smkit-inference:latest")


# ----------------------------------------------------------------------------- models


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
