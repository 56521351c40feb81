"""Where smkit writes: the one owner of every place it keeps state.

Two kinds of state, and nothing else is written:

- the user's, shared by every project: the wheelhouse, the resolution locks, the image build
  contexts and the emulators, under :func:`home` (``$SMKIT_HOME``, else
  ``$XDG_CACHE_HOME/smkit``, else ``~/.cache/smkit``);
- one project's, in ``.smkit/`` of the project folder: the listing state beside
  ``listing.yaml`` and the demo's output (relative to the folder the command runs in).

smkit never writes into its installed package, nor into a checkout it was not run in.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The variable that moves :func:`home`.
HOME_ENV = "SMKIT_HOME"
#: A project's own state folder.
PROJECT_DIR = ".smkit"
#: Where ``smkit demo`` writes by default, relative to the folder it runs in.
DEMO_OUT = Path(PROJECT_DIR) / "demo"


def home() -> Path:
    """The user's smkit state: ``$SMKIT_HOME``, else ``$XDG_CACHE_HOME/smkit``, else
    ``~/.cache/smkit`` (a relative ``XDG_CACHE_HOME`` is ignored, as the spec says)."""
    explicit = os.environ.get(HOME_ENV)
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(cache) if cache and Path(cache).is_absolute() else Path.home() / ".cache"
    return base / "smkit"


def wheelhouse() -> Path:
    """The shared wheel cache image builds install from."""
    return home() / "wheelhouse"


def build_contexts() -> Path:
    """Where image build contexts are assembled (beside the wheelhouse, so wheels are
    hard-linked, not copied); each is removed after its build."""
    return home() / "images"


def resolution_locks() -> Path:
    """The kept results of resolving an environment's requirements (delete to resolve
    afresh)."""
    return home() / "locks"


def emulators(base: Path | None = None) -> Path:
    """The emulators' state, logs and registry storage (under ``base`` instead of
    :func:`home` when given)."""
    return (base or home()) / "emulators"


def listing_state(listing_file: Path) -> Path:
    """The product and offer IDs an APPLY recorded, in the listing's project folder."""
    return listing_file.resolve().parent / PROJECT_DIR / "listing-state.json"
