"""smkit as a user installs it: a wheel built from this checkout, installed into a fresh venv
in a temporary folder (``scripts/venv.sh``, with the project's pins), runs its commands from a
project folder of its own, ``smkit build`` and ``smkit demo`` included.

The wheel carries the container sources and the scripts; what smkit writes goes to
``$SMKIT_HOME`` or to the project folder, never into the checkout or the installed package.
The wheel is built from a copy of the checkout's files, so building it writes nothing here
either. The venv (``wheel_venv``) and its demo run (``demo_run``, the suite's only one, which
the demo tests read too) are shared fixtures, made once per run.
"""

from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path

import pytest
from smkit.core import resources
from smkit.image import build
from smkit_testkit import docker
from wheel_kit import INSTALLED, REPO, DemoRun, Installed, git_status, tree

pytestmark = pytest.mark.container


def test_the_wheel_carries_the_container_sources_and_the_scripts(wheel_venv: Installed) -> None:
    shipped = [resources.DOCKERFILE, resources.PRODUCT_DOCKERFILE, resources.INSTALL_LAYER,
               resources.SERVER_PINS, resources.DEFAULT_PINS, resources.script("base-image.sh"),
               resources.script("ensure-registry.sh")]
    with zipfile.ZipFile(wheel_venv.wheel) as whl:
        for path in shipped:
            name = f"smkit/{resources.BUNDLE}/{path.relative_to(REPO).as_posix()}"
            assert whl.read(name) == path.read_bytes(), name
    # The installed smkit finds them in its own package, not in this checkout.
    probe = wheel_venv.run("python", "-c", (
        "import json, smkit; from smkit.core import resources; "
        "print(json.dumps([smkit.__file__, str(resources.ROOT), "
        "[str(p) for p in resources.server_packages()]]))"))
    assert probe.returncode == 0, probe.stderr
    package, root, servers = json.loads(probe.stdout)
    assert Path(package).is_relative_to(wheel_venv.site)
    assert Path(root) == wheel_venv.site / "smkit" / resources.BUNDLE
    assert [Path(s) for s in servers] == [wheel_venv.site / n for n in resources.SERVER_PACKAGES]


def test_smkit_build_from_the_wheel_names_the_checkouts_image(wheel_venv: Installed,
                                                              image: str) -> None:
    """Content-addressed: the same name proves the wheel builds from the same files (and,
    the image being there already, nothing is rebuilt)."""
    assert "demo" in wheel_venv.smkit("--help").stdout
    _, base = build.current_bases()
    expected = build.layer_for(None).plan(base).tag
    tag = f"smkit-wheel-test:{uuid.uuid4().hex[:8]}"
    try:
        out = wheel_venv.smkit("build", "--default", "--tag", tag).stdout
        assert out.strip().splitlines()[-1] == expected
    finally:
        docker("rmi", tag, check=False)


def test_the_emulators_keep_their_state_in_smkit_home(wheel_venv: Installed) -> None:
    try:
        wheel_venv.smkit("emulators", "up", timeout=180)
        assert (wheel_venv.home / "emulators" / "state.json").is_file()
        assert "AWS_ENDPOINT_URL=" in wheel_venv.smkit("emulators", "env").stdout
    finally:
        wheel_venv.run("smkit", "emulators", "down")
    assert not (wheel_venv.home / "emulators" / "state.json").exists()


def test_smkit_demo_runs_from_the_wheel_into_the_project_folder(wheel_venv: Installed,
                                                               demo_run: DemoRun) -> None:
    assert "smkit demo: done in" in demo_run.stdout
    out = wheel_venv.project / ".smkit" / "demo"
    assert (out / "summary.txt").is_file()
    assert (out / "listing" / "preview.html").is_file()


def test_nothing_was_written_into_the_checkout_or_the_installed_package(
        wheel_venv: Installed, demo_run: DemoRun) -> None:
    """After the demo (``demo_run`` makes sure it ran) and every command above. The checkout
    gains no changed, new or ignored entry (one committed meanwhile may leave the list)."""
    gained = set(git_status()) - set(wheel_venv.checkout_before)
    assert not gained, sorted(gained)
    for name in INSTALLED:
        assert tree(wheel_venv.site / name) == wheel_venv.package_before[name], name
