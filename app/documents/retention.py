"""Deleting documents whose content has expired: a version shared longer ago than
``KAARI_ROOM_EVENT_RETENTION_DAYS`` has lost its event (the title and key) and its file
(kept exactly as long, app/messaging/rooms.py ``keep_file``), so its row, its
receipts and the requests made as long ago go too. Every instance runs ``run_once`` every
``purge_interval_seconds``; batches as every retention job (app/storage/batches.py). A
closed case's documents go earlier, with the case's erasure (app/privacy)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.core.time import Clock
from app.documents import store
from app.observability import counters
from app.storage.batches import delete_in_batches
from app.storage.engine import Database

log = logging.getLogger("kaari.documents")

BATCH = 200


@dataclass(frozen=True, slots=True)
class DocumentsPurged:
    versions: int
    requests: int


class DocumentRetention:
    def __init__(self, db: Database, days: int, clock: Clock) -> None:
        self.db = db
        self.keep = timedelta(days=days)
        self.clock = clock

    async def run_once(self, now: datetime | None = None) -> DocumentsPurged:
        before = (now or self.clock()) - self.keep
        versions = await delete_in_batches(self.db, store.delete_expired_versions, before, BATCH)
        requests = await delete_in_batches(self.db, store.delete_old_requests, before, BATCH)
        counters.retention_deleted("documents", versions)
        counters.retention_deleted("document_requests", requests)
        if versions or requests:
            log.info("expired documents deleted", extra={"count": versions + requests})
        return DocumentsPurged(versions, requests)
