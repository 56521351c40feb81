"""close_unless_more_is_coming: the sync worker's close after each response, on real sockets.

gunicorn's lingering close waits for the client to close; this one returns at once when the
client has sent nothing more, and lingers as gunicorn does when it has (so the response is
never cut short by a reset).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from smkit_serve.server import close_unless_more_is_coming

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


@contextmanager
def connected() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A (client, server) pair of TCP sockets on 127.0.0.1."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname(), timeout=10)
        server, _ = listener.accept()
        server.settimeout(10)
        try:
            yield client, server
        finally:
            client.close()
            server.close()


def read_to_eof(sock: socket.socket) -> bytes:
    got = b""
    while chunk := sock.recv(65536):
        got += chunk
    return got


def close_in_thread(sock: socket.socket) -> threading.Thread:
    thread = threading.Thread(target=close_unless_more_is_coming, args=(sock,),
                              kwargs={"timeout": 30.0}, daemon=True)
    thread.start()
    return thread


def test_with_nothing_more_sent_it_closes_without_waiting_for_the_client() -> None:
    with connected() as (client, server):
        client.sendall(b"GET /ping HTTP/1.1\r\n\r\n")
        assert server.recv(100) == b"GET /ping HTTP/1.1\r\n\r\n"
        server.sendall(RESPONSE)
        closing = close_in_thread(server)
        # The client has not closed; gunicorn's close would wait for it (up to its timeout).
        closing.join(10)
        assert not closing.is_alive()
        assert read_to_eof(client) == RESPONSE
        assert server.fileno() == -1  # closed, not just half-closed


def test_with_more_sent_it_lingers_and_the_response_arrives_whole() -> None:
    """A pipelined request the server never read: a plain close would reset the connection
    (and could cut the response short); the lingering close drains it instead."""
    with connected() as (client, server):
        client.sendall(b"POST /invocations HTTP/1.1\r\n\r\n" + b"unread pipelined bytes" * 100)
        server.recv(len(b"POST /invocations HTTP/1.1\r\n\r\n"))
        server.sendall(RESPONSE)
        closing = close_in_thread(server)
        assert read_to_eof(client) == RESPONSE  # no ConnectionResetError
        closing.join(1.0)
        assert closing.is_alive()  # still draining: it waits (here up to 30 s) for the client
        client.close()
        closing.join(10)
        assert not closing.is_alive()


def test_a_client_already_gone_is_no_error() -> None:
    with connected() as (client, server):
        client.close()
        close_unless_more_is_coming(server)
        assert server.fileno() == -1
