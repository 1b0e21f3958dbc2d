"""Deleting what has expired: room events, to-device messages, attachment blobs.

Each instance runs ``run_once`` every ``purge_interval_seconds`` (``Runtime.every``); the
deletes are idempotent, so several instances may run it at once. ``kaari purge`` runs it once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.core.time import Clock
from app.messaging import matrix_store, store
from app.storage.blobs import BlobStore
from app.storage.engine import Database

log = logging.getLogger("kaari.messaging")


@dataclass(frozen=True, slots=True)
class Purged:
    rows: int
    attachments: int


class Expiry:
    def __init__(self, db: Database, blobs: BlobStore, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.blobs = blobs

    async def run_once(self) -> Purged:
        now = self.clock()
        async with self.db.transaction() as conn:
            blob_ids = await store.purge_expired(conn, now)
            # room events past KAARI_ROOM_EVENT_RETENTION_DAYS, to-device rows and their
            # transaction ids past KAARI_TO_DEVICE_RETENTION_DAYS
            rows = await matrix_store.purge_expired(conn, now)
        for blob_id in blob_ids:  # after the commit: a failed delete leaves an orphan file,
            await self.blobs.delete(blob_id)  # never a record without its bytes
        purged = Purged(rows, len(blob_ids))
        if rows or blob_ids:
            log.info("expired messages purged", extra={"count": rows + len(blob_ids)})
        return purged
