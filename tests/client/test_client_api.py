"""The reference client's HTTP plumbing (client/api.py) against a raw server on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from client.api import Api

OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n[]"


@pytest.fixture
def closing_server() -> Iterator[tuple[str, list[str]]]:
    """Answers the first request of each connection and closes it at the next one without
    an answer, as a server's keep-alive timeout does to an idle pooled connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[str] = []

    def serve(conn: socket.socket) -> None:
        with conn:
            for answered in (True, False):
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                seen.append(data.split(b" ", 1)[0].decode())
                if answered:
                    conn.sendall(OK)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    listener.close()


def test_a_get_on_a_connection_the_server_closed_is_sent_again(
    closing_server: tuple[str, list[str]],
) -> None:
    url, seen = closing_server
    api = Api(url, token="t", timeout=5)
    try:
        assert api.get("/me/push-subscriptions") == []
        assert api.get("/me/push-subscriptions") == []  # the pooled connection was closed
        assert seen == ["GET", "GET", "GET"]
    finally:
        api.close()


def test_a_post_is_not_sent_twice(closing_server: tuple[str, list[str]]) -> None:
    url, seen = closing_server
    api = Api(url, token="t", timeout=5)
    try:
        assert api.get("/x") == []
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            api.post("/appointments", {"a": 1})
        assert seen == ["GET", "POST"]
    finally:
        api.close()
