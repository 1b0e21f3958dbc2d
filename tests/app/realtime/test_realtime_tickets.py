"""WebSocket tickets: authenticated, short-lived, single-use, refused for revoked devices."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from conftest import World
from litestar.testing import TestClient
from support import assert_problem
from ws_support import closed_with, receive, ticket

from app.config import Settings
from app.main import create_app
from app.storage.schema import ws_tickets


def test_a_ticket_needs_a_session(client: TestClient[Any]) -> None:
    assert_problem(client.post("/ws/ticket"), 401, "unauthenticated")
    r = client.post("/ws/ticket", headers={"authorization": "Bearer nope"})
    assert_problem(r, 401, "session_invalid")


def test_a_ticket_opens_one_socket_once(client: TestClient[Any], world: World) -> None:
    r = client.post("/ws/ticket", headers=world.guardian.headers)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"ticket", "expiresIn"}
    assert body["expiresIn"] == 30
    value = body["ticket"]
    with client.websocket_connect(f"/ws?ticket={value}") as ws:
        hello = receive(ws)
        assert hello["type"] == "hello"
        assert hello["deviceId"] == str(world.guardian.device_id)
        assert hello["heartbeatSeconds"] == 25
        assert hello["idleTimeoutSeconds"] == 60
    # replayed: refused with a close code and reason
    with client.websocket_connect(f"/ws?ticket={value}") as ws:
        assert closed_with(ws) == (4401, "ticket_invalid")


@pytest.mark.parametrize("query", ["", "?ticket=", "?ticket=not-a-ticket", "?ticket=" + "x" * 500])
def test_missing_or_unknown_tickets_are_refused(client: TestClient[Any], query: str) -> None:
    with client.websocket_connect("/ws" + query) as ws:
        assert closed_with(ws) == (4401, "ticket_invalid")


def test_an_expired_ticket_is_refused(settings: Settings, world: World) -> None:
    short = msgspec.structs.replace(settings, ws_ticket_ttl_seconds=1)
    with TestClient(create_app(short)) as client:
        value = ticket(client, world.guardian)
        time.sleep(1.2)
        with client.websocket_connect(f"/ws?ticket={value}") as ws:
            assert closed_with(ws) == (4401, "ticket_invalid")


def test_the_ticket_of_a_revoked_device_is_refused(client: TestClient[Any], world: World) -> None:
    value = ticket(client, world.guardian)
    r = client.delete(f"/devices/{world.guardian.device_id}", headers=world.guardian.headers)
    assert r.status_code == 204, r.text
    with client.websocket_connect(f"/ws?ticket={value}") as ws:
        assert closed_with(ws) == (4401, "ticket_invalid")


def test_the_ticket_is_stored_only_as_a_digest(client: TestClient[Any], world: World) -> None:
    value = ticket(client, world.guardian)
    runtime = client.app.state.runtime

    async def rows() -> list[Any]:
        async with runtime.db.read() as conn:
            return list(await conn.execute(sa.select(ws_tickets)))

    (row,) = client.blocking_portal.call(rows)
    assert row.ticket_hash == hashlib.sha256(value.encode()).digest()
    assert row.device_id == world.guardian.device_id
    assert row.user_id == world.guardian.user_id
    assert row.used_at is None
    assert value.encode() not in repr(tuple(row)).encode()
    with client.websocket_connect(f"/ws?ticket={value}") as ws:
        assert receive(ws)["type"] == "hello"
    (row,) = client.blocking_portal.call(rows)
    assert row.used_at is not None
