"""Where smkit writes (``smkit.core.paths``) and where it reads what it ships
(``smkit.core.resources``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from smkit.core import paths, resources
from smkit.core.errors import PlatformError

REPO = Path(__file__).resolve().parents[2]


def test_home_is_smkit_home_else_the_xdg_cache_else_the_users_cache(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SMKIT_HOME", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.home() == tmp_path / "mine"
    monkeypatch.delenv("SMKIT_HOME")
    assert paths.home() == tmp_path / "xdg" / "smkit"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # ignored, as the spec says
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert paths.home() == tmp_path / "user" / ".cache" / "smkit"


def test_shared_state_lives_under_home_and_a_projects_beside_its_files(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SMKIT_HOME", str(tmp_path / "home"))
    for where in (paths.wheelhouse(), paths.resolution_locks(), paths.build_contexts(),
                  paths.emulators()):
        assert where.parent == tmp_path / "home"
    assert paths.emulators(tmp_path / "demo") == tmp_path / "demo" / "emulators"
    listing = tmp_path / "project" / "listing.yaml"
    assert paths.listing_state(listing) == tmp_path / "project" / ".smkit" / "listing-state.json"


def test_from_a_checkout_the_shipped_files_are_the_checkouts_own() -> None:
    assert resources.ROOT == REPO
    assert resources.DOCKERFILE == REPO / "container" / "Dockerfile"
    assert resources.script("base-image.sh") == REPO / "scripts" / "base-image.sh"
    assert resources.server_packages() == [REPO / "container" / n
                                           for n in resources.SERVER_PACKAGES]
    with pytest.raises(PlatformError, match=r"^smkit's script nope\.sh is missing"):
        resources.script("nope.sh")
