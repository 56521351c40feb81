"""Run the app under gunicorn: the model is loaded in the master, before workers fork."""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import select
import socket
import struct
import time
from typing import Any

from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger
from gunicorn.workers import sync as sync_worker_module
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

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


#: The variables that size the native thread pools (OpenBLAS, OpenMP, MKL) a library
#: starts with when it is loaded.
POOL_SIZE_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: Their values before cap_native_pools (None: unset), for the workers' environment.
_SELLERS_POOL_SIZES: dict[str, str | None] = {}


def cap_native_pools() -> None:
    """Make every native library the master loads size its thread pools at one thread.

    Call before numpy is imported. No pool may run in the master: a thread pool does not
    survive fork, OpenBLAS starts its threads when it is loaded, and an OpenMP library
    loaded while the model is unpickled (after threadpoolctl looked) reads OMP_NUM_THREADS
    then; LightGBM parses a model's trees on its OpenMP pool. This holds even when the
    seller set the variables: their values come back in the workers (_post_fork).
    """
    for name in POOL_SIZE_VARIABLES:
        _SELLERS_POOL_SIZES.setdefault(name, os.environ.get(name))
        os.environ[name] = "1"


def _post_fork(server: Any, worker: Any) -> None:
    global CURRENT_WORKER
    CURRENT_WORKER = worker
    # The master ran no prediction and loaded native libraries with pools of one thread
    # (cap_native_pools); each worker gets its share of the CPUs back, in the libraries
    # loaded already and, through the environment (or the seller's own setting), in those
    # it loads later and in its child processes.
    from threadpoolctl import threadpool_limits

    workers = max(1, int(server.cfg.workers))
    share = max(1, available_cpus() // workers)
    for name, value in _SELLERS_POOL_SIZES.items():
        os.environ[name] = str(share) if value is None else value
    threadpool_limits(share)


# ----------------------------------------------------------------------------- shutdown
#
# On SIGTERM gunicorn's master closes its copy of the listening socket and signals the
# workers, but the socket stays open (and listening) while any worker holds it. gunicorn's
# workers stop accepting at once, so connections the kernel had already accepted into the
# listen backlog were reset when the last worker exited. The workers below first stop the
# socket admitting new connections, then accept and answer everything queued until the
# queue is empty (or the grace is nearly over), as TorchServe and KServe finish queued
# requests before stopping.

#: SO_ATTACH_FILTER from <asm-generic/socket.h> (Python's socket module lacks it).
_SO_ATTACH_FILTER = 26
#: Classic BPF program of one instruction, BPF_RET|BPF_K with k=0: drop every packet.
_DROP_ALL = struct.pack("HBBI", 0x06, 0, 0, 0)


def stop_admitting(listener: socket.socket) -> bool:
    """Make a listening TCP socket admit no (or hardly any) new connection, keeping the
    connections already in its accept queue. Returns True when admission is fully closed.

    A socket filter that drops every packet stops SYNs and handshake-completing ACKs at the
    listener, so nothing new joins the queue; queued connections are sockets of their own,
    created without the filter, and keep receiving their requests. Some kernels require
    CAP_NET_ADMIN for the filter (Docker does not grant it); then the backlog is cut to 0,
    so new SYNs are dropped while any connection still waits, and the drain may also answer
    one that slips in when the queue is momentarily empty.
    """
    program = ctypes.create_string_buffer(_DROP_ALL, len(_DROP_ALL))
    fprog = struct.pack("HP", 1, ctypes.addressof(program))  # struct sock_fprog
    try:
        listener.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
        return True
    except OSError:
        listener.listen(0)
        return False


class _Draining:
    """Worker behaviour on SIGTERM: stop admitting, then answer the listen backlog."""

    #: Monotonic time after which no queued connection is taken any more; None until SIGTERM.
    drain_until: float | None = None
    cfg: Any
    sockets: list[Any]
    log: Any

    def handle_exit(self, sig: int, frame: Any) -> None:
        """SIGTERM: stop admitting (see stop_admitting), then stop as gunicorn does."""
        if self.drain_until is None:
            # gunicorn's master SIGKILLs the workers graceful_timeout after SIGTERM; stop
            # taking new work a second before that.
            self.drain_until = time.monotonic() + max(0.0, self.cfg.graceful_timeout - 1.0)
            for listener in self.sockets:
                closed = stop_admitting(listener)
                self.log.debug("SIGTERM: draining %s (admission %s)", listener,
                               "closed" if closed else "backlog 0")
        super().handle_exit(sig, frame)  # type: ignore[misc]

    def backlog_waiting(self, listener: Any) -> bool:
        """True while the drain time lasts and a connection waits in ``listener``'s queue."""
        if self.drain_until is None or time.monotonic() >= self.drain_until:
            return False
        readable, _, _ = select.select([listener], [], [], 0)
        return bool(readable)


def close_unless_more_is_coming(sock: Any, timeout: float = 2.0,
                                max_drain: int = 65536) -> None:
    """Close a connection whose response is sent, without waiting for the client.

    gunicorn's ``close_graceful`` half-closes and then waits, up to 2 s, for the client to
    close its side, so that request bytes still unread cannot make the kernel answer with a
    reset that truncates the response. A sync worker serves nobody while it waits: about
    a tenth of iris' one-row throughput went there (bench/README.md). Every body here is
    read to its end before the answer, so the socket is closed at once when nothing more
    has arrived; when something has (a pipelined request, the rest of a body too large to
    drain), gunicorn's lingering close runs as before.
    """
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.setblocking(False)  # a socket with a timeout would wait for data to peek at
        more = sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        more = b""  # nothing unread: a close sends a plain FIN
    except OSError:
        more = b""  # the client is gone already
    if more:
        gunicorn_util.close_graceful(sock, timeout, max_drain)
        return
    sock.close()


class _SyncUtil:
    """``gunicorn.util`` as the sync worker module sees it, with the close above."""

    close_graceful = staticmethod(close_unless_more_is_coming)

    def __getattr__(self, name: str) -> Any:
        return getattr(gunicorn_util, name)


class DrainingSyncWorker(_Draining, SyncWorker):
    """gunicorn's sync worker that answers the listen backlog after SIGTERM and closes each
    connection as soon as its response is sent (``close_unless_more_is_coming``)."""

    def init_process(self) -> None:
        """Close connections without lingering in this worker process, then serve."""
        # gunicorn's sync worker calls util.close_graceful after every response; this is the
        # worker's own process, and only the sync worker's module sees the replacement.
        sync_worker_module.util = _SyncUtil()
        super().init_process()

    def run(self) -> None:
        """Serve until stopped; after SIGTERM answer every connection still queued."""
        super().run()
        for listener in self.sockets:
            while self.backlog_waiting(listener):
                self.notify()
                try:
                    self.accept(listener)  # answers it, like the serving loop
                except OSError as e:
                    # Another worker took it first (EAGAIN), or the client gave up.
                    if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED):
                        raise


#: A request running longer than this opens the worker's side door for /ping.
SIDE_DOOR_AFTER_S = 0.25
#: A connection left waiting this long is one no idle worker took: all are busy.
SIDE_DOOR_PATIENCE_S = 0.02
_PING_HEAD = b"GET /ping "


class SideDoorSyncWorker(DrainingSyncWorker):
    """A sync worker that still answers /ping while it runs a long request.

    SageMaker wants each /ping within 2 s, also while every worker predicts a large
    request; a plain sync worker answers nothing until its request is done. While the main
    thread has been busy for SIDE_DOOR_AFTER_S, a helper thread takes connections that no
    idle worker took within SIDE_DOOR_PATIENCE_S, peeks at them without reading
    (MSG_PEEK), answers a /ping at once and queues anything else for the main thread, which
    takes the queue before the listener. Short requests never open the door, so the sync
    worker's per-request cost is unchanged.
    """

    busy_since: float | None = None

    def init_process(self) -> None:
        """Start the side door, then gunicorn's worker loop (which never returns)."""
        import threading

        self.waiting: list[tuple[Any, Any]] = []
        self.waiting_lock = threading.Lock()
        threading.Thread(target=self._side_door, name="smkit-side-door", daemon=True).start()
        super().init_process()

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        """Serve one connection, marking the main thread busy meanwhile."""
        self.busy_since = time.monotonic()
        try:
            super().handle(listener, client, addr)
        finally:
            self.busy_since = None

    def accept(self, listener: Any) -> None:
        """Serve what the side door queued first, then the listener as gunicorn does."""
        while True:
            with self.waiting_lock:
                if not self.waiting:
                    break
                client, addr = self.waiting.pop(0)
            self.handle(listener, client, addr)
        super().accept(listener)

    def run(self) -> None:
        """Serve; on the way out also answer what the side door queued."""
        super().run()
        with self.waiting_lock:
            left, self.waiting = self.waiting, []
        for client, addr in left:
            self.handle(self.sockets[0], client, addr)

    def _side_door(self) -> None:
        listener = self.sockets[0]
        while self.alive:
            busy = self.busy_since
            if busy is None or time.monotonic() - busy < SIDE_DOOR_AFTER_S:
                time.sleep(0.05)
                continue
            readable, _, _ = select.select([listener], [], [], 0.05)
            if not readable:
                continue
            time.sleep(SIDE_DOOR_PATIENCE_S)  # an idle worker takes it first, if any
            try:
                client, addr = listener.accept()
            except OSError:
                continue  # taken meanwhile (EAGAIN), or the client gave up
            try:
                self._serve_or_queue(client, addr)
            except OSError:
                client.close()

    def _serve_or_queue(self, client: Any, addr: Any) -> None:
        client.settimeout(1.0)
        try:
            head = client.recv(len(_PING_HEAD), socket.MSG_PEEK)
        except TimeoutError:
            head = b""  # a slow client: the main thread reads it as usual
        client.settimeout(None)
        if head != _PING_HEAD:
            with self.waiting_lock:
                self.waiting.append((client, addr))
            os.write(self.PIPE[1], b".")  # wake the main loop's select for the queue
            return
        client.settimeout(1.0)
        request = b""
        while b"\r\n\r\n" not in request and len(request) < 8192:
            chunk = client.recv(4096)
            if not chunk:
                break
            request += chunk
        status_line: list[str] = []
        headers: list[tuple[str, str]] = []

        def start_response(status: str, response_headers: list[tuple[str, str]],
                           exc_info: Any = None) -> None:
            status_line.append(status)
            headers.extend(response_headers)

        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/ping", "SERVER_PROTOCOL": "HTTP/1.1"}
        body = b"".join(self.wsgi(environ, start_response))
        head = [f"HTTP/1.1 {status_line[0]}", *(f"{k}: {v}" for k, v in headers),
                "Connection: close"]
        client.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        client.close()


class DrainingThreadWorker(_Draining, ThreadWorker):
    """gunicorn's gthread worker that hands the listen backlog to its threads after SIGTERM."""

    def set_accept_enabled(self, enabled: bool) -> None:
        """Before accepting stops for good, queue every waiting connection for the threads
        (gunicorn then waits for them within graceful_timeout)."""
        if not enabled and not self.alive:
            for listener in self.sockets:
                while self.backlog_waiting(listener):
                    self.accept(listener)  # ignores EAGAIN when another worker took it
        super().set_accept_enabled(enabled)


def worker_class(settings: Settings) -> type:
    """The draining worker for the configured class (sync with threads is gthread, as in
    gunicorn)."""
    if settings.threaded:
        return DrainingThreadWorker
    return SideDoorSyncWorker


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """gunicorn settings derived from the server settings."""
    options: dict[str, Any] = {
        "bind": [f"0.0.0.0:{settings.port}"],
        "workers": settings.workers,
        "worker_class": worker_class(settings),
        "threads": settings.threads,
        # gthread accepts up to worker_connections at once and queues them for its threads:
        # a worker whose threads are all busy would still take a /ping and sit on it. Taking
        # no more connections than threads leaves it in the backlog for a worker with a free
        # thread, so /ping answers while predictions run.
        "worker_connections": settings.threads,
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
    """Serve ``app`` until SIGTERM; in-flight and queued requests are answered first."""
    SmkitServer(app, gunicorn_options(settings)).run()
