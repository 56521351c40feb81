"""Fixtures shared by the seller-tooling tests (project, image, aws, buyer, cli, demo): the
emulators (real moto server over HTTP and a real registry, started through smkit's manager),
spec files written into tmp dirs, and smkit installed from its wheel with the suite's one
``smkit demo`` run. Loaded from the top conftest as a plugin."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pkg_helpers import base_spec, unique
from sklearn.datasets import load_iris
from smkit.emulators import manager
from smkit_testkit import docker
from wheel_kit import DemoRun, Installed, install, run_demo


@pytest.fixture(scope="session")
def emulator_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private SMKIT_HOME, so the tests never touch emulators a developer runs."""
    return tmp_path_factory.mktemp("smkit-home")


@pytest.fixture(scope="session")
def emulators(emulator_home: Path) -> Iterator[dict[str, str]]:
    """moto + docker-registry (+ Catalog emulator) started by smkit's manager; their env."""
    home = emulator_home
    services = manager.up(home)
    try:
        yield manager.environ(services)
    finally:
        manager.down(home)


@pytest.fixture(scope="session")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """smkit's wheel, built once per run and installed into a fresh venv in a temporary
    folder outside the checkout (removed after: the venv is large)."""
    root = tmp_path_factory.mktemp("wheel")
    try:
        yield install(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def demo_run(wheel_venv: Installed, image: str) -> Iterator[DemoRun]:
    """The suite's one ``smkit demo --keep-emulators``, run by the installed wheel in its
    project folder; the demo tests use its output and emulators, which stop at the end."""
    out = wheel_venv.project / ".smkit" / "demo"
    started = time.monotonic()
    proc = run_demo(wheel_venv, image)
    try:
        assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        services = manager.read_state(out)
        assert manager.healthy(services), "--keep-emulators left no running emulators"
        yield DemoRun(out, proc.stdout, proc.stderr, time.monotonic() - started,
                      manager.environ(services))
    finally:
        manager.down(out)


@pytest.fixture
def aws_env(emulators: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The process env pointed at the emulators (boto3 reads AWS_ENDPOINT_URL itself)."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for key, value in emulators.items():
        monkeypatch.setenv(key, value)
    return emulators


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    """A folder with model/ and validation/input.csv so path checks pass."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.joblib").write_bytes(b"x")
    (tmp_path / "validation").mkdir()
    (tmp_path / "validation" / "input.csv").write_text("1,2,3,4\n")
    return tmp_path


@pytest.fixture(scope="session")
def pinned_image(image: str) -> Iterator[str]:
    """A private tag on the image under test: a concurrent rebuild of ``:latest`` must not
    change the digest halfway through a test (that would rightly be a new package)."""
    tag = f"{image.split(':')[0]}:{unique('pkgtest')}"
    docker("tag", image, tag)
    try:
        yield tag
    finally:
        docker("rmi", tag, check=False)


@pytest.fixture
def write_spec(tmp_path: Path, iris_model_dir: Path, pinned_image: str) -> Callable[..., Path]:
    """Write model/, validation/input.csv and smkit.yaml into tmp_path; returns the spec path.

    Keyword arguments update the spec dict at the top level (``model_dir`` may point at
    another model folder, which is then copied in).
    """

    def write(model_dir: Path | None = None, rows: int = 30, **overrides: Any) -> Path:
        src = model_dir or iris_model_dir
        dst = tmp_path / "model"
        dst.mkdir(exist_ok=True)
        for f in src.iterdir():
            if f.is_file():
                (dst / f.name).write_bytes(f.read_bytes())
        (tmp_path / "validation").mkdir(exist_ok=True)
        X, _ = load_iris(return_X_y=True)
        np.savetxt(tmp_path / "validation" / "input.csv", X[:rows], delimiter=",", fmt="%g")
        spec = base_spec(overrides.pop("name", unique("iris")), pinned_image)
        spec.update(overrides)
        path = tmp_path / "smkit.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        return path

    return write
