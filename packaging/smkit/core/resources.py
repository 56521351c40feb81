"""The files smkit ships beside its code: the container sources and the scripts it runs.

This module is the one place that knows where they are. In an installed wheel they are
package data under ``smkit/_bundle/`` (``setup.py`` copies ``container/`` and ``scripts/``
there when the wheel is built, keeping their layout); from a checkout (an editable install)
they are the checkout's own ``container/`` and ``scripts/``. The server's packages
(``smkit_serve``, ``smkit_contract``) are installed packages either way, found by import.
Everything here is read-only: what smkit writes goes where :mod:`smkit.core.paths` says.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.util import find_spec
from pathlib import Path

from smkit.core.errors import PlatformError

#: The folder of the smkit package the wheel carries the files in (``setup.py`` fills it).
BUNDLE = "_bundle"
#: The server's packages: copied into the server base image.
SERVER_PACKAGES = ("smkit_serve", "smkit_contract")


def _root() -> Path:
    """The folder holding ``container/`` and ``scripts/``: the wheel's bundle when there is
    one, else the checkout the smkit package lives in."""
    package = Path(str(files("smkit")))
    bundle = package / BUNDLE
    return bundle if bundle.is_dir() else package.parents[1]


ROOT = _root()
#: The Dockerfiles, the install script and the pins.
CONTAINER = ROOT / "container"
SCRIPTS = ROOT / "scripts"
#: The server base image's Dockerfile and the script both image layers install wheels with.
DOCKERFILE = CONTAINER / "Dockerfile"
INSTALL_LAYER = CONTAINER / "install-layer.sh"
#: A product image's Dockerfile: the model's packages on the server base.
PRODUCT_DOCKERFILE = CONTAINER / "Dockerfile.product"
#: The inference server's own pins, and the default environment's model packages.
SERVER_PINS = CONTAINER / "requirements-server.txt"
DEFAULT_PINS = CONTAINER / "requirements.txt"


def script(name: str) -> Path:
    """The shipped script ``name`` (e.g. ``base-image.sh``)."""
    path = SCRIPTS / name
    if not path.is_file():
        raise PlatformError(f"smkit's script {name} is missing from {SCRIPTS}; reinstall smkit "
                            "from a wheel built with `pip wheel` (or run it from a checkout)")
    return path


def server_packages() -> list[Path]:
    """The folders of the server's packages, as installed (from a checkout: under
    ``container/``)."""
    found = []
    for name in SERVER_PACKAGES:
        spec = find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise PlatformError(f"the {name} package is not installed beside smkit; reinstall "
                                "smkit (its wheel carries it)")
        found.append(Path(next(iter(spec.submodule_search_locations))))
    return found
