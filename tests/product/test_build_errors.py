"""Issue 12 item 6: bad input to the product image is caught before any build, through the CLI
as a seller meets it: a non-zero exit and one line that names the thing to fix.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from productkit import Built, run_smkit, spec_dict, write_project
from smkit.image import docker
from venvkit import ENVS, SELLER_DIR, Trained, run_script


def _project(tmp_path: Path, model_dir: Path, packages: list[str]) -> Path:
    """A project whose python section lists ``packages``; returns its spec file."""
    shutil.copytree(model_dir, tmp_path / "model")
    (tmp_path / "validation").mkdir()
    (tmp_path / "validation" / "input.csv").write_text("5.1,3.5,1.4,0.2")
    spec = tmp_path / "smkit.yaml"
    spec.write_text(yaml.safe_dump(spec_dict("bad-env", {"packages": packages})))
    return spec


def _first_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert lines, "nothing on stderr"
    return lines[0]


# Each case: the pins, and what the first stderr line must name (all of them).
CASES = {
    "does-not-exist": (["smkit-no-such-package-xyz==1.0"],
                       ["smkit-no-such-package-xyz", "no package"]),
    # docopt 0.6.2 is on PyPI as an sdist only; the line says how to supply a wheel.
    "no-wheel": (["docopt==0.6.2"], ["docopt==0.6.2", "wheel", "python.wheels"]),
    "server-conflict": (["flask==2.0.3"], ["flask==2.0.3", "3.1.3"]),
    # connexion 2.14.2 (a wheel) needs flask<2.3: a conflict through a dependency.
    # (pip names the first of connexion's pins it cannot meet: flask's or werkzeug's.)
    "dependency-conflict": (["connexion==2.14.2"], ["connexion==2.14.2", "depends on"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_requirement_fails_before_building(case: str, tmp_path: Path,
                                               iris_model_dir: Path) -> None:
    """``smkit build`` exits non-zero at once; its first stderr line names the requirement."""
    packages, named = CASES[case]
    spec = _project(tmp_path, iris_model_dir, packages)
    proc = run_smkit("build", spec, cwd=tmp_path, timeout=300)
    assert proc.returncode != 0, proc.stdout
    line = _first_line(proc.stderr)
    for word in named:
        assert word.lower() in line.lower(), f"{word!r} not in the first line: {line}"
    assert "Traceback" not in proc.stderr
    assert "building" not in proc.stderr, "it built before finding the bad requirement"
    assert proc.stdout.strip() == "", "no image name may be printed"


@pytest.mark.container
def test_undeclared_module_fails_at_package(
    tmp_path: Path, trained: Callable[[str], Trained],
    product_image: Callable[[str], Built],
) -> None:
    """A pickle needing the seller's own module, not in python.source: ``smkit package``
    refuses it, naming the module and where to declare it (never first at /ping on AWS)."""
    env = ENVS["newest"]
    product_image("newest")  # the same python section, already built: nothing to rebuild
    own = run_script(env, "own_module.py", tmp_path / "trained",
                     source=[SELLER_DIR / "features.py"]).models["own_module"]
    project = tmp_path / "project"
    spec = write_project(project, env, own.model_dir, with_source=False)
    assert "source" not in yaml.safe_load(spec.read_text())["python"]
    proc = run_smkit("package", spec, cwd=project, timeout=900)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if "features" in ln]
    assert errors, proc.stderr
    assert "python.source" in errors[0], errors[0]
    assert "Traceback" not in proc.stderr
    assert not list(project.rglob("model.tar.gz")), "an artifact was written anyway"


@pytest.mark.container
def test_an_old_scikit_learn_pinned_alone_gets_a_numpy_it_was_built_for(
        tmp_path: Path, iris_model_dir: Path) -> None:
    """A seller pinning only ``scikit-learn==1.1.3`` gets an image that imports it, or a
    line naming numpy before anything builds; never a late failure inside docker build."""
    spec = _project(tmp_path, iris_model_dir, ["scikit-learn==1.1.3"])
    proc = run_smkit("build", spec, cwd=tmp_path)
    if proc.returncode != 0:
        line = _first_line(proc.stderr)
        assert "numpy" in line, line
        assert "scikit-learn" in line, line
        assert "building" not in proc.stderr, proc.stderr[-3000:]
        return
    image = proc.stdout.strip().splitlines()[-1]
    script = "import numpy, sklearn; print(sklearn.__version__, numpy.__version__)"
    out = docker.docker("run", "--rm", "--network", "none", "--entrypoint", "python3", image,
                        "-c", script)
    sklearn_version, numpy_version = out.stdout.decode().split()
    assert sklearn_version == "1.1.3"
    assert numpy_version.startswith("1."), numpy_version
