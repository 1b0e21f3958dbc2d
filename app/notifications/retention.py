"""Deleting settled notices: outbox rows delivered (or given up) longer ago than
``KAARI_OUTBOX_RETENTION_DAYS``.

A delivered row still says who was told what kind of thing about which appointment or
case, and when; it is kept only as long as someone may ask why a notice did (not) come.
Every instance runs ``run_once`` every ``purge_interval_seconds``; the rows are claimed in
the deleting transaction, so instances running at once delete each row once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from app.core.time import Clock
from app.notifications import store
from app.observability import counters
from app.storage.batches import delete_in_batches
from app.storage.engine import Database

log = logging.getLogger("kaari.notifications")

BATCH = 500


class OutboxRetention:
    def __init__(self, db: Database, days: int, clock: Clock) -> None:
        self.db = db
        self.keep = timedelta(days=days)
        self.clock = clock

    async def run_once(self, now: datetime | None = None) -> int:
        """Delete every row settled at or before ``now`` minus the retention; the count."""
        before = (now or self.clock()) - self.keep
        total = await delete_in_batches(self.db, store.delete_settled, before, BATCH)
        counters.retention_deleted("outbox_rows", total)
        if total:
            log.info("settled notices deleted", extra={"count": total})
        return total
