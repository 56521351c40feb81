"""smkit as a user installs it, for the tests (importable as ``wheel_kit``; no fixtures here).

A wheel built from this checkout is installed with the project's pins (``scripts/venv.sh``)
into a fresh venv in a temporary folder, and runs from a project folder of its own there, with
a ``$SMKIT_HOME`` of its own. The suite's one ``smkit demo`` run is made this way
(``demo_run`` in seller_fixtures.py); the demo tests and the wheel tests both read it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from smkit.core import paths, resources

REPO = Path(__file__).resolve().parents[1]
#: The package folders the wheel installs; nothing may be written into them at run time.
INSTALLED = ("smkit", *resources.SERVER_PACKAGES)


def git_status() -> list[str]:
    """The checkout's changed, untracked and ignored entries (bytecode caches aside)."""
    out = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    return sorted(line for line in out.splitlines() if "__pycache__" not in line)


def tree(root: Path) -> dict[str, tuple[int, int]]:
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


def build_wheel(into: Path) -> Path:
    """The wheel of the checkout as it is now (tracked and new files), built from a copy, so
    building it writes nothing into the checkout."""
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


def _seed_home(home: Path) -> None:
    """Give ``home`` the suite's resolution locks and wheels (hard links where the disk
    allows), as a returning user has them: the demo's product image then needs no call to
    the index and no download, and what the installed smkit writes still goes to ``home``."""
    for source in (paths.resolution_locks(), paths.wheelhouse()):
        if not source.is_dir():
            continue
        target = home / source.name
        target.mkdir(parents=True, exist_ok=True)
        for path in source.iterdir():
            if path.is_file():
                try:
                    os.link(path, target / path.name)
                except OSError:
                    shutil.copy2(path, target / path.name)


def install(root: Path) -> Installed:
    """Build the wheel, install it with the project's pins into a fresh venv under ``root``,
    and give it a project folder and a ``$SMKIT_HOME`` of its own there."""
    before = git_status()
    wheel = build_wheel(root)
    venv = root / "venv"
    proc = subprocess.run(["bash", str(REPO / "scripts" / "venv.sh")],
                          env={**os.environ, "SMKIT_VENV": str(venv), "SMKIT_INSTALL": str(wheel)},
                          capture_output=True, text=True, timeout=1200, check=False)
    assert proc.returncode == 0, proc.stderr
    (site,) = (venv / "lib").glob("python3.*/site-packages")
    home = root / "home"
    _seed_home(home)
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "SMKIT_HOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["SMKIT_HOME"] = str(home)
    project = root / "project"
    project.mkdir()
    return Installed(wheel, venv, site, project, home, env, before,
                     {name: tree(site / name) for name in INSTALLED})


@dataclass
class DemoRun:
    """A finished ``smkit demo --keep-emulators`` run."""

    out: Path
    stdout: str
    stderr: str
    seconds: float
    env: dict[str, str]

    def fact(self, name: str) -> str:
        """A value from the closing summary (``  name  value``)."""
        for line in self.stdout.splitlines():
            m = re.match(r"^  (\S.*?)\s{2,}(\S.*)$", line)
            if m and m.group(1) == name:
                return m.group(2).strip()
        raise AssertionError(f"no {name!r} in the summary:\n{self.stdout}")


def run_demo(installed: Installed, image: str,
             timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """``smkit demo --keep-emulators`` as a user runs it: the installed wheel's smkit, in its
    project folder (so the demo writes to that folder's ``.smkit/demo``)."""
    env = {**installed.env, "SMKIT_IMAGE": image}
    return subprocess.run([str(installed.venv / "bin" / "smkit"), "demo", "--keep-emulators"],
                          cwd=installed.project, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
