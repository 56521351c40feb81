"""What SDK local mode leaves in Docker, and smkit's housekeeping of it.

The SDK's ``delete_endpoint`` and the end of a transform kill ``docker-compose up`` but leave
the container and the ``sagemaker-local`` network behind. smkit labels its local-mode
containers with a run id and its pid (``RUN_LABEL``, ``PID_LABEL``: their values are on
sellers' containers, so they never change), removes them by label, creates the network
itself under a host-wide lock and removes it when nothing uses it. The endpoint's port is
checked before a run: a container an earlier, dead smkit run left there is removed; anything
else is an error that names it.
"""

from __future__ import annotations

import fcntl
import socket
import tempfile
import time
from pathlib import Path
from typing import IO

from smkit.core.errors import PlatformError, UserError
from smkit.core.procs import pid_alive
from smkit.image import docker

#: Labels on every container smkit's local mode starts.
RUN_LABEL = "smkit.localmode"
PID_LABEL = "smkit.localmode.pid"
NETWORK = "sagemaker-local"
_COMPOSE_NETWORK_LABEL = "com.docker.compose.network"


def containers(*filters: str) -> list[tuple[str, str, str]]:
    """(id, name, smkit pid label) of containers matching the docker ps filters."""
    args = ["ps", "-a", "--format", "{{.ID}}\t{{.Names}}\t{{.Label \"" + PID_LABEL + "\"}}"]
    for f in filters:
        args += ["--filter", f]
    out = docker.docker(*args, check=False).stdout.decode()
    rows = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            rows.append((parts[0], parts[1], parts[2]))
    return rows


def run_containers(run_id: str, *filters: str) -> list[tuple[str, str, str]]:
    """:func:`containers` of one local-mode run (its ``RUN_LABEL``), further filtered."""
    return containers(f"label={RUN_LABEL}={run_id}", *filters)


def remove_run(run_id: str) -> int:
    """Remove the containers of one local-mode run, and the network if it is unused."""
    ids = [c[0] for c in run_containers(run_id)]
    if ids:
        docker.docker("rm", "-f", *ids, check=False)
    with NetworkLock():
        remove_network()
    return len(ids)


class NetworkLock:
    """A host-wide lock (flock) around creating, joining and removing ``sagemaker-local``.

    Two compose runs starting at once both create the network, and Docker allows two
    networks with one name; compose then fails ("ambiguous") and leaves a container in
    Created. smkit creates the network itself under this lock and keeps the lock until its
    container has joined, so concurrent smkit runs (on different ports) do not collide.
    """

    path = Path(tempfile.gettempdir()) / "smkit-sagemaker-local.lock"

    def __init__(self, timeout: float = 300) -> None:
        self.timeout = timeout
        self.handle: IO[str] | None = None

    def acquire(self) -> None:
        """Wait for the lock; PlatformError after ``timeout`` seconds."""
        if self.handle is not None:
            return
        handle = open(self.path, "a")  # noqa: SIM115 (closed in release)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    raise PlatformError(
                        f"another smkit local-mode run held {self.path} for over "
                        f"{self.timeout:.0f} s; wait for it to finish"
                    ) from None
                time.sleep(0.2)
        self.handle = handle

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None

    def __enter__(self) -> NetworkLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _network_ids() -> list[str]:
    out = docker.docker("network", "ls", "--no-trunc", "--format", "{{.ID}}\t{{.Name}}",
                        check=False).stdout.decode()
    return [line.split("\t")[0] for line in out.splitlines() if line.endswith("\t" + NETWORK)]


def _network_unused(network_id: str) -> bool:
    return not containers(f"network={network_id}")


def ensure_network() -> None:
    """Make exactly one ``sagemaker-local`` network exist (call under NetworkLock)."""
    ids = _network_ids()
    for nid in ids[1:]:
        if _network_unused(nid):
            docker.docker("network", "rm", nid, check=False)
    ids = _network_ids()
    if len(ids) > 1:
        raise PlatformError(f"{len(ids)} Docker networks are named {NETWORK} and in use, so "
                            "compose cannot pick one; remove the extra ones "
                            f"(`docker network rm {ids[-1]}`)")
    if ids and _network_label(ids[0]) != NETWORK and _network_unused(ids[0]):
        docker.docker("network", "rm", ids[0], check=False)
        ids = _network_ids()
    if not ids:
        # compose refuses a network that lacks its label ("incorrect label").
        docker.docker("network", "create", "--label", f"{_COMPOSE_NETWORK_LABEL}={NETWORK}",
                      NETWORK)


def _network_label(network_id: str) -> str:
    proc = docker.docker("network", "inspect", "-f",
                         "{{index .Labels \"" + _COMPOSE_NETWORK_LABEL + "\"}}", network_id,
                         check=False)
    return proc.stdout.decode().strip()


def remove_network() -> None:
    """Remove every ``sagemaker-local`` network no container uses (call under NetworkLock)."""
    for nid in _network_ids():
        if _network_unused(nid):
            docker.docker("network", "rm", nid, check=False)


def remove_leftovers() -> int:
    """Remove containers that earlier smkit local-mode runs left behind (their process died)."""
    dead = [c for c in containers(f"label={RUN_LABEL}")
            if not (c[2].isdigit() and pid_alive(int(c[2])))]
    if dead:
        docker.docker("rm", "-f", *[c[0] for c in dead], check=False)
    with NetworkLock():
        remove_network()
    return len(dead)


def port_free(port: int) -> bool:
    """True when nothing listens on ``port`` (the SDK binds it on every interface)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))  # noqa: S104 (a probe: closed at once)
        except OSError:
            return False
    return True


def wait_port_free(port: int, timeout: float) -> bool:
    """Poll until ``port`` is free or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if port_free(port):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def claim_port(port: int) -> None:
    """Make sure ``port`` is free: clear smkit leftovers, else say who holds it."""
    remove_leftovers()
    if wait_port_free(port, 5):
        return
    holders = containers(f"publish={port}")
    names = ", ".join(name for _, name, _ in holders)
    who = f"container(s) {names}" if names else "a process that is not a container"
    hint = (f"stop it (`docker rm -f {holders[0][1]}`) " if holders else "stop it ")
    raise UserError(f"port {port} is busy ({who}); SDK local mode needs it: {hint}"
                    "or pass another --port")


def run_logs(run_id: str) -> str:
    """What the containers of one local-mode run printed (docker logs, stdout and stderr)."""
    logs = []
    for cid, _, _ in run_containers(run_id):
        proc = docker.docker("logs", cid, check=False)
        logs.append((proc.stdout + proc.stderr).decode(errors="replace"))
    return "\n".join(logs) or "(no container was started)"
