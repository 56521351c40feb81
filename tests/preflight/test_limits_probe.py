"""The load probe of preflight's instance-type check, run from its file as the container runs it
(``python3 limits_probe.py ARGS < payload``), against a real HTTP server on this machine."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any

from smkit.preflight import instance_limits, limits_probe


def make_handler(seen: list[tuple[str, int]], delay_s: float,
                 status: int) -> type[BaseHTTPRequestHandler]:
    """A stand-in server: /ping answers 200, /invocations echoes the body after ``delay_s``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/ping" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.headers["Content-Type"], len(body)))
            time.sleep(delay_s)
            answer = body if status == 200 else b"model failed: bad row 3"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def server(delay_s: float = 0.2, status: int = 200, threaded: bool = True
           ) -> Iterator[tuple[int, list[tuple[str, int]]]]:
    """Serve on a free port in a thread; yields the port and what /invocations received."""
    seen: list[tuple[str, int]] = []
    cls = ThreadingHTTPServer if threaded else HTTPServer
    httpd = cls(("127.0.0.1", 0), make_handler(seen, delay_s, status))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def run_probe(port: int, payload: bytes, seconds: float = 0.6, clients: int = 2
              ) -> limits_probe.Figures:
    """The probe as a program of its own, from its file, the way measure() starts it; with
    no site-packages (-I -S), as the image's python3 has no smkit: the standard library only."""
    args = limits_probe.arguments(port=port, content_type="text/csv", timeout=10,
                                  seconds=seconds, clients=clients)
    proc = subprocess.run([sys.executable, "-I", "-S", str(instance_limits.PROBE_FILE), args],
                          input=payload, capture_output=True, timeout=60, check=True)
    figures: limits_probe.Figures = json.loads(proc.stdout)
    return figures


def test_it_times_invocations_pings_and_connects_under_load() -> None:
    payload = b"5.1,3.5,1.4,0.2\n" * 100
    with server(delay_s=0.2) as (port, seen):
        figures = run_probe(port, payload, seconds=0.6, clients=2)
    # The first request, then each client posts until the load time is over.
    assert len(figures["inv"]) >= 1 + 2 * 2
    assert len(seen) == len(figures["inv"])
    assert set(seen) == {("text/csv", len(payload))}
    for status, seconds, head in figures["inv"]:
        assert status == 200
        assert seconds >= 0.2
        assert head == payload[:limits_probe.BODY_HEAD].decode()
    # Connects and pings are sampled while the clients run: several of each, all answered.
    assert len(figures["ping"]) == len(figures["accept"]) >= 3
    assert all(status == 200 for status, _ in figures["ping"])
    assert all(isinstance(a, float) and a < 1 for a in figures["accept"])


def test_a_ping_behind_a_busy_server_shows_the_wait() -> None:
    # One request at a time: a /ping waits for the invocation in front of it.
    with server(delay_s=0.5, threaded=False) as (port, _):
        figures = run_probe(port, b"1,2\n", seconds=1.0, clients=2)
    assert max(seconds for _, seconds in figures["ping"]) > 0.2


def test_a_failed_invocation_is_reported_with_its_status_and_message() -> None:
    with server(delay_s=0, status=500) as (port, _):
        figures = run_probe(port, b"1,2\n", seconds=0.3, clients=1)
    statuses = {status for status, _, _ in figures["inv"]}
    assert statuses == {500}
    assert figures["inv"][0][2] == "model failed: bad row 3"


def test_nothing_listening_gives_no_status_and_the_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # the port is free again: connects are refused
    assert limits_probe.accept(port) is None
    status, _ = limits_probe.ping(port)
    assert status is None
    status, _, error = limits_probe.post(port, "text/csv", b"1,2\n", timeout=5)
    assert status is None
    assert "ConnectionRefusedError" in error
