"""Shared test helpers: services on this machine, and HTTP shortcuts for the API."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

import pytest

IN_CI = os.environ.get("CI") == "true"
POSTGRES_URL = os.environ.get(
    "KAARI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("KAARI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "correct horse battery staple"


def worker_name() -> str:
    """This pytest-xdist worker's name (``gw0``, ``gw1``…), ``main`` without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def worker_index() -> int:
    name = worker_name()
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else 0


def service_missing(name: str, reason: str) -> None:
    """Skip on a developer's machine; fail under CI=true, where every service must run."""
    message = f"{name} not reachable ({reason})"
    if IN_CI:
        pytest.fail(f"{message}: CI=true requires it", pytrace=False)
    pytest.skip(message)


def reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 0), 1):
            return True
    except OSError:
        return False


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@dataclass
class Session:
    token: str
    device_id: UUID
    user_id: UUID
    email: str | None

    @property
    def headers(self) -> dict[str, str]:
        return auth(self.token)


def session_from(body: dict[str, Any], email: str | None = None) -> Session:
    return Session(
        token=body["token"],
        device_id=UUID(body["deviceId"]),
        user_id=UUID(body["user"]["id"]),
        email=email,
    )


def login(client: Any, email: str, password: str = PASSWORD, device: str = "test") -> Session:
    r = client.post(
        "/auth/login", json={"email": email, "password": password, "device": {"name": device}}
    )
    assert r.status_code == 200, r.text
    return session_from(r.json(), email)


def accept_invite(client: Any, code: str, email: str, name: str = "Test User") -> Session:
    r = client.post(
        "/invites/accept",
        json={
            "code": code,
            "email": email,
            "password": PASSWORD,
            "displayName": name,
            "device": {"name": "phone", "platform": "android"},
        },
    )
    assert r.status_code == 201, r.text
    return session_from(r.json(), email)


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def room_event(client: Any, session: Session, room: str, ciphertext: bytes = b"content") -> Any:
    """Send a Megolm-shaped event (the server never opens it) to a room as ``session``'s
    device, for the room's current device set; the response (the ``joined_members``
    answer for someone outside the room)."""
    path = f"/_matrix/client/v3/rooms/{room}/"
    r = client.get(path + "joined_members", headers=session.headers)
    if r.status_code != 200:
        return r
    content = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "session_id": "c2Vzc2lvbg",
        "sender_key": "k",
        "device_id": str(session.device_id),
    }
    return client.put(
        path + f"send/m.room.encrypted/{secrets.token_hex(8)}",
        json=content,
        params={"kaari_device_epoch": r.json()["kaari.device_epoch"]},
        headers=session.headers,
    )


@asynccontextmanager
async def services_at(settings: Any, clock: Callable[[], datetime]) -> AsyncIterator[Any]:
    """The app's services from its composition root, on ``clock``, without the HTTP app:
    to run one round of a background job at a chosen time."""
    from app.runtime import Runtime
    from app.services import build_services

    runtime = await Runtime.start(settings, clock)
    try:
        services = build_services(runtime)
        try:
            yield services
        finally:
            await services.signaling.close()
    finally:
        await runtime.close()
