"""The environment probe of ``smkit env detect --python``, run from its file by real
interpreters of every version it is for (CPython 3.8 to 3.13, where this machine has them),
the way :func:`smkit.image.env_files.ask_python` runs it."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from smkit.core.errors import UserError
from smkit.image import env_files, env_probe

#: Where pyenv keeps interpreters on this machine (and on most developers').
PYENV = Path.home() / ".pyenv" / "versions"


def _interpreters() -> list[Path]:
    """One interpreter per CPython minor from 3.8 to 3.13 found here."""
    found = {}
    for minor in range(8, 14):
        on_path = Path(shutil.which(f"python3.{minor}") or "/nonexistent")
        for candidate in [*sorted(PYENV.glob(f"3.{minor}.*/bin/python3.{minor}")), on_path]:
            if candidate.is_file():
                found[minor] = candidate
                break
    return list(found.values())


INTERPRETERS = _interpreters()


def run_probe(python: Path) -> dict[str, Any]:
    """The probe's JSON, as ``python -I env_probe.py`` prints it."""
    proc = subprocess.run([str(python), "-I", str(env_files.PROBE_FILE)], capture_output=True,
                          text=True, timeout=120, check=True)
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def _fake_site_packages_dist(venv: Path) -> None:
    """A distribution installed in ``venv`` as pip leaves it: METADATA and a RECORD naming
    a package and a top-level module (no top_level.txt), and a PEP 610 direct_url.json."""
    site = next(venv.glob("lib/python3.*/site-packages"))
    info = site / "seller_features-0.3.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: seller-features\n"
                                   "Version: 0.3.1\n")
    (info / "RECORD").write_text(
        "seller_features/__init__.py,,\nseller_features/cols.py,,\nfeatures_compat.py,,\n"
        "seller_features-0.3.1.dist-info/METADATA,,\n"
        "seller_features-0.3.1.dist-info/RECORD,,\n"
        "__pycache__/features_compat.cpython-38.pyc,,\n")
    (info / "direct_url.json").write_text(json.dumps(
        {"url": "file:///home/seller/features", "dir_info": {"editable": True}}))
    (site / "seller_features").mkdir()
    for rel in ("seller_features/__init__.py", "seller_features/cols.py", "features_compat.py"):
        (site / rel).write_text("")  # 3.12+ list only the RECORD's files that exist


@pytest.mark.skipif(not INTERPRETERS, reason="no CPython 3.8-3.13 besides this one")
@pytest.mark.parametrize("python", INTERPRETERS, ids=lambda p: p.name)
def test_every_supported_python_runs_the_probe_in_a_venv_of_its_own(python: Path,
                                                                     tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    _fake_site_packages_dist(venv)
    data = run_probe(venv / "bin" / "python")
    want = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert data["schema"] == env_probe.SCHEMA
    assert data["python"] == want
    assert data["implementation"] == "CPython"
    minor = int(want.split(".")[1])
    assert (data["stdlib"] is None) == (minor < 10)
    if data["stdlib"] is not None:
        assert {"json", "pickle", "collections"} <= set(data["stdlib"])
    # Only the venv's own site-packages: the one distribution put there (no pip).
    assert data["distributions"] == [{
        "name": "seller-features", "version": "0.3.1",
        "top_level": ["features_compat", "seller_features"],
        "direct_url": {"url": "file:///home/seller/features", "dir_info": {"editable": True}}}]


@pytest.mark.skipif(not INTERPRETERS, reason="no CPython 3.8-3.13 besides this one")
def test_ask_python_takes_the_venv_folder_and_reads_the_local_install(tmp_path: Path) -> None:
    python = INTERPRETERS[0]
    venv = tmp_path / "venv"
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    _fake_site_packages_dist(venv)
    installed = env_files.ask_python(venv)
    assert installed.versions == {"seller-features": "0.3.1"}
    assert installed.modules == {"features_compat": ("seller-features",),
                                 "seller_features": ("seller-features",)}
    assert installed.local == {"seller-features": "file:///home/seller/features"}
    assert installed.python is not None
    assert installed.python.startswith("3.")
    assert str(venv / "bin" / "python") in installed.source


def test_smkits_own_venv_reads_as_importlib_metadata_reads_it_in_process() -> None:
    """The probe's own module table against the stdlib's packages_distributions()."""
    data = run_probe(Path(sys.executable))
    got = {d["name"]: d["version"] for d in data["distributions"]}
    want = {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()}
    assert got == want
    modules: dict[str, set[str]] = {}
    for d in data["distributions"]:
        for top in d["top_level"]:
            modules.setdefault(top, set()).add(d["name"])
    for top, dists in importlib.metadata.packages_distributions().items():
        if top.endswith(".libs") or not top.isidentifier():
            continue
        assert set(dists) <= modules.get(top, set()), top
    assert data["stdlib"] == sorted(sys.stdlib_module_names)


def test_no_interpreter_there_names_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"^--python .*: no Python interpreter there; give the "
                                        r"python of the environment you trained in"):
        env_files.ask_python(tmp_path / "nope" / "python")


def test_an_interpreter_too_old_for_the_probe_names_the_supported_range() -> None:
    old = next(iter(sorted(PYENV.glob("3.7.*/bin/python3.7"))), None)
    if old is None:
        pytest.skip("no CPython 3.7 here")
    with pytest.raises(UserError, match=r"could not run smkit's environment probe \(.*"
                                        r"importlib.metadata.*\); smkit reads CPython 3.8 to 3.13"):
        env_files.ask_python(old)
