"""Start and stop the offline stand-ins for AWS: moto server, a registry, the Catalog emulator.

Each runs as a child process on a free 127.0.0.1 port. Their pids, ports and logs are kept
in ``<home>/emulators/state.json``, where home is smkit's state folder
(:func:`smkit.core.paths.home`: ``$SMKIT_HOME``, else ``~/.cache/smkit``) or the folder a
caller passes (the demo's). ``smkit emulators env`` prints the variables
that point boto3 (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_MARKETPLACE_CATALOG``) and
``smkit push`` (``SMKIT_REGISTRY``) at them. ``down`` stops only the processes it recorded.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from smkit.aws.clients import poll
from smkit.core import paths, resources
from smkit.core.errors import PlatformError
from smkit.core.procs import pid_alive
from smkit.image.docker import free_port

REGION = "us-east-1"
CATALOG_MODULE = "smkit.emulators.catalog"


@dataclass
class Service:
    """One emulator process."""

    name: str
    pid: int
    port: int
    log: str

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"


def _ours(service: Service) -> bool:
    """True when ``service.pid`` is still the process we started (same port on its cmdline)."""
    try:
        cmdline = Path(f"/proc/{service.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return pid_alive(service.pid)
    text = b" ".join(cmdline).decode(errors="replace")
    return str(service.port) in text or "config.yml" in text


def _http_status(url: str, timeout: float = 1) -> int | None:
    """The HTTP status ``url`` answers GET with, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - http(s) only
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except (OSError, ValueError):
        return None


def _http_ok(url: str) -> bool:
    status = _http_status(url)
    return status is not None and status < 500


def is_moto(url: str, timeout: float = 1) -> bool:
    """True when ``url`` is a moto server: its dashboard API answers (a real AWS endpoint,
    or another emulator, has no ``/moto-api/``)."""
    status = _http_status(f"{url.rstrip('/')}/moto-api/", timeout)
    return status is not None and status < 400


HEALTH: dict[str, Callable[[Service], bool]] = {
    "moto": lambda s: is_moto(s.url),
    "registry": lambda s: _http_ok(f"{s.url}/v2/"),
    "catalog": lambda s: _http_ok(f"{s.url}/"),
}


def read_state(base: Path | None = None) -> dict[str, Service]:
    """The recorded services (empty when none were started)."""
    path = paths.emulators(base) / "state.json"
    try:
        raw = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {name: Service(**svc) for name, svc in raw.get("services", {}).items()}


def _write_state(base: Path | None, services: dict[str, Service]) -> None:
    path = paths.emulators(base) / "state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"services": {n: asdict(s) for n, s in services.items()}},
                              indent=2))
    tmp.replace(path)


def healthy(services: dict[str, Service]) -> bool:
    """True when every recorded service runs and answers."""
    return bool(services) and all(
        pid_alive(s.pid) and HEALTH[s.name](s) for s in services.values())


def ensure_registry_binary() -> str:
    """Path of ``docker-registry``; installs Debian's package (as root) when missing."""
    found = shutil.which("docker-registry")
    if found:
        return found
    script = resources.SCRIPTS / "ensure-registry.sh"
    if script.is_file():
        proc = subprocess.run(["bash", str(script)], capture_output=True, text=True,
                              check=False, timeout=600)
        found = shutil.which("docker-registry")
        if proc.returncode == 0 and found:
            return found
        raise PlatformError(f"could not install docker-registry: {proc.stderr.strip()[-500:]}")
    raise PlatformError("docker-registry is not installed; as root run "
                        "`apt-get install -y docker-registry` (Debian's Distribution registry)")


def _spawn(name: str, args: list[str], port: int, sdir: Path) -> Service:
    log = sdir / f"{name}.log"
    with open(log, "ab") as out:
        # Own session: Ctrl-C in the shell that ran `up` does not take the emulators down.
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                cwd=str(sdir))
    return Service(name=name, pid=proc.pid, port=port, log=str(log))


def _wait_ready(service: Service, timeout: float = 30) -> str:
    """Poll until the service answers ("ready"), exits ("exited") or times out."""
    def check() -> str:
        if not pid_alive(service.pid):
            return "exited"
        return "ready" if HEALTH[service.name](service) else "starting"

    return poll(check, lambda s: s != "starting", timeout=timeout, interval=0.1,
                max_interval=0.5, what=f"the {service.name} emulator")


def _start(name: str, command: Callable[[int], list[str]], sdir: Path,
           attempts: int = 3) -> Service:
    """Start one emulator on a free port; retry on another port if it exits at start-up
    (another process may take the port between choosing and binding it)."""
    for _ in range(attempts):
        port = free_port()
        service = _spawn(name, command(port), port, sdir)
        try:
            state = _wait_ready(service)
        except PlatformError:
            _stop(service)
            raise
        if state == "ready":
            return service
    tail = Path(service.log).read_text(errors="replace")[-1500:]
    raise PlatformError(f"the {name} emulator exited at start-up {attempts} times; its log:\n"
                        f"{tail}")


def registry_config(storage: Path, port: int) -> str:
    """docker-registry's config: filesystem storage, 127.0.0.1 only, deletes allowed."""
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )


def up(base: Path | None = None, *, with_catalog: bool = True) -> dict[str, Service]:
    """Start the emulators unless they already run; returns the services."""
    current = read_state(base)
    if healthy(current):
        return current
    if current:
        down(base)
    sdir = paths.emulators(base)
    sdir.mkdir(parents=True, exist_ok=True)
    registry_bin = ensure_registry_binary()
    storage = sdir / "registry-data"
    storage.mkdir(exist_ok=True)

    def registry(port: int) -> list[str]:
        config = sdir / "registry-config.yml"
        config.write_text(registry_config(storage, port))
        return [registry_bin, "serve", str(config)]

    commands: dict[str, Callable[[int], list[str]]] = {
        "moto": lambda port: [sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                              "-p", str(port)],
        "registry": registry,
    }
    if with_catalog and importlib.util.find_spec(CATALOG_MODULE) is not None:
        # Started after moto (dict order), so it can read model packages from it.
        commands["catalog"] = lambda port: [sys.executable, "-m", CATALOG_MODULE,
                                            "--host", "127.0.0.1", "--port", str(port),
                                            "--sagemaker-endpoint", services["moto"].url]
    services: dict[str, Service] = {}
    try:
        for name, command in commands.items():
            services[name] = _start(name, command, sdir)
            _write_state(base, services)
    except BaseException:
        _stop_all(services.values())
        (sdir / "state.json").unlink(missing_ok=True)
        raise
    return services


def _stop(service: Service, grace: float = 5) -> None:
    if not pid_alive(service.pid) or not _ours(service):
        return
    os.kill(service.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and pid_alive(service.pid):
        # Reap it when it is our child, so it does not linger as a zombie.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(service.pid, os.WNOHANG)
        time.sleep(0.05)
    if pid_alive(service.pid):
        os.kill(service.pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(service.pid, os.WNOHANG)


def _stop_all(services: Any) -> None:
    for svc in services:
        _stop(svc)


def down(base: Path | None = None) -> list[str]:
    """Stop the recorded emulators, drop the registry storage; returns the names stopped."""
    services = read_state(base)
    _stop_all(services.values())
    sdir = paths.emulators(base)
    (sdir / "state.json").unlink(missing_ok=True)
    shutil.rmtree(sdir / "registry-data", ignore_errors=True)
    return sorted(services)


def environ(services: dict[str, Service], region: str = REGION) -> dict[str, str]:
    """The variables that point boto3 and ``smkit push`` at the emulators."""
    env = {
        "AWS_ENDPOINT_URL": services["moto"].url,
        "SMKIT_REGISTRY": f"127.0.0.1:{services['registry'].port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if "catalog" in services:
        env["AWS_ENDPOINT_URL_MARKETPLACE_CATALOG"] = services["catalog"].url
    return env


def env_lines(services: dict[str, Service]) -> str:
    """``export NAME=value`` lines for ``eval "$(smkit emulators env)"``."""
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in environ(services).items())
