"""smkit.image.docker: leftovers of dead runs are removed, live runs' containers are not."""

from __future__ import annotations

import subprocess
import uuid

import pytest
from smkit.image.docker import LABEL, OWNER_LABEL, remove_leftovers
from smkit_testkit import docker

pytestmark = pytest.mark.container


def _start(image: str, owner: int) -> str:
    name = f"smkit-test-leftover-{uuid.uuid4().hex[:8]}"
    docker("run", "-d", "--name", name, "--label", LABEL, "--label", f"{OWNER_LABEL}={owner}",
           "--entrypoint", "sleep", image, "60")
    return name


def test_only_containers_of_dead_runs_are_removed(image: str) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    alive = subprocess.Popen(["sleep", "60"])
    names = [_start(image, dead.pid), _start(image, alive.pid)]
    try:
        assert remove_leftovers() >= 1
        left = docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert names[0] not in left
        assert names[1] in left
    finally:
        alive.kill()
        docker("rm", "-f", *names, check=False)


def test_fastest_url_reaches_the_container_without_docker_proxy(image: str,
                                                                iris_model_dir) -> None:
    """On a Linux engine the bridge address answers directly; it is not the published port."""
    import urllib.request

    from smkit.image.docker import Server, serve

    with serve(image, iris_model_dir) as server:
        direct = server.fastest_url()
        assert direct is not None
        assert direct != server.url
        assert direct.endswith(":8080")
        with urllib.request.urlopen(direct + "/ping", timeout=10) as r:
            assert r.status == 200
    # A container that is gone (or an engine with no reachable bridge) keeps the given URL.
    gone = Server(name=f"smkit-test-gone-{uuid.uuid4().hex[:8]}", url="http://127.0.0.1:9")
    assert gone.fastest_url() == "http://127.0.0.1:9"
    assert Server(name="x", url=None).fastest_url() is None
