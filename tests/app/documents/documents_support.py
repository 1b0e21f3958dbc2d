"""Helpers for the documents tests: a document's file and event put in the case's
documents room, shares and requests over HTTP on a settable clock."""

from __future__ import annotations

import secrets
import sys
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from conftest import World
from litestar.testing import TestClient
from support import Session

from app.messaging.service import thread_id_of

# the homework, appointment and notification tests' helpers serve here too
for _helpers in ("homework", "appointments", "notifications"):
    sys.path.insert(0, str(Path(__file__).parent.parent / _helpers))
from appointments_support import close, connect, next_event, no_event  # noqa: E402
from homework_support import (  # noqa: E402
    new_caregiver,
    pair_child,
    room_event,
    set_now,
    settings,
)

HEL = ZoneInfo("Europe/Helsinki")
#: "now" in most tests: Wednesday 14 October 2026, 10:00 in Helsinki
NOW = datetime(2026, 10, 14, 10, 0, tzinfo=HEL)
TODAY = NOW.date()

__all__ = [
    "close", "connect", "new_caregiver", "next_event", "no_event", "pair_child", "room_event",
    "set_now", "settings",
]  # fmt: skip


def documents_thread(case_id: UUID | str) -> UUID:
    return thread_id_of(UUID(str(case_id)), "documents")


def documents_room(case_id: UUID | str) -> str:
    return f"!{documents_thread(case_id)}:localhost"


def documents_event(
    client: TestClient[Any], session: Session, case_id: UUID | str, body: bytes = b"doc"
) -> str:
    """An event of the case's documents room sent by ``session``'s device (for someone
    outside the room: an id of no event)."""
    r = room_event(client, session, documents_room(case_id), body)
    if r.status_code != 200:
        return "$" + secrets.token_urlsafe(32)
    event_id: str = r.json()["event_id"]
    return event_id


def upload(
    client: TestClient[Any], session: Session, case_id: UUID | str, data: bytes = b"x" * 100
) -> str:
    """An encrypted file's stand-in uploaded to the documents room; its blob id."""
    r = client.post(
        f"/threads/{documents_thread(case_id)}/attachments", content=data, headers=session.headers
    )
    if r.status_code != 201:
        return str(uuid.uuid4())
    blob: str = r.json()["id"]
    return blob


def share_body(
    client: TestClient[Any],
    session: Session,
    case_id: UUID | str,
    kind: str = "therapy_plan",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "kind": kind,
        "contentEventId": documents_event(client, session, case_id, b"title ciphertext"),
        "blobId": upload(client, session, case_id),
    }
    body.update(extra)
    return body


def share(
    client: TestClient[Any],
    world: World,
    session: Session | None = None,
    kind: str = "therapy_plan",
    **extra: Any,
) -> dict[str, Any]:
    """A document of the world's case shared by ``session`` (the therapist); the version."""
    who = session or world.therapist
    r = client.post(
        f"/cases/{world.case_id}/documents",
        json=share_body(client, who, world.case_id, kind, **extra),
        headers=who.headers,
    )
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def request(
    client: TestClient[Any],
    world: World,
    session: Session | None = None,
    kind: str = "therapy_statement",
    needed_by: date = date(2026, 11, 20),
    **extra: Any,
) -> Any:
    who = session or world.guardian
    return client.post(
        f"/cases/{world.case_id}/document-requests",
        json={"kind": kind, "neededBy": needed_by.isoformat(), **extra},
        headers=who.headers,
    )


def period(client: TestClient[Any], world: World, ends_on: str = "2026-12-01") -> str:
    """A Kela period of the world's case ending ``ends_on``; its id."""
    r = client.post(
        f"/cases/{world.case_id}/periods",
        json={"payer": "kela", "startsOn": "2026-01-01", "endsOn": ends_on,
              "sessionsGranted": 30},
        headers=world.therapist.headers,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    period_id: str = r.json()["id"]
    return period_id
