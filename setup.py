"""Build step: the wheel carries the container sources and the scripts smkit runs.

Everything else is declared in pyproject.toml. ``container/``'s own files (the Dockerfiles,
the install script, the pins) and the scripts smkit runs are not Python packages, so
setuptools would leave them out; this copies them into the wheel as package data under
``smkit/_bundle/``, keeping the checkout's layout, so the repository holds one copy of each.
``smkit.core.resources`` finds them there, or in the checkout itself for an editable install
(which skips this step). The server's own packages (``smkit_serve``, ``smkit_contract``) are
packages of the wheel already; ``MANIFEST.in`` puts the same files in an sdist.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
#: The folder under the smkit package the files go to; smkit.core.resources.BUNDLE names it.
BUNDLE = Path("smkit") / "_bundle"
#: The scripts smkit itself runs (the others are the checkout's own make targets).
SCRIPTS = ("base-image.sh", "ensure-registry.sh")


def bundled() -> list[Path]:
    """The files that travel: container/'s own files (its folders are the server's packages)
    and the scripts smkit runs."""
    files = [p for p in sorted((HERE / "container").iterdir()) if p.is_file()]
    files += [HERE / "scripts" / name for name in SCRIPTS]
    if not any(p.name == "Dockerfile" for p in files):
        raise SystemExit(f"setup.py: no container/Dockerfile under {HERE}; build the wheel "
                         "from a full checkout (or an sdist made from one)")
    return files


class BuildPyWithBundle(build_py):
    """``build_py`` that also copies :func:`bundled` into the built smkit package."""

    def run(self) -> None:
        """Build the packages, then add the bundle (not for an editable install)."""
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for src in bundled():
            dest = Path(self.build_lib) / BUNDLE / src.relative_to(HERE)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)


setup(cmdclass={"build_py": BuildPyWithBundle})
