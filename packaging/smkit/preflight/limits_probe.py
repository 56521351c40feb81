"""The load probe of ``smkit preflight``'s instance-type check: a program of its own.

``instance_limits.measure`` mounts this file into a container that shares only the server
container's network namespace and runs it there with the image's own ``python3``, so it uses
the standard library only (never smkit, which the image does not hold)::

    python3 limits_probe.py '{"port": 8080, "ctype": "text/csv", "timeout": 75,
                              "seconds": 4.0, "clients": 3}'  < payload

It sends one ``/invocations`` first, then keeps ``clients`` clients posting the payload for
``seconds`` while it times a TCP connect (accept) and a ``/ping`` every 0.1 s, and prints one
JSON object on stdout: ``{"inv": [[status, seconds, body head]], "ping": [[status, seconds]],
"accept": [seconds]}``, where a status is null when no answer came and an accept time is
null when the connection was refused or timed out.
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import time
from typing import Any, TypedDict

HOST = "127.0.0.1"
#: Seconds a connect or a /ping may take before the probe gives up on it.
CONNECT_TIMEOUT_S = 10
#: Bytes of an /invocations answer kept, enough for an error message.
BODY_HEAD = 300
#: Seconds between two connect + /ping samples, and before the first.
SAMPLE_EVERY_S = 0.1
WARM_UP_S = 0.2


class Figures(TypedDict):
    """What the probe prints: every /invocations, /ping and connect it timed."""

    inv: list[list[Any]]
    ping: list[list[Any]]
    accept: list[float | None]


def arguments(*, port: int, content_type: str, timeout: float, seconds: float,
              clients: int) -> str:
    """The probe's one command-line argument, as :func:`main` reads it."""
    return json.dumps({"port": port, "ctype": content_type, "timeout": timeout,
                       "seconds": seconds, "clients": clients})


def post(port: int, content_type: str, body: bytes, timeout: float) -> list[Any]:
    """One ``/invocations``: [status or None, seconds, the head of the answer or the error]."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    start = time.perf_counter()
    try:
        conn.request("POST", "/invocations", body, {"Content-Type": content_type})
        resp = conn.getresponse()
        data = resp.read()
        return [resp.status, time.perf_counter() - start,
                data[:BODY_HEAD].decode("utf-8", "replace")]
    except Exception as e:  # noqa: BLE001 - any failure is a figure to report, not a crash
        return [None, time.perf_counter() - start, repr(e)]
    finally:
        conn.close()


def ping(port: int) -> list[Any]:
    """One ``/ping``: [status or None, seconds]."""
    conn = http.client.HTTPConnection(HOST, port, timeout=CONNECT_TIMEOUT_S)
    start = time.perf_counter()
    try:
        conn.request("GET", "/ping")
        resp = conn.getresponse()
        resp.read()
        return [resp.status, time.perf_counter() - start]
    except Exception:  # noqa: BLE001 - no answer is what gets reported
        return [None, time.perf_counter() - start]
    finally:
        conn.close()


def accept(port: int) -> float | None:
    """Seconds a TCP connect takes to be accepted; None when it fails."""
    sock = socket.socket()
    sock.settimeout(CONNECT_TIMEOUT_S)
    start = time.perf_counter()
    try:
        sock.connect((HOST, port))
        return time.perf_counter() - start
    except OSError:
        return None
    finally:
        sock.close()


def probe(args: dict[str, Any], body: bytes) -> Figures:
    """Load the server as ``args`` (see :func:`arguments`) says and time it."""
    port, ctype, timeout = args["port"], args["ctype"], args["timeout"]
    out = Figures(inv=[post(port, ctype, body, timeout)], ping=[], accept=[])
    stop = time.monotonic() + args["seconds"]

    def client() -> None:
        while True:
            out["inv"].append(post(port, ctype, body, timeout))
            if time.monotonic() >= stop:
                return

    threads = [threading.Thread(target=client) for _ in range(args["clients"])]
    for thread in threads:
        thread.start()
    time.sleep(WARM_UP_S)
    while any(thread.is_alive() for thread in threads):
        out["accept"].append(accept(port))
        out["ping"].append(ping(port))
        time.sleep(SAMPLE_EVERY_S)
    return out


def main(argv: list[str] | None = None) -> int:
    """Read the arguments (one JSON object) and the payload (stdin); print the figures."""
    args = json.loads((sys.argv[1:] if argv is None else argv)[0])
    print(json.dumps(probe(args, sys.stdin.buffer.read())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
