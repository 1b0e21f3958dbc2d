"""Deleting the homework of finished cases: the tasks, ticks and daily reminder time of a
case closed (``POST /org/cases/{id}/close``) longer ago than
``KAARI_HOMEWORK_RETENTION_DAYS``.

A case is finished when an admin has closed it; an open case keeps its homework however
old, since its therapy may go on in a new period. Every instance runs ``run_once`` every
``purge_interval_seconds``; the tasks are claimed in the deleting transaction, so
instances running at once delete each task once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.core.time import Clock
from app.homework import store
from app.observability import counters
from app.storage.engine import Database

log = logging.getLogger("kaari.homework")

BATCH = 200


@dataclass(frozen=True, slots=True)
class HomeworkPurged:
    tasks: int
    ticks: int


class HomeworkRetention:
    def __init__(self, db: Database, days: int, clock: Clock) -> None:
        self.db = db
        self.keep = timedelta(days=days)
        self.clock = clock

    async def run_once(self, now: datetime | None = None) -> HomeworkPurged:
        """Delete the homework of every case closed at or before ``now`` minus the
        retention."""
        closed_before = (now or self.clock()) - self.keep
        tasks = ticks = 0
        while True:
            async with self.db.transaction() as conn:
                batch, batch_ticks = await store.delete_of_closed_cases(conn, closed_before, BATCH)
            tasks += batch
            ticks += batch_ticks
            if batch < BATCH:
                break
        counters.retention_deleted("homework_tasks", tasks)
        counters.retention_deleted("homework_ticks", ticks)
        if tasks:
            log.info("homework of closed cases deleted", extra={"count": tasks + ticks})
        return HomeworkPurged(tasks, ticks)
