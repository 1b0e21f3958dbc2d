"""Helpers for the appointment tests: a settable clock, family-room events, shortcuts."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from conftest import World
from litestar.testing import TestClient
from support import Session, accept_invite, auth, room_event

from app.messaging.service import thread_id_of

HEL = ZoneInfo("Europe/Helsinki")
NIL = "00000000-0000-0000-0000-000000000000"
#: "now" in most tests: Thursday 1 October 2026, 09:00 in Helsinki
NOW = datetime(2026, 10, 1, 9, 0, tzinfo=HEL)
#: a Tuesday afternoon session a few days later
START = datetime(2026, 10, 6, 16, 0, tzinfo=HEL)


def set_now(client: TestClient[Any], when: datetime) -> None:
    """The time the service's rules see (app.state.clock, read by app/main.py's app clock)."""
    client.app.state.clock = lambda: when.astimezone(UTC)


def iso(when: datetime) -> str:
    return when.isoformat()


def family_room(case_id: UUID | str) -> str:
    """The case's family room (the ids are derived from the case)."""
    return f"!{thread_id_of(UUID(str(case_id)), 'family')}:localhost"


def family_event(
    client: TestClient[Any], session: Session, case_id: UUID | str, ciphertext: bytes = b"x"
) -> str:
    """An event of the case's family room sent by ``session``'s device (the server never
    opens it; for someone outside the room: an id of no event)."""
    r = room_event(client, session, family_room(case_id), ciphertext)
    if r.status_code != 200:
        return "$" + secrets.token_urlsafe(32)
    event_id: str = r.json()["event_id"]
    return event_id


def ref(
    client: TestClient[Any], session: Session, case_id: UUID | str, ciphertext: bytes = b"x"
) -> dict[str, str]:
    """``{caseId, eventId}`` of a new family-room event of ``session``'s device."""
    return {"caseId": str(case_id), "eventId": family_event(client, session, case_id, ciphertext)}


def body(case_ids: list[UUID | str], **extra: Any) -> dict[str, Any]:
    return {
        "caseIds": [str(c) for c in case_ids],
        "startsAt": iso(START),
        "placeKind": "home",
        **extra,
    }


def create(
    client: TestClient[Any], session: Session, case_ids: list[UUID | str], **extra: Any
) -> dict[str, Any]:
    r = client.post("/appointments", json=body(case_ids, **extra), headers=session.headers)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def one(client: TestClient[Any], world: World, **extra: Any) -> dict[str, Any]:
    """A single session of the world's case; its appointment."""
    created = create(client, world.therapist, [world.case_id], **extra)
    assert len(created["appointments"]) == 1
    result: dict[str, Any] = created["appointments"][0]
    return result


def get(client: TestClient[Any], session: Session, appointment_id: str) -> dict[str, Any]:
    r = client.get(f"/appointments/{appointment_id}", headers=session.headers)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def case_schedule(
    client: TestClient[Any], session: Session, case_id: UUID | str
) -> list[dict[str, Any]]:
    r = client.get(f"/cases/{case_id}/appointments", headers=session.headers)
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()
    return result


def new_case(client: TestClient[Any], therapist: Session, name: str = "Aino") -> UUID:
    r = client.post("/cases", json={"childDisplayName": name}, headers=therapist.headers)
    assert r.status_code == 201, r.text
    return UUID(r.json()["id"])


def new_therapist(client: TestClient[Any], world: World, email: str) -> Session:
    r = client.post("/org/invites", json={"role": "therapist"}, headers=world.admin.headers)
    assert r.status_code == 201, r.text
    return accept_invite(client, r.json()["code"], email, "Tuula")


def new_caregiver(
    client: TestClient[Any], world: World, scopes: list[str], email: str = "daycare@example.fi"
) -> Session:
    r = client.post(
        f"/cases/{world.case_id}/invites",
        json={"role": "caregiver", "scopes": scopes},
        headers=world.guardian.headers,
    )
    assert r.status_code == 201, r.text
    return accept_invite(client, r.json()["code"], email, "Päiväkoti")


def pair_child(client: TestClient[Any], world: World) -> Session:
    r = client.post(f"/cases/{world.case_id}/pairing-codes", headers=world.guardian.headers)
    assert r.status_code == 201, r.text
    r = client.post("/auth/pair", json={"code": r.json()["code"], "device": {"name": "tablet"}})
    assert r.status_code == 200, r.text
    data = r.json()
    return Session(data["token"], UUID(data["deviceId"]), UUID(data["user"]["id"]), None)


def cancel(client: TestClient[Any], session: Session, appointment_id: str, **extra: Any) -> Any:
    return client.post(
        f"/appointments/{appointment_id}/cancel",
        json={"reason": "illness", **extra},
        headers=session.headers,
    )


def period(
    client: TestClient[Any], world: World, payer: str = "kela", granted: int = 30, **extra: Any
) -> dict[str, Any]:
    r = client.post(
        f"/cases/{world.case_id}/periods",
        json={
            "payer": payer,
            "startsOn": "2026-08-01",
            "endsOn": "2027-07-31",
            "sessionsGranted": granted,
            **extra,
        },
        headers=world.therapist.headers,
    )
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def shift(when: datetime, **delta: float) -> datetime:
    return when + timedelta(**delta)


__all__ = ["auth"]


# sockets (as tests/app/realtime does it; that helper module is not on this directory's path)


def connect(client: TestClient[Any], session: Session) -> Any:
    """An open /ws socket for the session's device, past its ``hello`` frame."""
    r = client.post("/ws/ticket", headers=session.headers)
    assert r.status_code == 200, r.text
    ws = client.websocket_connect(f"/ws?ticket={r.json()['ticket']}").__enter__()
    hello = ws.receive_json(timeout=5)
    assert hello["type"] == "hello", hello
    return ws


def next_event(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    """The next ``event`` frame (pings skipped), bounded in time."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no event in time"
        frame: dict[str, Any] = ws.receive_json(timeout=left)
        if frame["type"] == "event":
            return frame


def no_event(ws: Any, wait: float = 0.3) -> None:
    """Nothing but pings arrives for ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = ws.receive_json(timeout=left)
        except Exception:
            return
        assert frame["type"] == "ping", frame


def close(ws: Any) -> None:
    ws.__exit__(None, None, None)
