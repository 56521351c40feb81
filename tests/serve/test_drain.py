"""stop_admitting, the first step of the SIGTERM drain, on real sockets of this machine.

The whole drain (real gunicorn, queued requests answered) is tested against the image in
tests/container/test_shutdown_drain.py.
"""

from __future__ import annotations

import socket
import time

from smkit_serve.server import stop_admitting


def test_a_queued_connection_survives_and_its_request_is_read_after_stop_admitting() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as queued:
            queued.sendall(b"first half ")
            time.sleep(0.1)
            full = stop_admitting(listener)
            queued.sendall(b"second half")  # data after the filter still reaches it
            time.sleep(0.1)
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(5)
                got = b""
                while len(got) < len(b"first half second half"):
                    got += conn.recv(100)
                assert got == b"first half second half"
                conn.sendall(b"answer")
                assert queued.recv(100) == b"answer"
            listener.setblocking(False)
            if full:
                # Admission closed: a new client's handshake never completes.
                with socket.socket() as late:
                    late.settimeout(1.5)
                    try:
                        late.connect(("127.0.0.1", port))
                        connected = True
                    except OSError:
                        connected = False
                    assert not connected
            try:
                listener.accept()
                accepted_more = True
            except BlockingIOError:
                accepted_more = False
            assert not accepted_more
