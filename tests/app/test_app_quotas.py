"""Quotas and rate limits where there were none (issue 16): uploads, sends, ticks,
cases, invites, calendar links, appointments; sockets per device and user; oversized
frames. 429 ``rate_limited`` with Retry-After; shared across instances with Redis."""

from __future__ import annotations

import re
import secrets
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_HASHING, TEST_SECRET, World, build_world
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient
from support import REDIS_URL, Session, assert_problem, reachable, service_missing
from ws_support import close, closed_with, connect, receive_until, ticket

from app.config import Settings
from app.main import create_app
from app.quotas import EXEMPT, QUOTAS
from app.storage.blobs import BlobStore

LIMITS: dict[str, Any] = {
    "sends_per_device_per_minute": 3,
    "ticks_per_device_per_hour": 2,
    "cases_per_user_per_day": 2,  # the world's therapist opened one
    "invites_per_user_per_day": 3,  # the world's therapist made two case invites
    "calendar_tokens_per_user_per_day": 1,
    "appointment_creations_per_user_per_hour": 1,
    "case_records_per_user_per_hour": 2,
    "push_subscriptions_per_user_per_day": 1,
    "attachment_bytes_per_device_per_day": 1500,
    "ws_sockets_per_device": 2,
    "ws_sockets_per_user": 3,
    "ws_max_frame_bytes": 2000,
    "ws_oversize_strikes": 2,
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=str(tmp_path),
        secret_key=TEST_SECRET,
        **FAST_HASHING,
        **LIMITS,
    )


def limited(r: Any) -> None:
    problem = assert_problem(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) > 0
    assert problem["retryAfter"] == int(r.headers["retry-after"])


def test_ticks_and_undos_per_device(client: TestClient[Any], world: World) -> None:
    path = f"/homework/{uuid.uuid4()}/ticks/2025-01-01"
    h = world.guardian.headers
    assert client.put(path, json={}, headers=h).status_code < 429
    assert client.delete(path, headers=h).status_code < 429
    limited(client.put(path, json={}, headers=h))
    limited(client.delete(path, headers=h))


def test_case_invite_and_pairing_creation_per_user(client: TestClient[Any], world: World) -> None:
    h = world.therapist.headers
    assert client.post("/cases", json={"childDisplayName": "Aino"}, headers=h).status_code == 201
    limited(client.post("/cases", json={"childDisplayName": "Veeti"}, headers=h))
    r = client.post(f"/cases/{world.case_id}/invites", json={}, headers=h)
    assert r.status_code == 201
    limited(client.post(f"/cases/{world.case_id}/invites", json={}, headers=h))
    for _ in range(3):
        r = client.post(f"/cases/{world.case_id}/pairing-codes", headers=world.guardian.headers)
        assert r.status_code == 201
    limited(client.post(f"/cases/{world.case_id}/pairing-codes", headers=world.guardian.headers))


def test_calendar_links_and_appointments_per_user(client: TestClient[Any], world: World) -> None:
    h = world.therapist.headers
    assert client.post("/me/calendar-token", headers=h).status_code == 201
    limited(client.post("/me/calendar-token", headers=h))
    body = {
        "caseIds": [str(world.case_id)],
        "startsAt": "2030-01-07T09:00:00+02:00",
        "placeKind": "office",
        "weeklyOccurrences": 52,
    }
    assert client.post("/appointments", json=body, headers=h).status_code == 201
    limited(client.post("/appointments", json={**body, "weeklyOccurrences": 1}, headers=h))


def test_homework_tasks_and_periods_per_user(client: TestClient[Any], world: World) -> None:
    h = world.therapist.headers
    assert client.post(f"/cases/{world.case_id}/homework", json={}, headers=h).status_code == 422
    assert client.post(f"/cases/{world.case_id}/periods", json={}, headers=h).status_code == 422
    limited(client.post(f"/cases/{world.case_id}/homework", json={}, headers=h))
    limited(client.post(f"/cases/{world.case_id}/periods", json={}, headers=h))


def test_push_subscriptions_per_user(client: TestClient[Any], world: World) -> None:
    h = world.guardian.headers
    assert client.post("/me/push-subscriptions", json={}, headers=h).status_code == 422
    limited(client.post("/me/push-subscriptions", json={}, headers=h))
    assert (
        client.post("/me/push-subscriptions", json={}, headers=world.guardian2.headers).status_code
        == 422
    )


WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def served_writes(settings: Settings) -> dict[tuple[str, str], str | None]:
    """(method, path as the OpenAPI writes it) of every write route the app serves, and
    the quota it names."""
    found: dict[tuple[str, str], str | None] = {}
    for route in create_app(settings).routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for handler in getattr(route, "route_handlers", ()):
            for method in set(getattr(handler, "http_methods", ())) & WRITES:
                found[(method, path)] = handler.opt.get("quota")
    return found


def test_every_write_route_names_a_quota_or_why_it_needs_none(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path), secret_key=TEST_SECRET)
    writes = served_writes(settings)
    assert ("PUT", "/_matrix/client/v3/rooms/{room_id}/send/{event_type}/{txn_id}") in writes
    forgotten = sorted(k for k, name in writes.items() if name is None and k not in EXEMPT)
    assert forgotten == [], "name a quota (app/quotas.py) or add to EXEMPT with a reason"
    assert {name for name in writes.values() if name} <= set(QUOTAS)
    both = sorted(k for k in EXEMPT if writes.get(k) is not None)
    assert both == [], "a route with a quota is not exempt"
    stale = sorted(k for k in EXEMPT if k not in writes)
    assert stale == [], "no exemption for a route that is not served"
    assert all(len(reason) > 10 for reason in EXEMPT.values())
    # every quota is in use (a read may name one too: the export), and every limit is a setting
    named = {
        handler.opt.get("quota")
        for route in create_app(settings).routes
        for handler in getattr(route, "route_handlers", ())
    }
    assert set(QUOTAS) <= named
    for q in QUOTAS.values():
        assert isinstance(getattr(settings, q.setting), int)


def test_attachment_bytes_per_device_per_day(
    client: TestClient[Any], world: World, settings: Settings
) -> None:
    thread = client.get("/threads", headers=world.guardian.headers).json()[0]["id"]
    h = {**world.guardian.headers, "content-type": "application/octet-stream"}
    path = f"/threads/{thread}/attachments"
    assert client.post(path, content=b"x" * 1000, headers=h).status_code == 201
    limited(client.post(path, content=b"x" * 1000, headers=h))  # over what is left
    assert client.post(path, content=b"x" * 400, headers=h).status_code == 201
    limited(client.post(path, content=b"x" * 200, headers=h))
    assert client.post(path, content=b"x" * 100, headers=h).status_code == 201  # the rest
    limited(client.post(path, content=b"x", headers=h))
    assert len(BlobStore(settings.effective_blob_dir).files()) == 3  # nothing of the refused
    h2 = {**world.guardian2.headers, "content-type": "application/octet-stream"}
    assert client.post(path, content=b"x" * 1000, headers=h2).status_code == 201


def refused_socket(client: TestClient[Any], session: Session) -> tuple[int, str]:
    ws = client.websocket_connect(f"/ws?ticket={ticket(client, session)}").__enter__()
    try:
        frame = ws.receive_json(timeout=5)
    except WebSocketDisconnect as exc:
        return exc.code, exc.detail
    raise AssertionError(f"not refused: {frame}")


def test_sockets_per_device_and_per_user(client: TestClient[Any], world: World) -> None:
    first, second = connect(client, world.guardian), connect(client, world.guardian)
    try:
        assert refused_socket(client, world.guardian) == (4029, "too_many_sockets_per_device")
        # the same user's other devices: 3 sockets per user
        r = client.post(
            "/auth/login",
            json={
                "email": "guardian1@example.fi",
                "password": "correct horse battery staple",
                "device": {"name": "tablet"},
            },
        )
        body = r.json()
        tablet = Session(body["token"], uuid.UUID(body["deviceId"]), world.guardian.user_id, None)
        third = connect(client, tablet)
        assert refused_socket(client, tablet) == (4029, "too_many_sockets_per_user")
        close(third)
    finally:
        close(first)
        close(second)
    # closing gives the leases back
    again = connect(client, world.guardian)
    close(again)


def test_an_oversized_frame_closes_the_socket_and_counts_a_strike(
    client: TestClient[Any], world: World
) -> None:
    for _ in range(2):
        ws = connect(client, world.guardian)
        ws.send_text('{"type": "ping", "pad": "' + "x" * 3000 + '"}')
        error = receive_until(ws, lambda f: f["type"] != "ping")
        assert error["code"] == "frame_too_large"
        assert closed_with(ws) == (1009, "frame_too_large")
        close(ws)
    # two strikes: no ticket for this device for the rest of the hour
    limited(client.post("/ws/ticket", headers=world.guardian.headers))
    assert client.post("/ws/ticket", headers=world.guardian2.headers).status_code == 200


def test_uvicorn_refuses_frames_over_the_gateways_limit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uvicorn

    from app import cli

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    monkeypatch.setenv("KAARI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KAARI_WS_MAX_FRAME_BYTES", "12345")
    assert cli.main(["serve"]) == 0
    assert seen["ws_max_size"] == 12345


@pytest.fixture
def redis_settings(settings: Settings) -> Settings:
    if not reachable(REDIS_URL):
        service_missing("Redis", REDIS_URL)
    import msgspec

    return msgspec.structs.replace(
        settings, redis_url=REDIS_URL, redis_prefix=f"kaari-test-{secrets.token_hex(4)}:"
    )


def test_quotas_and_socket_leases_are_shared_through_redis(redis_settings: Settings) -> None:
    with TestClient(create_app(redis_settings)) as a, TestClient(create_app(redis_settings)) as b:
        world = build_world(a, redis_settings)
        h = world.therapist.headers
        assert b.post("/cases", json={"childDisplayName": "Aino"}, headers=h).status_code == 201
        limited(a.post("/cases", json={"childDisplayName": "Veeti"}, headers=h))
        first, second = connect(a, world.guardian), connect(a, world.guardian)
        try:
            assert refused_socket(b, world.guardian) == (4029, "too_many_sockets_per_device")
        finally:
            close(first)
            close(second)
