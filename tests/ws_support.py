"""Helpers for the realtime tests: tickets, sockets with bounded receives, short settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient
from litestar.testing.websocket_test_session import WebSocketTestSession
from support import Session

from app.config import Settings

TIMEOUT = 5.0


def fast(settings: Settings, **overrides: Any) -> Settings:
    """Short heartbeats so timing tests finish in a second or two."""
    values: dict[str, Any] = {"ws_heartbeat_seconds": 0.2, "ws_idle_timeout_seconds": 5.0}
    values.update(overrides)
    return msgspec.structs.replace(settings, **values)


def ticket(client: TestClient[Any], session: Session) -> str:
    r = client.post("/ws/ticket", headers=session.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["expiresIn"] == 30 or body["expiresIn"] > 0
    value: str = body["ticket"]
    return value


def connect(client: TestClient[Any], session: Session) -> WebSocketTestSession:
    """An open socket for the session's device, past its ``hello`` frame."""
    ws = client.websocket_connect(f"/ws?ticket={ticket(client, session)}").__enter__()
    hello = receive(ws)
    assert hello["type"] == "hello", hello
    assert hello["deviceId"] == str(session.device_id)
    return ws


def receive(ws: WebSocketTestSession, timeout: float = TIMEOUT) -> dict[str, Any]:
    frame: dict[str, Any] = ws.receive_json(timeout=timeout)
    return frame


def receive_until(
    ws: WebSocketTestSession, want: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT
) -> dict[str, Any]:
    """The first frame ``want`` accepts, skipping others (pings); bounded in time."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no matching frame in time"
        frame = receive(ws, left)
        if want(frame):
            return frame


def closed_with(ws: WebSocketTestSession, timeout: float = TIMEOUT) -> tuple[int, str]:
    """Read until the server closes; its (code, reason)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "the server did not close in time"
        try:
            ws.receive(timeout=left)
        except WebSocketDisconnect as exc:
            return exc.code, exc.detail


def close(ws: WebSocketTestSession) -> None:
    ws.__exit__(None, None, None)
