"""Deleting audit events past ``KAARI_AUDIT_RETENTION_DAYS`` (docs/data-protection.md says
why the default is 13 years).

The audit trail is the family's access log (the Client Data Act 703/2023) and the
organisation's security log; it holds ids, actions and times, never content. Every
instance runs ``run_once`` every ``purge_interval_seconds``; the events are claimed in the
deleting transaction, so instances running at once delete each event once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from app.audit import store
from app.core.time import Clock
from app.observability import counters
from app.storage.batches import delete_in_batches
from app.storage.engine import Database

log = logging.getLogger("kaari.audit")

BATCH = 1000


class AuditRetention:
    def __init__(self, db: Database, days: int, clock: Clock) -> None:
        self.db = db
        self.keep = timedelta(days=days)
        self.clock = clock

    async def run_once(self, now: datetime | None = None) -> int:
        """Delete every event at or before ``now`` minus the retention; the count."""
        before = (now or self.clock()) - self.keep
        total = await delete_in_batches(self.db, store.delete_older, before, BATCH)
        counters.retention_deleted("audit_events", total)
        if total:
            log.info("audit events past retention deleted", extra={"count": total})
        return total
