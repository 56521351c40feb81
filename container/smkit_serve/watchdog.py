"""The request time limit under threaded workers.

A sync worker that overruns ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` is aborted by gunicorn's
master and answers 504 on the way out (``app.Service.invocations``). A gthread worker keeps
its heartbeat while a request thread runs, so nothing would stop it: this watchdog answers
504 on the client's socket when the limit passes, closes it, and retires the worker, which
the master then replaces. The late answer, if the model ever returns, goes nowhere.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

import orjson


class Watchdog:
    """One request's time limit; whoever claims it first (answer or timeout) wins."""

    def __init__(self, sock: Any, seconds: float, message: str,
                 on_timeout: Callable[[], None]) -> None:
        """Arm the timer for ``sock`` (the client's socket, from ``gunicorn.socket``)."""
        self.sock = sock
        self.message = message
        self.on_timeout = on_timeout
        self._lock = threading.Lock()
        self._claimed = False
        #: True once the time limit passed first and the 504 went out on the socket.
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def claim(self) -> bool:
        """True for the first caller only: the request thread claims before it answers."""
        with self._lock:
            if self._claimed:
                return False
            self._claimed = True
        self._timer.cancel()
        return True

    def _fire(self) -> None:
        with self._lock:
            if self._claimed:
                return
            self._claimed = self.fired = True
        body = orjson.dumps({"error": self.message})
        head = (f"HTTP/1.1 504 Gateway Timeout\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        try:
            self.sock.sendall(head + body)
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the client went away: nobody is left to answer
        self.on_timeout()
