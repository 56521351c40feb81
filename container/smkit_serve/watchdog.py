"""Time limits: a request's (``Watchdog``) and what to say when a model never returns.

gunicorn's master aborts a sync worker whose request overruns ``SAGEMAKER_MODEL_SERVER_TIMEOUT``
(SIGABRT, then SIGKILL): when the model runs Python the abort raises ``SystemExit`` and the
request answers 504 on the way out (``app.Service.invocations``); when it is stuck in native
code, in a blocked thread pool say, the signal is never handled and the client would get a
closed connection. A gthread worker keeps its heartbeat while a request thread runs, so
nothing would stop it at all. So every request is watched: when its limit passes, this
answers 504 on the client's socket, closes it and retires the worker, which the master then
replaces. The late answer, if the model ever returns, goes nowhere. One thread per worker
process watches all its requests, so arming costs a lock and a dict entry, not a thread.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

#: The native thread pools a model's library may run predictions on, as named in messages.
THREAD_POOLS = "a native thread pool (OpenMP, OpenBLAS/MKL or TBB)"
#: The fix for a model whose thread pool hangs, as every message words it.
ONE_THREAD = "set the model's thread count to 1 (n_jobs=1) before joblib.dump"


def model_library(model: Any) -> str:
    """The top-level package of the estimator that predicts (a Pipeline's last step)."""
    while hasattr(model, "steps") and model.steps:
        model = model.steps[-1][1]
    module = type(model).__module__ if model is not None else ""
    return module.split(".")[0] or "unknown"


def request_timeout_message(model: Any, seconds: int) -> str:
    """The 504 body's error when a request overruns its limit: library and likely cause."""
    library = model_library(model)
    return (
        f"the {library} model did not answer within the {seconds} s limit "
        f"(SAGEMAKER_MODEL_SERVER_TIMEOUT): {THREAD_POOLS} in {library} may be blocked, or "
        "the request is too large; send fewer records per request or raise the limit, and "
        f"if a one-record request also times out, {ONE_THREAD}"
    )


def startup_timeout_message(model: Any, seconds: int) -> str:
    """Why the model is not ready when its one-row start-up prediction never returned."""
    library = model_library(model)
    return (
        f"the {library} model's start-up prediction did not return within {seconds} s "
        f"(SAGEMAKER_MODEL_SERVER_TIMEOUT): {THREAD_POOLS} in {library} is likely blocked; "
        f"{ONE_THREAD}, or raise the limit if one row really takes this long"
    )


def describe_timeout_message(model: Any, seconds: float) -> str:
    """Why ``describe`` gave up: the model's prediction of the validation sample hung."""
    library = model_library(model)
    return (
        f"the {library} model did not predict the validation sample within {seconds:g} s "
        f"(SAGEMAKER_MODEL_SERVER_TIMEOUT): the model hangs in predict; {THREAD_POOLS} in "
        f"{library} may be blocked, or predict waits on something that never comes; "
        f"{ONE_THREAD}, or fix what it waits on"
    )


def load_timeout_message(model_file: str, seconds: float) -> str:
    """Why ``describe`` gave up: loading the model file never returned."""
    return (
        f"{model_file} did not load within {seconds:g} s (SageMaker's start-up limit): the "
        "model hangs while it is unpickled (a __setstate__, or an import in the model's own "
        "code, waiting on something that never comes)"
    )


class _Monitor:
    """One daemon thread per process that fires the watchdogs whose time has come."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[int, Watchdog] = {}
        self._pid = -1  # threads do not survive fork: a new process starts its own

    def arm(self, dog: Watchdog) -> None:
        """Watch ``dog`` until it is claimed or fired."""
        with self._cond:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._armed.clear()
                threading.Thread(target=self._run, name="smkit-watchdog", daemon=True).start()
            self._armed[id(dog)] = dog
            self._cond.notify()

    def disarm(self, dog: Watchdog) -> None:
        """Stop watching ``dog``."""
        with self._cond:
            self._armed.pop(id(dog), None)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._armed:
                    self._cond.wait()
                now = time.monotonic()
                due = [d for d in self._armed.values() if d.deadline <= now]
                for dog in due:
                    del self._armed[id(dog)]
                if not due:
                    self._cond.wait(min(d.deadline for d in self._armed.values()) - now)
            for dog in due:
                dog.fire()


_MONITOR = _Monitor()


class Watchdog:
    """One request's time limit; whoever claims it first (answer or timeout) wins."""

    def __init__(self, sock: Any, seconds: float, message: str,
                 on_timeout: Callable[[], None]) -> None:
        """Arm the limit for ``sock`` (the client's socket, from ``gunicorn.socket``)."""
        self.sock = sock
        self.message = message
        self.on_timeout = on_timeout
        self.deadline = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._claimed = False
        #: True once the time limit passed first and the 504 went out on the socket.
        self.fired = False
        _MONITOR.arm(self)

    def claim(self) -> bool:
        """True for the first caller only: the request thread claims before it answers."""
        with self._lock:
            if self._claimed:
                return False
            self._claimed = True
        _MONITOR.disarm(self)
        return True

    def fire(self) -> None:
        """The limit passed: answer 504 on the socket unless the request answered first."""
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
