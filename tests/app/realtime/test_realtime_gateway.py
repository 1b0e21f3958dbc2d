"""The /ws gateway: heartbeats, bounds on what a device may send, and what it receives."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import msgspec
import pytest
from conftest import World, build_world
from litestar.testing import TestClient
from support import PASSWORD, Session, login, run
from ws_support import close, closed_with, connect, fast, receive, receive_until

from app.config import Settings
from app.core.errors import NotFound
from app.core.events import DEVICE_LIST_CHANGED
from app.core.time import utcnow
from app.main import create_app
from app.realtime import connection as connection_module
from app.realtime.connection import Connection
from app.realtime.schemas import EventOut, InFrame
from app.storage.engine import Database
from app.storage.schema import devices


def not_ping(frame: dict[str, Any]) -> bool:
    return frame["type"] != "ping"


def notify(client: TestClient[Any], method: str, *args: Any) -> None:
    """Call the server-side Notifier (what other domains use) on the app's loop."""
    notifier = client.app.state.runtime.notifier
    client.blocking_portal.call(getattr(notifier, method), *args)


@pytest.fixture
def quick(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(fast(settings))) as c:
        yield c


def test_ping_gets_pong(client: TestClient[Any], world: World) -> None:
    ws = connect(client, world.guardian)
    for _ in range(3):
        ws.send_json({"type": "ping"})
        assert receive_until(ws, not_ping) == {"type": "pong"}
    close(ws)


def test_the_server_pings_and_closes_a_silent_socket(settings: Settings, world: World) -> None:
    short = fast(settings, ws_idle_timeout_seconds=0.8)
    with TestClient(create_app(short)) as client:
        # a device that answers pings stays connected past the idle timeout
        lively = connect(client, world.guardian)
        deadline = time.monotonic() + 1.6
        pings = 0
        while time.monotonic() < deadline:
            frame = receive(lively, 2)
            assert frame == {"type": "ping"}
            pings += 1
            lively.send_json({"type": "pong"})
        assert pings >= 4
        lively.send_json({"type": "ping"})
        assert receive_until(lively, not_ping) == {"type": "pong"}
        # one that sends nothing is closed within the timeout plus a sweep
        silent = connect(client, world.therapist)
        started = time.monotonic()
        assert closed_with(silent, 3) == (4408, "idle_timeout")
        assert time.monotonic() - started < 2.0
        close(silent)
        close(lively)


def test_a_full_queue_closes_with_resync(settings: Settings, world: World) -> None:
    with TestClient(create_app(msgspec.structs.replace(settings, ws_queue_frames=4))) as client:
        ws = connect(client, world.guardian)
        notifier = client.app.state.runtime.notifier

        async def burst() -> None:
            # one turn of the event loop: the socket cannot drain in between
            for n in range(10):
                await notifier.send_event([world.guardian.device_id], "test_event", {"n": str(n)})

        client.blocking_portal.call(burst)
        assert closed_with(ws) == (4008, "resync")
        close(ws)
        # the device reconnects and carries on
        again = connect(client, world.guardian)
        again.send_json({"type": "ping"})
        assert receive_until(again, not_ping) == {"type": "pong"}
        close(again)


def test_a_flood_is_refused_then_closed(settings: Settings, world: World) -> None:
    limits = msgspec.structs.replace(
        settings, ws_rate_per_second=1.0, ws_rate_burst=5, ws_rate_strikes=3
    )
    with TestClient(create_app(limits)) as client:
        ws = connect(client, world.guardian)
        for _ in range(20):
            ws.send_json({"type": "ping"})
        frames: list[dict[str, Any]] = []
        code = closed_with_frames(ws, frames)
        assert code == (4029, "rate_limited")
        kinds = [f["type"] for f in frames if f["type"] != "ping"]
        assert kinds[:5] == ["pong"] * 5
        assert kinds[5] == "error"
        assert frames[[f["type"] for f in frames].index("error")]["code"] == "rate_limited"
        close(ws)


def closed_with_frames(ws: Any, frames: list[dict[str, Any]]) -> tuple[int, str]:
    from litestar.exceptions import WebSocketDisconnect

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            frames.append(ws.receive_json(timeout=deadline - time.monotonic()))
        except WebSocketDisconnect as exc:
            return exc.code, exc.detail
    raise AssertionError("not closed in time")


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "malformed_frame"),
        ("[1, 2]", "malformed_frame"),
        ('{"no": "type"}', "malformed_frame"),
        ('{"type": 7}', "malformed_frame"),
        ('{"type": "launch_rockets"}', "unknown_type"),
        ('{"type": "ping", "extra": 1}', "invalid_frame"),
        (b'{"type": "ping"}', "malformed_frame"),
    ],
)
def test_bad_frames_get_an_error_and_change_nothing(
    client: TestClient[Any], world: World, frame: str | bytes, code: str
) -> None:
    ws = connect(client, world.guardian)
    if isinstance(frame, bytes):
        ws.send_bytes(frame)
    else:
        ws.send_text(frame)
    error = receive_until(ws, not_ping)
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["detail"]
    assert "x" * 100 not in error["detail"]
    ws.send_json({"type": "ping"})
    assert receive_until(ws, not_ping) == {"type": "pong"}
    close(ws)


def test_close_devices_closes_every_socket_of_those_devices(
    client: TestClient[Any], world: World
) -> None:
    first = connect(client, world.guardian)
    second = connect(client, world.guardian)
    other = connect(client, world.therapist)
    notify(client, "close_devices", [world.guardian.device_id])
    assert closed_with(first) == (4403, "revoked")
    assert closed_with(second) == (4403, "revoked")
    other.send_json({"type": "ping"})
    assert receive_until(other, not_ping) == {"type": "pong"}
    for ws in (first, second, other):
        close(ws)


def test_a_revoked_device_is_closed_by_the_heartbeat_check(
    quick: TestClient[Any], settings: Settings
) -> None:
    world = build_world(quick, settings)
    ws = connect(quick, world.guardian)
    other = connect(quick, world.guardian2)
    # revoked behind the app's back: no bus message at all (as if it were lost)
    revoke_in_database(settings, world.guardian.device_id)
    assert closed_with(ws, 3) == (4403, "revoked")
    other.send_json({"type": "ping"})
    assert receive_until(other, not_ping) == {"type": "pong"}
    close(ws)
    close(other)


def test_revoking_a_device_over_http_closes_its_socket_at_once(
    client: TestClient[Any], world: World
) -> None:
    # default settings: the heartbeat check runs every 25 s, so only the hook can be this fast
    phone = login(client, "guardian1@example.fi", device="phone")
    ws = connect(client, phone)
    other = connect(client, world.guardian)
    r = client.delete(f"/devices/{phone.device_id}", headers=world.guardian.headers)
    assert r.status_code == 204
    assert closed_with(ws, 3) == (4403, "revoked")
    # a password change signs out (and disconnects) every other device too
    tablet = login(client, "guardian1@example.fi", device="tablet")
    ws2 = connect(client, tablet)
    r = client.post(
        "/me/password",
        json={"currentPassword": PASSWORD, "newPassword": "another long password"},
        headers=world.guardian.headers,
    )
    assert r.status_code == 200
    assert closed_with(ws2, 3) == (4403, "revoked")
    other.send_json({"type": "ping"})  # (after the device_list_changed events of both)
    assert receive_until(other, lambda f: f["type"] == "pong") == {"type": "pong"}
    for s in (ws, ws2, other):
        close(s)


def revoke_in_database(settings: Settings, device_id: UUID) -> None:
    async def go() -> None:
        db = Database(settings.effective_database_url)
        try:
            async with db.transaction() as conn:
                await conn.execute(
                    devices.update().where(devices.c.id == device_id).values(revoked_at=utcnow())
                )
        finally:
            await db.dispose()

    run(go())


def test_events_reach_only_the_devices_named(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    sockets: dict[str, Any] = {}
    people: dict[str, Session] = {
        "guardian": world.guardian,
        "guardian2": world.guardian2,
        "therapist": world.therapist,
        "foreign": other_world.guardian,
    }
    for name, session in people.items():
        sockets[name] = connect(client, session)
    notify(
        client,
        "send_event",
        [world.guardian.device_id, world.guardian2.device_id],
        DEVICE_LIST_CHANGED,
        {"userId": world.guardian.user_id},
    )
    for name in ("guardian", "guardian2"):
        assert receive_until(sockets[name], not_ping) == {
            "type": "event",
            "event": "device_list_changed",
            "ids": {"userId": str(world.guardian.user_id)},
        }
    notify(client, "wake", world.therapist.device_id, 42)
    assert receive_until(sockets["therapist"], not_ping) == {"type": "wake", "upToSeq": 42}
    # nothing else was queued for anyone: the next frame each gets is the pong
    for ws in sockets.values():
        ws.send_json({"type": "ping"})
        assert receive_until(ws, not_ping) == {"type": "pong"}
        close(ws)


def test_events_carry_names_and_ids_only(client: TestClient[Any], world: World) -> None:
    notifier = client.app.state.runtime.notifier
    for bad in ("Has Spaces", "", "x" * 65, "text:hello"):
        with pytest.raises(ValueError, match="event name"):
            client.blocking_portal.call(notifier.send_event, [world.guardian.device_id], bad)
    with pytest.raises(ValueError, match="ids"):
        client.blocking_portal.call(
            notifier.send_event, [world.guardian.device_id], "x", {"body": "y" * 100}
        )


class Shout(InFrame, tag="test_shout"):
    n: int


def test_other_domains_register_frame_types(client: TestClient[Any], world: World) -> None:
    gateway = client.app.state.runtime.gateway
    seen: list[tuple[Any, int]] = []

    async def on_shout(conn: Connection, frame: Shout) -> None:
        if frame.n < 0:
            raise NotFound("No such thing")
        seen.append((conn.principal.user_id, frame.n))
        conn.push(EventOut(event="shouted", ids={"n": str(frame.n)}))

    gateway.on(Shout, on_shout)
    with pytest.raises(ValueError, match="already registered"):
        gateway.on(Shout, on_shout)
    ws = connect(client, world.guardian)
    ws.send_json({"type": "test_shout", "n": 3})
    assert receive_until(ws, not_ping) == {"type": "event", "event": "shouted", "ids": {"n": "3"}}
    ws.send_json({"type": "test_shout", "n": -1})
    error = receive_until(ws, not_ping)
    assert (error["type"], error["code"]) == ("error", "not_found")
    ws.send_json({"type": "test_shout", "n": "three"})
    assert receive_until(ws, not_ping)["code"] == "invalid_frame"
    assert seen == [(world.guardian.user_id, 3)]
    close(ws)


def test_a_wake_handler_replaces_the_wake_frame(client: TestClient[Any], world: World) -> None:
    gateway = client.app.state.runtime.gateway

    async def push_rows(conn: Connection, up_to: int | None) -> None:
        conn.push(EventOut(event="rows_pushed", ids={"upTo": str(up_to)}))

    gateway.on_wake(push_rows)
    ws = connect(client, world.guardian)
    notify(client, "wake", world.guardian.device_id, 9)
    assert receive_until(ws, not_ping) == {
        "type": "event",
        "event": "rows_pushed",
        "ids": {"upTo": "9"},
    }
    close(ws)


def test_a_peer_that_never_answers_the_close_is_dropped(
    client: TestClient[Any], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server closed (a revoked device) and the peer never sends its close frame:
    the connection is let go after the close wait instead of being held for ever (it
    once held the app's shutdown, and a test run, until the 10-minute timeout)."""
    monkeypatch.setattr(connection_module, "PEER_CLOSE_WAIT_SECONDS", 0.3)
    gateway = client.app.state.runtime.gateway
    ws = connect(client, world.guardian)
    notify(client, "close_devices", [world.guardian.device_id])
    assert closed_with(ws) == (4403, "revoked")  # and no close frame goes back
    deadline = time.monotonic() + 10
    while gateway.connection_count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gateway.connection_count == 0
