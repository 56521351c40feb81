"""Helpers for the product-image tests: a seller's project on disk and the smkit CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from smkit.image import docker
from venvkit import TrainingEnv

#: The CLI of the checkout's venv, run as a seller runs it (a separate process).
SMKIT = [sys.executable, "-m", "smkit.cli"]
BUILD_TIMEOUT_S = 1800
#: The header that asks for class probabilities instead of labels.
PROBABILITIES = {"X-Amzn-SageMaker-Custom-Attributes": "output=probabilities"}


@dataclass(frozen=True)
class Built:
    """A seller project and the product image ``smkit build`` made of it."""

    project: Path
    spec: Path
    image: str
    build: subprocess.CompletedProcess[str]


def run_smkit(*args: str | Path, cwd: Path, timeout: float = BUILD_TIMEOUT_S
              ) -> subprocess.CompletedProcess[str]:
    """``smkit ARGS`` in ``cwd``; never raises on a non-zero exit."""
    return subprocess.run([*SMKIT, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)


def spec_dict(name: str, python: dict[str, Any]) -> dict[str, Any]:
    """A valid spec with the given ``python`` section; paths relative to the spec file."""
    return {
        "name": name,
        "region": "us-east-1",
        "model_dir": "model",
        "s3": {"bucket": name.lower(), "prefix": "smkit"},
        "content_types": ["text/csv", "application/json"],
        "response_types": ["text/csv", "application/json"],
        "instance_types": {"realtime": ["ml.m5.large"], "transform": ["ml.m5.large"]},
        "validation": {"role": "arn:aws:iam::123456789012:role/SageMakerValidation",
                       "input": "validation/input.csv", "content_type": "text/csv"},
        "python": python,
    }


def write_project(project: Path, env: TrainingEnv, model_dir: Path, *,
                  packages: list[str] | None = None, with_source: bool = True,
                  requirements_file: bool = False) -> Path:
    """A seller's project folder: the spec, their source files, the model and a sample."""
    project.mkdir(parents=True, exist_ok=True)
    if (project / "model").exists():
        shutil.rmtree(project / "model")
    shutil.copytree(model_dir, project / "model")
    (project / "validation").mkdir(exist_ok=True)
    shutil.copy2(model_dir / "sample_input.csv", project / "validation" / "input.csv")
    pins = list(env.pins if packages is None else packages)
    python: dict[str, Any] = {}
    if requirements_file:
        (project / "requirements.txt").write_text("# as the seller trained\n"
                                                  + "\n".join(pins) + "\n")
        python["requirements"] = "requirements.txt"
    else:
        python["packages"] = pins
    if with_source and env.source:
        for src in env.source:
            shutil.copy2(src, project / src.name)
        python["source"] = [src.name for src in env.source]
    spec = project / "smkit.yaml"
    spec.write_text(yaml.safe_dump(spec_dict(f"matrix-{env.name.replace('_', '-')}", python),
                                   sort_keys=False))
    return spec


def invoke(server: docker.Server, body: bytes, extra: dict[str, str] | None = None,
           content_type: str = "text/csv") -> list[Any]:
    """POST ``body`` to /invocations from inside the container; its predictions (200 only)."""
    headers = {"Content-Type": content_type, "Accept": "application/json", **(extra or {})}
    status, _, data = server.request_inside("POST", "/invocations", body, headers)
    assert status == 200, (
        f"/invocations answered {status}: {data[:2000]!r}\ncontainer log:\n{server.logs()[-4000:]}"
    )
    return json.loads(data)["predictions"]


def assert_same(got: list[Any], values: list[Any], dtype: str, what: str) -> None:
    """``got`` (from the server's JSON) equals ``values`` (the training venv's), in kind."""
    want = np.asarray(values, dtype=dtype)
    if want.dtype.kind in "fc":
        # Cast to the model's own dtype: a float32 output (xgboost, lightgbm) is sent as
        # float32's shortest repr, which parses back to the same float32.
        have = np.asarray(got, dtype=want.dtype)
        assert have.shape == want.shape, f"{what}: shape {have.shape}, trained {want.shape}"
        np.testing.assert_allclose(have, want, rtol=1e-7, atol=0, err_msg=what)
    else:
        have = np.asarray(got)
        assert have.shape == want.shape, f"{what}: shape {have.shape}, trained {want.shape}"
        mismatched = np.flatnonzero(np.asarray(have != want).reshape(len(want), -1).any(axis=1))
        assert mismatched.size == 0, (
            f"{what}: {mismatched.size} of {len(want)} rows differ, first at row "
            f"{mismatched[0]}: served {have[mismatched[0]]!r}, trained {want[mismatched[0]]!r}"
        )
