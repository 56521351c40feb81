"""Run the app under gunicorn: the model is loaded in the master, before workers fork."""

from __future__ import annotations

import logging
import os
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger

from . import logs
from .settings import Settings, available_cpus

log = logging.getLogger("smkit.server")


class SmkitServer(BaseApplication):
    """gunicorn application serving one already-built WSGI app."""

    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        """Keep the app and gunicorn settings until gunicorn asks for them."""
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Apply ``options`` to gunicorn's config."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        """Return the WSGI app (built before fork, so workers share its memory)."""
        return self.application


class QuietAccessLogger(GunicornLogger):
    """gunicorn's logger without its access log: smkit writes one JSON line per request
    itself, and gunicorn would otherwise format its access atoms on every request."""

    @property
    def access_log_enabled(self) -> bool:
        """Never: see the class docstring."""
        return False

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Do nothing."""


#: The gunicorn worker this process runs as (set after fork), so a timed-out request can
#: answer before its worker retires.
CURRENT_WORKER: Any = None


def retire_worker() -> None:
    """Ask the current worker to exit after the response it is writing."""
    if CURRENT_WORKER is not None:
        CURRENT_WORKER.alive = False


def _post_fork(server: Any, worker: Any) -> None:
    global CURRENT_WORKER
    CURRENT_WORKER = worker
    # The master ran its smoke prediction with native thread pools capped at one thread
    # (OpenMP pools do not survive fork); each worker gets its share of the CPUs back.
    from threadpoolctl import threadpool_limits

    workers = max(1, int(server.cfg.workers))
    threadpool_limits(max(1, available_cpus() // workers))


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """gunicorn settings derived from the server settings."""
    options: dict[str, Any] = {
        "bind": [f"0.0.0.0:{settings.port}"],
        "workers": settings.workers,
        "worker_class": settings.worker_class,
        "threads": settings.threads,
        "timeout": settings.timeout,
        "graceful_timeout": settings.graceful_timeout,
        "keepalive": 5,
        "preload_app": True,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "logconfig_dict": logs.logging_config(settings.log_level),
        "logger_class": QuietAccessLogger,
        "proc_name": "smkit-serve",
        "control_socket_disable": True,
        "post_fork": _post_fork,
        "backlog": 2048,
    }
    if os.path.isdir("/dev/shm"):
        # Heartbeat files on tmpfs: works with a read-only root filesystem, and is faster.
        options["worker_tmp_dir"] = "/dev/shm"
    return options


def run(app: Any, settings: Settings) -> None:
    """Serve ``app`` until SIGTERM; gunicorn lets in-flight requests finish first."""
    SmkitServer(app, gunicorn_options(settings)).run()
