"""The documents' reminder, run by each instance every ``reminder_interval_seconds``: a
week before a family's request is due (or at once, for a request made later than that),
the case's therapists are reminded, once per therapist and request, ever: the claim
(app/notifications' ``reminders_sent``) commits with the notice, so a second instance or
this one after a restart finds it and sends nothing. (The family's notice when the
statement arrives goes with the share itself: app/documents/service.py.)"""

from __future__ import annotations

import logging
from datetime import timedelta

from app.cases.service import CaseService
from app.core import events as ev
from app.core.time import Clock, local_date
from app.documents import store
from app.documents.access import THERAPISTS, audience
from app.notifications.service import Notifications
from app.storage.engine import Database

log = logging.getLogger("kaari.documents")

#: therapists are reminded this many days before a request's ``neededBy``
DUE_DAYS = 7


class DocumentReminders:
    def __init__(
        self, db: Database, cases: CaseService, notifications: Notifications, clock: Clock
    ) -> None:
        self.db = db
        self.cases = cases
        self.notifications = notifications
        self.clock = clock

    async def run_once(self) -> int:
        """Queue the reminders due now; how many (request, therapist) pairs were new."""
        now = self.clock()
        made = 0
        async with self.db.transaction() as conn:
            due = await store.requests_due(conn, local_date(now) + timedelta(days=DUE_DAYS))
            for row in due:
                therapists = await audience(self.cases, conn, row.case_id, THERAPISTS)
                fresh = [
                    u
                    for u in therapists
                    if await self.notifications.claim_once(
                        conn, ev.DOCUMENT_REQUEST_DUE, row.id, u, now
                    )
                ]
                if fresh:
                    await self.notifications.record(
                        conn,
                        ev.DomainEvent(
                            kind=ev.DOCUMENT_REQUEST_DUE,
                            ids={"caseId": row.case_id, "requestId": row.id, "kind": row.kind},
                            recipients=fresh,
                            case_id=row.case_id,
                        ),
                    )
                    made += len(fresh)
        if made:
            self.notifications.wake()
            log.info("document reminders queued", extra={"count": made})
        return made
