"""Fixtures for the product-image tests: sellers' training venvs and the images built from them.

``trained(name)`` makes the training venv of ``venvkit.ENVS[name]`` (cached under
``build/test-venvs``) and trains its models into a tmp dir; ``product_image(name)`` writes
the seller's project (``smkit.yaml`` with a ``python`` section naming the same pins, their
own ``features.py``, the model folder) and runs ``smkit build`` on it, once per session.
Both are factories so each environment is made only when a test needs it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from productkit import Built, run_smkit, write_project
from venvkit import ENVS, Trained, train


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Trained]:
    """``trained(name)``: the environment's venv (cached) and its freshly trained models."""
    done: dict[str, Trained] = {}

    def get(name: str) -> Trained:
        if name not in done:
            done[name] = train(ENVS[name], tmp_path_factory.mktemp(f"trained-{name}"))
        return done[name]

    return get


@pytest.fixture(scope="session")
def product_image(tmp_path_factory: pytest.TempPathFactory,
                  trained: Callable[[str], Trained]) -> Callable[[str], Built]:
    """``product_image(name)``: ``smkit build`` of the environment's seller project."""
    done: dict[str, Built] = {}

    def get(name: str) -> Built:
        if name not in done:
            env = ENVS[name]
            first = next(iter(trained(name).models.values()))
            project = tmp_path_factory.mktemp(f"project-{name}")
            # The oldest environment declares its pins as a requirements file, the others
            # as a list, so both forms of the python section build.
            spec = write_project(project, env, first.model_dir,
                                 requirements_file=name == "oldest")
            proc = run_smkit("build", spec, cwd=project)
            if proc.returncode != 0:
                pytest.fail(f"smkit build of the {name} environment exited "
                            f"{proc.returncode}:\n{proc.stderr[-6000:]}")
            done[name] = Built(project, spec, proc.stdout.strip().splitlines()[-1], proc)
        return done[name]

    return get
