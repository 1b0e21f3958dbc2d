"""Helpers for the room tests: video appointments near "now", sockets, room frames."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from conftest import World
from litestar.testing import TestClient
from litestar.testing.websocket_test_session import WebSocketTestSession
from support import Session, accept_invite
from ws_support import connect, receive

TIMEOUT = 5.0


def video(
    client: TestClient[Any],
    therapist: Session,
    case_ids: list[UUID],
    *,
    starts_in: timedelta = timedelta(minutes=5),
    **extra: Any,
) -> str:
    """A video appointment of these cases starting ``starts_in`` from now; its id."""
    start = datetime.now(UTC) + starts_in
    body = {
        "caseIds": [str(c) for c in case_ids],
        "startsAt": start.isoformat(),
        "placeKind": "video",
        **extra,
    }
    r = client.post("/appointments", json=body, headers=therapist.headers)
    assert r.status_code == 201, r.text
    appointment_id: str = r.json()["appointments"][0]["id"]
    return appointment_id


def new_case(client: TestClient[Any], therapist: Session, name: str) -> UUID:
    r = client.post("/cases", json={"childDisplayName": name}, headers=therapist.headers)
    assert r.status_code == 201, r.text
    return UUID(r.json()["id"])


def guardian_of(client: TestClient[Any], therapist: Session, case_id: UUID, email: str) -> Session:
    r = client.post(f"/cases/{case_id}/invites", json={}, headers=therapist.headers)
    assert r.status_code == 201, r.text
    return accept_invite(client, r.json()["code"], email, "Huoltaja")


def pair_child(client: TestClient[Any], guardian: Session, case_id: UUID) -> Session:
    r = client.post(f"/cases/{case_id}/pairing-codes", headers=guardian.headers)
    assert r.status_code == 201, r.text
    r = client.post("/auth/pair", json={"code": r.json()["code"], "device": {"name": "tablet"}})
    assert r.status_code == 200, r.text
    data = r.json()
    return Session(data["token"], UUID(data["deviceId"]), UUID(data["user"]["id"]), None)


def socket(client: TestClient[Any], session: Session) -> WebSocketTestSession:
    return connect(client, session)


def next_of(ws: WebSocketTestSession, *types: str, timeout: float = TIMEOUT) -> dict[str, Any]:
    """The next frame of one of ``types`` (or an ``error``), skipping pings."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {types} frame in time"
        frame = receive(ws, left)
        if frame["type"] in types or frame["type"] == "error":
            return frame


def join(ws: WebSocketTestSession, room_id: str) -> dict[str, Any]:
    """Send ``room_join``; the answer (``room_state`` or ``error``)."""
    ws.send_json({"type": "room_join", "roomId": room_id})
    return next_of(ws, "room_state")


def refused(ws: WebSocketTestSession, frame: dict[str, Any]) -> str:
    ws.send_json(frame)
    answer = next_of(ws, "signal")  # room_state frames may be queued: skipped
    assert answer["type"] == "error", answer
    code: str = answer["code"]
    return code


def me(state: dict[str, Any], session: Session) -> dict[str, Any]:
    for p in state["participants"]:
        if p["deviceId"] == str(session.device_id):
            found: dict[str, Any] = p
            return found
    raise AssertionError(f"{session.device_id} not in {state}")


def statuses(state: dict[str, Any]) -> dict[str, str]:
    return {p["deviceId"]: p["status"] for p in state["participants"]}


__all__ = ["World"]


def state_until(ws: WebSocketTestSession, want: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
    """The first ``room_state`` that ``want`` accepts (earlier ones skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no matching room_state in time"
        frame = next_of(ws, "room_state", timeout=left)
        assert frame["type"] == "room_state", frame
        if want(frame):
            return frame
