"""Reminders, each sent once per recipient, across restarts and instances.

Each instance runs ``loop`` every ``reminder_interval_seconds`` with the app's clock:

* the evening before a session: from 18:00 (Europe/Helsinki) on the day before, until
  midnight, to the family (guardians, the child, caregivers who see the schedule);
* when a therapy period has two sessions or fewer left (after at least one was used),
  to the guardians and therapists;
* 60 days before a period ends ("book the doctor's visit for the next period"), to the
  guardians and therapists; its ids carry ``requestKind: therapy_statement`` with the
  period's id, the one-step request for the statement (docs/documents.md).

A reminder is decided by inserting (kind, target id, recipient) into ``reminders_sent``
in the same transaction as its outbox rows: a second instance, or this one after a
restart, finds the key and sends nothing. Appointments and periods are read through
``ReminderFacts`` (app/appointments/reminder_facts.py), so this package never reads their tables.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.core import events as ev
from app.core.time import Clock, day_bounds, local_naive
from app.notifications import store
from app.notifications.service import Notifications
from app.storage.engine import Database

log = logging.getLogger("kaari.notifications")

EVENING_HOUR = 18
PERIOD_ENDING_DAYS = 60
SESSIONS_LOW = 2
FAMILY = ("guardian", "child", "caregiver")
PERIOD_AUDIENCE = ("guardian", "therapist")


@dataclass(frozen=True, slots=True)
class SessionFact:
    appointment_id: UUID
    case_id: UUID


@dataclass(frozen=True, slots=True)
class PeriodFact:
    period_id: UUID
    case_id: UUID
    ends_on: date
    granted: int
    used: int


class ReminderFacts(Protocol):
    async def sessions_starting(
        self, conn: AsyncConnection, start: datetime, end: datetime
    ) -> list[SessionFact]:
        """The scheduled (not cancelled) attendances of sessions starting in [start, end)."""
        ...

    async def open_periods(self, conn: AsyncConnection, day: date) -> list[PeriodFact]:
        """The therapy periods covering ``day``, with their sessions used."""
        ...

    async def audience(self, conn: AsyncConnection, case_id: UUID) -> dict[UUID, str]:
        """user id -> case role of those who see the case's schedule."""
        ...


class Reminders:
    def __init__(
        self, db: Database, facts: ReminderFacts, notifications: Notifications, clock: Clock
    ) -> None:
        self.db = db
        self.facts = facts
        self.notifications = notifications
        self.clock = clock

    async def _remind(
        self,
        conn: AsyncConnection,
        kind: str,
        target_id: UUID,
        case_id: UUID,
        users: Iterable[UUID],
        ids: dict[str, str | UUID],
        now: datetime,
    ) -> int:
        fresh = [
            u
            for u in dict.fromkeys(users)
            if await store.claim_reminder(conn, kind, target_id, u, now)
        ]
        if fresh:
            await self.notifications.record(
                conn, ev.DomainEvent(kind=kind, ids=ids, recipients=fresh, case_id=case_id)
            )
        return len(fresh)

    async def run_once(self) -> int:
        """Decide every reminder due now; how many (reminder, recipient) pairs were new."""
        now = self.clock()
        local = local_naive(now)
        today = local.date()
        made = 0
        async with self.db.transaction() as conn:
            if local.hour >= EVENING_HOUR:
                tomorrow = today + timedelta(days=1)
                start, end = day_bounds(tomorrow, tomorrow)
                for s in await self.facts.sessions_starting(conn, start, end):
                    audience = await self.facts.audience(conn, s.case_id)
                    users = [u for u, role in audience.items() if role in FAMILY]
                    made += await self._remind(
                        conn, ev.SESSION_REMINDER, s.appointment_id, s.case_id, users,
                        {"appointmentId": s.appointment_id, "caseId": s.case_id}, now,
                    )  # fmt: skip
            for p in await self.facts.open_periods(conn, today):
                audience = await self.facts.audience(conn, p.case_id)
                users = [u for u, role in audience.items() if role in PERIOD_AUDIENCE]
                ids: dict[str, str | UUID] = {"periodId": p.period_id, "caseId": p.case_id}
                if p.used > 0 and p.granted - p.used <= SESSIONS_LOW:
                    made += await self._remind(
                        conn, ev.PERIOD_SESSIONS_LOW, p.period_id, p.case_id, users, ids, now
                    )
                if today >= p.ends_on - timedelta(days=PERIOD_ENDING_DAYS):
                    # the notice offers the family to ask for the therapy statement in one
                    # step: POST /cases/{caseId}/document-requests {kind, periodId}
                    offer = {**ids, "requestKind": "therapy_statement"}
                    made += await self._remind(
                        conn, ev.PERIOD_ENDING, p.period_id, p.case_id, users, offer, now
                    )
        if made:
            self.notifications.wake()
            log.info("reminders queued", extra={"count": made})
        return made
