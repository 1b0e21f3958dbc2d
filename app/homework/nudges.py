"""Homework's periodic notices, run by each instance every ``reminder_interval_seconds``:

* the therapists' digest: the live ``homework_ticked`` event goes at once, but a push
  wakes a therapist at most once per case per ``homework_digest_minutes``. A case's
  un-notified ticks are claimed (``notified_at``) in the same transaction as the one
  notice, so two instances never both send it;
* the child's daily reminder, at the local time a guardian chose, only when something
  due today is still undone; once a day per child (the notifications' once-key), within
  two hours of the chosen time (a server that was down all evening does not remind at
  night), never inside the case's quiet hours and never on a sick day (nothing is due).
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.cases.service import CaseService
from app.core import events as ev
from app.core.time import Clock, local_naive
from app.homework import progress as prog
from app.homework import store
from app.homework.schedule import week_start
from app.homework.service import CHILDREN, THERAPISTS, tasks_with_sick_days
from app.notifications.service import Notifications
from app.storage.engine import Database

log = logging.getLogger("kaari.homework")

#: a daily reminder not sent within this long after its time is skipped for the day
REMINDER_WINDOW_MINUTES = 120
REMINDER_NAMESPACE = uuid.UUID("6f1c3f0e-3b5e-4f55-9d59-6b6172690007")


def reminder_key(case_id: UUID, day: date) -> UUID:
    """The once-key of a case's reminder on one day."""
    return uuid.uuid5(REMINDER_NAMESPACE, f"{case_id}:{day.isoformat()}")


class HomeworkNudges:
    def __init__(
        self,
        db: Database,
        cases: CaseService,
        notifications: Notifications,
        clock: Clock,
        digest_minutes: float,
    ) -> None:
        self.db = db
        self.cases = cases
        self.notifications = notifications
        self.clock = clock
        self.digest = timedelta(minutes=digest_minutes)

    async def run_once(self) -> int:
        """Queue the digests and reminders due now; how many notices were decided."""
        now = self.clock()
        async with self.db.transaction() as conn:
            made = await self._digests(conn, now) + await self._reminders(conn, now)
        if made:
            self.notifications.wake()
            log.info("homework notices queued", extra={"count": made})
        return made

    async def _digests(self, conn: AsyncConnection, now: datetime) -> int:
        made = 0
        for case_id in await store.unnotified_cases(conn, now - self.digest):
            count = await store.mark_notified(conn, case_id, now)
            if not count:
                continue
            therapists = list(await self.cases.active_members(conn, case_id, THERAPISTS))
            if therapists:
                await self.notifications.record(
                    conn,
                    ev.DomainEvent(
                        kind=ev.HOMEWORK_TICKED,
                        ids={"caseId": case_id, "count": str(count)},
                        recipients=therapists,
                        case_id=case_id,
                    ),
                )
                made += len(therapists)
        return made

    async def _reminders(self, conn: AsyncConnection, now: datetime) -> int:
        local = local_naive(now)
        minute = local.hour * 60 + local.minute
        today = local.date()
        made = 0
        for row in await store.reminders_due(conn, minute):
            if minute - row.minute > REMINDER_WINDOW_MINUTES:
                continue
            if await self.notifications.in_quiet_hours(conn, row.case_id, minute):
                continue
            if not await self._undone_today(conn, row.case_id, today):
                continue
            children = await self.cases.active_members(conn, row.case_id, CHILDREN)
            key = reminder_key(row.case_id, today)
            fresh = [
                u
                for u in children
                if await self.notifications.claim_once(conn, ev.HOMEWORK_REMINDER, key, u, now)
            ]
            if fresh:
                await self.notifications.record(
                    conn,
                    ev.DomainEvent(
                        kind=ev.HOMEWORK_REMINDER,
                        ids={"caseId": row.case_id},
                        recipients=fresh,
                        case_id=row.case_id,
                    ),
                )
                made += len(fresh)
        return made

    async def _undone_today(self, conn: AsyncConnection, case_id: UUID, today: date) -> bool:
        tasks = await tasks_with_sick_days(conn, [case_id], "active")
        days = await store.tick_days(conn, [t.id for t in tasks], week_start(today))
        for task in tasks:
            status = prog.today_status(task.plan, days[task.id], today)
            if status is not None and not status.done:
                return True
        return False
