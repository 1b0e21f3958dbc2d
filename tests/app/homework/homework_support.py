"""Helpers for the homework tests: tasks and ticks over HTTP on a settable clock."""

from __future__ import annotations

import secrets
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from conftest import World
from litestar.testing import TestClient
from support import Session, room_event, run, services_at

from app.config import Settings
from app.messaging.service import thread_id_of

# the appointment and notification tests' helpers serve here too
sys.path.insert(0, str(Path(__file__).parent.parent / "appointments"))
sys.path.insert(0, str(Path(__file__).parent.parent / "notifications"))
from appointments_support import new_caregiver, pair_child, set_now
from notifications_support import settings  # a 50 ms sender; jobs wait an hour

HEL = ZoneInfo("Europe/Helsinki")
#: "now" in most tests: Wednesday 14 October 2026, 10:00 in Helsinki
NOW = datetime(2026, 10, 14, 10, 0, tzinfo=HEL)
TODAY = NOW.date()
MONDAY = date(2026, 10, 12)

__all__ = ["new_caregiver", "pair_child", "room_event", "set_now", "settings"]


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=HEL)


def schedule(kind: str = "daily", **extra: Any) -> dict[str, Any]:
    return {"kind": kind, **extra}


V3 = "/_matrix/client/v3"


def homework_room(case_id: UUID | str) -> str:
    """The case's homework room (the ids are derived from the case)."""
    return f"!{thread_id_of(UUID(str(case_id)), 'homework')}:localhost"


def content_event(
    client: TestClient[Any], session: Session, case_id: UUID | str, ciphertext: bytes = b"x"
) -> str:
    """An event of the case's homework room sent by ``session``'s device (for someone
    outside the room: an id of no event)."""
    r = room_event(client, session, homework_room(case_id), ciphertext)
    if r.status_code != 200:
        return "$" + secrets.token_urlsafe(32)
    event_id: str = r.json()["event_id"]
    return event_id


def task_body(
    client: TestClient[Any], case_id: UUID | str, session: Session, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "contentEventId": content_event(client, session, case_id, b"task content ciphertext"),
        "schedule": schedule(),
        "startsOn": MONDAY.isoformat(),
    }
    body.update(extra)
    return body


def assign(
    client: TestClient[Any], world: World, session: Session | None = None, **extra: Any
) -> dict[str, Any]:
    """A task of the world's case set by its therapist; the task."""
    who = session or world.therapist
    r = client.post(
        f"/cases/{world.case_id}/homework",
        json=task_body(client, world.case_id, who, **extra),
        headers=who.headers,
    )
    assert r.status_code == 201, r.text
    task: dict[str, Any] = r.json()
    return task


def tick(
    client: TestClient[Any],
    session: Session,
    task_id: str,
    day: date,
    client_time: datetime | None = None,
    **extra: Any,
) -> Any:
    when = client_time or at(day, 8)
    return client.put(
        f"/homework/{task_id}/ticks/{day.isoformat()}",
        json={"clientTime": when.isoformat(), **extra},
        headers=session.headers,
    )


def progress(
    client: TestClient[Any], session: Session, case_id: UUID | str, weeks: int = 4
) -> dict[str, Any]:
    r = client.get(f"/cases/{case_id}/homework/progress?weeks={weeks}", headers=session.headers)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def tasks_of(client: TestClient[Any], session: Session, case_id: UUID | str) -> list[Any]:
    r = client.get(f"/cases/{case_id}/homework", headers=session.headers)
    assert r.status_code == 200, r.text
    result: list[Any] = r.json()
    return result


def nudge(settings: Settings, when: datetime, digest_minutes: float = 60) -> int:
    """One round of homework's periodic job at ``when`` (what every instance runs)."""

    async def go() -> int:
        at = msgspec.structs.replace(settings, homework_digest_minutes=digest_minutes)
        async with services_at(at, lambda: when.astimezone(UTC)) as services:
            made: int = await services.nudges.run_once()
            return made

    made: int = run(go())
    return made


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)
