"""Run the inference image on the host: start it, wait for /ping, talk to it, clean up.

Uses the docker CLI with argument lists (never a shell string). Shared by the local-mode,
transform, packaging and preflight commands.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import smkit_contract.env as env_names
import smkit_contract.names as names

from smkit.core.errors import PlatformError, UserError
from smkit.core.procs import pid_alive

#: Label on every container smkit starts, so leftovers from an interrupted run can be found.
LABEL = "smkit.managed=true"
#: Label with the pid of the smkit process that started the container.
OWNER_LABEL = "smkit.owner-pid"


#: What to do when the docker CLI finds no engine.
ENGINE_DOWN = ("no Docker engine is running; start it (`make engine` in smkit's checkout, "
               "or `sudo systemctl start docker`) and run the command again")


def docker(*args: str, check: bool = True, timeout: float = 300,
           input_bytes: bytes | None = None, config_dir: Path | None = None,
           client: str = "docker") -> subprocess.CompletedProcess[bytes]:
    """Run ``docker ARGS``: smkit's one way to call the engine.

    Raises PlatformError with docker's message when it fails (unless ``check`` is False).
    ``config_dir`` gives docker a private config folder, so a registry token never lands in
    ``~/.docker``.
    """
    env = None
    if config_dir is not None:
        env = {**os.environ, "DOCKER_CONFIG": str(config_dir)}
    if client != "docker":
        env = {**(env or os.environ), "DOCKER_BUILDKIT": "1"}
    try:
        proc = subprocess.run(
            [client, *args], capture_output=True, timeout=timeout, input=input_bytes,
            check=False, env=env,
        )
    except FileNotFoundError:
        raise PlatformError("the docker CLI is not installed; run `make engine`") from None
    except subprocess.TimeoutExpired:
        raise PlatformError(f"`docker {args[0]}` did not finish within {timeout:.0f} s") from None
    if check and proc.returncode != 0:
        err = _message(proc)
        if _engine_down(err):
            raise PlatformError(ENGINE_DOWN)
        raise PlatformError(f"`docker {' '.join(args[:2])}` failed: {err[-2000:]}")
    return proc


def _message(proc: subprocess.CompletedProcess[bytes]) -> str:
    return (proc.stderr or proc.stdout).decode(errors="replace").strip()


def _engine_down(message: str) -> bool:
    return "Cannot connect to the Docker daemon" in message


def buildkit_client() -> str:
    """The docker client that builds with BuildKit here.

    Debian's docker.io client (``/usr/bin/docker``) has BuildKit built in; a newer client
    without the buildx plugin refuses ``DOCKER_BUILDKIT=1``. Docker Desktop's client has buildx.
    """
    debian = Path("/usr/bin/docker")
    return str(debian) if debian.is_file() else "docker"


def build(context: Path, tags: list[str], *, dockerfile: Path | None = None,
          build_args: Mapping[str, str] | None = None,
          labels: Mapping[str, str] | None = None, timeout: float = 3600,
          no_cache: bool = False) -> None:
    """``docker build`` with BuildKit (``RUN --mount`` keeps wheels out of the layers).

    ``no_cache`` rebuilds every step instead of reusing cached layers (the bench's cold builds).
    """
    args = ["build", "--progress", "plain"]
    if no_cache:
        args.append("--no-cache")
    if dockerfile is not None:
        args += ["-f", str(dockerfile)]
    for key, value in (build_args or {}).items():
        args += ["--build-arg", f"{key}={value}"]
    for key, value in (labels or {}).items():
        args += ["--label", f"{key}={value}"]
    for tag in tags:
        args += ["-t", tag]
    docker(*args, str(context), timeout=timeout, client=buildkit_client())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_engine() -> None:
    """Raise PlatformError naming what to do when no Docker engine answers."""
    docker("version", "--format", "{{.Server.Version}}", timeout=30)


@dataclass(frozen=True)
class EngineResources:
    """What the Docker engine's machine has: no container can be given more."""

    cpus: int
    memory_bytes: int


def engine_resources() -> EngineResources:
    """CPUs and memory of the engine's machine."""
    out = docker("info", "--format", "{{.NCPU}} {{.MemTotal}}").stdout.decode().split()
    return EngineResources(int(out[0]), int(out[1]))


def image_exists(image: str) -> bool:
    """True when the engine has ``image`` locally."""
    proc = docker("image", "inspect", image, check=False)
    # "No engine" is not "no such image": that would send the caller off to build one.
    if proc.returncode != 0 and _engine_down(_message(proc)):
        raise PlatformError(ENGINE_DOWN)
    return proc.returncode == 0


#: The port the server listens on inside the container (SageMaker's contract).
CONTAINER_PORT = env_names.DEFAULT_PORT


@dataclass
class Server:
    """A running inference container."""

    name: str
    #: Base URL from the host, or None under ``--network none`` (use ``request_inside``).
    url: str | None
    #: Seconds from ``docker run`` to the first 200 on /ping.
    ready_after: float | None = None

    def fastest_url(self) -> str | None:
        """The container's own address on Docker's bridge (``http://IP:8080``) when this
        host reaches it, else ``url``.

        A published port goes through docker-proxy, a userland process that copies every
        byte both ways on the same cores as the model: about a tenth of the CPU of a local
        batch transform here (bench/README.md). Docker Desktop, rootless engines and
        ``--network none`` have no reachable bridge address, so they keep ``url``.
        """
        if self.url is None:
            return None
        out = docker("inspect", "-f",
                     "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", self.name,
                     check=False).stdout.decode().split()
        for ip in out:
            try:
                socket.create_connection((ip, CONTAINER_PORT), timeout=0.5).close()
            except OSError:
                continue
            return f"http://{ip}:{CONTAINER_PORT}"
        return self.url

    def logs(self) -> str:
        """What the container printed so far."""
        proc = docker("logs", self.name, check=False)
        return (proc.stdout + proc.stderr).decode(errors="replace")

    def request_inside(self, method: str, path: str, body: bytes = b"",
                       headers: Mapping[str, str] | None = None,
                       timeout: float = 60) -> tuple[int, dict[str, str], bytes]:
        """Make an HTTP request from inside the container (works with no network at all)."""
        script = (
            "import sys,json,urllib.request,urllib.error\n"
            "a=json.loads(sys.argv[1]);b=sys.stdin.buffer.read()\n"
            "r=urllib.request.Request('http://127.0.0.1:'+a['port']+a['path'],"
            "data=b if a['method']=='POST' else None,method=a['method'],headers=a['headers'])\n"
            "try:\n"
            "  x=urllib.request.urlopen(r,timeout=a['timeout'])\n"
            "  s=x.status;h=dict(x.headers);d=x.read()\n"
            "except urllib.error.HTTPError as e:\n"
            "  s=e.code;h=dict(e.headers);d=e.read()\n"
            "sys.stdout.buffer.write(json.dumps({'s':s,'h':h}).encode()+b'\\n'+d)\n"
        )
        args = json.dumps({"port": str(CONTAINER_PORT), "path": path, "method": method,
                           "headers": dict(headers or {}), "timeout": timeout})
        proc = docker("exec", "-i", self.name, "python3", "-c", script, args,
                      input_bytes=body, timeout=timeout + 30)
        head, _, data = proc.stdout.partition(b"\n")
        meta = json.loads(head)
        return int(meta["s"]), {k.lower(): v for k, v in meta["h"].items()}, data

    def ping(self, timeout: float = 2) -> int | None:
        """Status of ``GET /ping``, or None when nothing answers."""
        return self.ping_answer(timeout)[0]

    def ping_answer(self, timeout: float = 2) -> tuple[int | None, str]:
        """Status and body of ``GET /ping``; ``(None, "")`` when nothing answers."""
        if self.url is None:
            try:
                status, _, body = self.request_inside("GET", "/ping", timeout=timeout)
            except (PlatformError, ValueError):
                return None, ""
            return status, body.decode(errors="replace")
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=timeout) as r:  # noqa: S310
                return int(r.status), r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return int(e.code), e.read().decode(errors="replace")
        except (OSError, ValueError):
            return None, ""

    def running(self) -> bool:
        """True while the container is running."""
        proc = docker("inspect", "-f", "{{.State.Running}}", self.name, check=False)
        return proc.stdout.strip() == b"true"


def not_ready_reason(body: str) -> str:
    """The server's own reason from a ``/ping`` 503 body (``{"error": "..."}``)."""
    try:
        reason = json.loads(body).get("error")
    except (ValueError, AttributeError):
        reason = None
    return str(reason or body.strip() or "no reason given")


def wait_healthy(server: Server, started: float, timeout: float) -> None:
    """Poll /ping until 200; fail at once when the server says it is not ready, or exits.

    The server loads the model before it listens, so a 503 is its final word, not a
    state to wait out: its reason becomes the first line of the error.
    """
    while time.monotonic() - started < timeout:
        status, body = server.ping_answer()
        if status == 200:
            server.ready_after = time.monotonic() - started
            return
        if status == 503:
            raise UserError(
                f"{not_ready_reason(body)}\n(the container answered /ping 503 after "
                f"{time.monotonic() - started:.1f} s; its log:)\n{server.logs()[-3000:]}"
            )
        if not server.running():
            raise PlatformError(
                f"the container exited before /ping answered 200. Its log:\n{server.logs()[-3000:]}"
            )
        time.sleep(0.1)
    raise PlatformError(
        f"/ping did not answer 200 within {timeout:.0f} s (last: {server.ping()}). "
        f"Its log:\n{server.logs()[-3000:]}"
    )


@contextmanager
def serve(
    image: str,
    model_dir: Path | None,
    *,
    env: Mapping[str, str] | None = None,
    network: str | None = None,
    read_only: bool = False,
    port: int | None = None,
    startup_timeout: float = 240,
    wait: bool = True,
    extra_args: tuple[str, ...] = (),
) -> Iterator[Server]:
    """Start ``image serve`` with ``model_dir`` at /opt/ml/model; remove it afterwards.

    ``network="none"`` runs it as Marketplace buyers do (no network); then ``url`` is None
    and requests go through ``Server.request_inside``.
    """
    if model_dir is not None and not Path(model_dir).is_dir():
        raise UserError(f"model directory {model_dir} does not exist")
    if not image_exists(image):
        raise UserError(f"image {image} is not built; run `make build-container`")
    name = f"smkit-{uuid.uuid4().hex[:12]}"
    args = ["run", "-d", "--name", name, "--label", LABEL,
            "--label", f"{OWNER_LABEL}={os.getpid()}"]
    url = None
    if network == "none":
        args += ["--network", "none"]
    else:
        host_port = port or free_port()
        args += ["-p", f"127.0.0.1:{host_port}:{CONTAINER_PORT}"]
        url = f"http://127.0.0.1:{host_port}"
    if read_only:
        args += ["--read-only", "--tmpfs", "/tmp:rw,size=64m"]
    if model_dir is not None:
        args += ["-v", f"{Path(model_dir).resolve()}:{names.CONTAINER_MODEL_DIR}:ro"]
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    args += [*extra_args, image, "serve"]
    started = time.monotonic()
    docker(*args)
    server = Server(name=name, url=url)
    try:
        if wait:
            wait_healthy(server, started, startup_timeout)
        yield server
    finally:
        docker("rm", "-f", name, check=False)


def remove_leftovers() -> int:
    """Remove containers that smkit runs which have since died left behind; returns how many.

    Containers whose owning smkit process is still alive belong to a run in progress
    (perhaps another terminal's) and are left alone.
    """
    out = docker("ps", "-a", "--filter", f"label={LABEL}", "--format",
                 f'{{{{.ID}}}} {{{{.Label "{OWNER_LABEL}"}}}}', check=False).stdout.decode()
    stale = []
    for line in out.splitlines():
        cid, _, owner = line.partition(" ")
        if not owner.strip().isdigit() or not pid_alive(int(owner)):
            stale.append(cid)
    if stale:
        docker("rm", "-f", *stale, check=False)
    return len(stale)
