"""smkit as a user installs it: a wheel built from this checkout, installed into a fresh venv
in a temporary folder (``scripts/venv.sh``, with the project's pins), runs its commands from a
project folder of its own, ``smkit build`` and ``smkit demo`` included.

The wheel carries the container sources and the scripts; what smkit writes goes to
``$SMKIT_HOME`` or to the project folder, never into the checkout or the installed package.
The wheel is built from a copy of the checkout's files, so building it writes nothing here
either. The demo runs on the image the suite built (``--image``), so nothing is built twice.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from smkit.core import resources
from smkit.image import build
from smkit_testkit import docker

pytestmark = pytest.mark.container

REPO = Path(__file__).resolve().parents[2]
#: The package folders the wheel installs; nothing may be written into them at run time.
INSTALLED = ("smkit", *resources.SERVER_PACKAGES)


def _git_status() -> list[str]:
    """The checkout's changed, untracked and ignored entries (bytecode caches aside)."""
    out = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    return sorted(line for line in out.splitlines() if "__pycache__" not in line)


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (bytecode caches aside) with its size and mtime."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


@dataclass
class Installed:
    """smkit installed from its wheel into a venv outside the checkout."""

    wheel: Path
    venv: Path
    site: Path
    project: Path
    home: Path
    env: dict[str, str]
    checkout_before: list[str]
    package_before: dict[str, dict[str, tuple[int, int]]]

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """A program of the venv (``smkit``, ``python``) in the project folder."""
        return subprocess.run([str(self.venv / "bin" / args[0]), *args[1:]], cwd=self.project,
                              env=self.env, capture_output=True, text=True, timeout=timeout,
                              check=False)

    def smkit(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """``smkit ARGS``; fails the test with its output when it exits non-zero."""
        proc = self.run("smkit", *args, timeout=timeout)
        assert proc.returncode == 0, (f"smkit {' '.join(args)}: exit {proc.returncode}\n"
                                      f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc


def _build_wheel(into: Path) -> Path:
    """The wheel of the checkout as it is now (tracked and new files), built from a copy."""
    listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True).stdout.decode().split("\0")
    src = into / "src"
    for name in filter(None, listed):
        path = REPO / name
        if path.is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           "-w", str(into / "dist"), str(src)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (into / "dist").glob("smkit-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """Build the wheel, install it with the project's pins into a fresh venv, and give it a
    project folder and a SMKIT_HOME of its own, all in a temporary folder (removed after)."""
    before = _git_status()
    root = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(root)
    venv = root / "venv"
    proc = subprocess.run(["bash", str(REPO / "scripts" / "venv.sh")],
                          env={**os.environ, "SMKIT_VENV": str(venv), "SMKIT_INSTALL": str(wheel)},
                          capture_output=True, text=True, timeout=1200, check=False)
    assert proc.returncode == 0, proc.stderr
    (site,) = (venv / "lib").glob("python3.*/site-packages")
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "SMKIT_HOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["SMKIT_HOME"] = str(root / "home")
    project = root / "project"
    project.mkdir()
    yield Installed(wheel, venv, site, project, root / "home", env, before,
                    {name: _tree(site / name) for name in INSTALLED})
    shutil.rmtree(root, ignore_errors=True)  # the venv is large; keep no copy of it


def test_the_wheel_carries_the_container_sources_and_the_scripts(installed: Installed) -> None:
    shipped = [resources.DOCKERFILE, resources.PRODUCT_DOCKERFILE, resources.INSTALL_LAYER,
               resources.SERVER_PINS, resources.DEFAULT_PINS, resources.script("base-image.sh"),
               resources.script("ensure-registry.sh")]
    with zipfile.ZipFile(installed.wheel) as whl:
        for path in shipped:
            name = f"smkit/{resources.BUNDLE}/{path.relative_to(REPO).as_posix()}"
            assert whl.read(name) == path.read_bytes(), name
    # The installed smkit finds them in its own package, not in this checkout.
    probe = installed.run("python", "-c", (
        "import json, smkit; from smkit.core import resources; "
        "print(json.dumps([smkit.__file__, str(resources.ROOT), "
        "[str(p) for p in resources.server_packages()]]))"))
    assert probe.returncode == 0, probe.stderr
    package, root, servers = json.loads(probe.stdout)
    assert Path(package).is_relative_to(installed.site)
    assert Path(root) == installed.site / "smkit" / resources.BUNDLE
    assert [Path(s) for s in servers] == [installed.site / n for n in resources.SERVER_PACKAGES]


def test_smkit_build_from_the_wheel_names_the_checkouts_image(installed: Installed,
                                                              image: str) -> None:
    """Content-addressed: the same name proves the wheel builds from the same files (and,
    the image being there already, nothing is rebuilt)."""
    assert "demo" in installed.smkit("--help").stdout
    _, base = build.current_bases()
    expected = build.layer_for(None).plan(base).tag
    tag = f"smkit-wheel-test:{uuid.uuid4().hex[:8]}"
    try:
        out = installed.smkit("build", "--default", "--tag", tag).stdout
        assert out.strip().splitlines()[-1] == expected
    finally:
        docker("rmi", tag, check=False)


def test_the_emulators_keep_their_state_in_smkit_home(installed: Installed) -> None:
    try:
        installed.smkit("emulators", "up", timeout=180)
        assert (installed.home / "emulators" / "state.json").is_file()
        assert "AWS_ENDPOINT_URL=" in installed.smkit("emulators", "env").stdout
    finally:
        installed.run("smkit", "emulators", "down")
    assert not (installed.home / "emulators" / "state.json").exists()


def test_smkit_demo_runs_from_the_wheel_into_the_project_folder(installed: Installed,
                                                               image: str) -> None:
    proc = installed.smkit("demo", "--image", image, timeout=1800)
    assert "smkit demo: done in" in proc.stdout
    out = installed.project / ".smkit" / "demo"
    assert (out / "summary.txt").is_file()
    assert (out / "listing" / "preview.html").is_file()


def test_nothing_was_written_into_the_checkout_or_the_installed_package(
        installed: Installed) -> None:
    assert _git_status() == installed.checkout_before
    for name in INSTALLED:
        assert _tree(installed.site / name) == installed.package_before[name], name
