"""smkit.docker: leftovers of dead runs are removed, live runs' containers are not."""

from __future__ import annotations

import subprocess
import uuid

import pytest
from smkit.docker import LABEL, OWNER_LABEL, remove_leftovers
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
