"""Sweeping the blob store: blob files no attachment record names, and ``.part`` files of
uploads that never finished, untouched for ``KAARI_BLOB_ORPHAN_HOURS``.

Orphans come from a delete that failed after its commit (``Expiry`` removes the record
first, so a crash leaves the file) and from uploads cut off before their rename. The age
threshold is what keeps an upload in progress safe: its ``.part`` file is written all the
time, and a finished blob gets its record right after the rename, well inside the
threshold. Ages are file-system times, so the system clock judges them (never a test
clock). The attachments table is the only one that names blobs; a table that comes to
name them too must be asked here before its blobs are swept. Deleting is idempotent, so
instances sweeping at once (the directory is shared) only race to delete the same file.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.core.time import Clock
from app.messaging import store
from app.observability import counters
from app.storage.blobs import BlobStore
from app.storage.engine import Database

log = logging.getLogger("kaari.messaging")

CHECK = 500  # blob ids looked up per query


@dataclass(frozen=True, slots=True)
class Swept:
    orphans: int
    parts: int


class BlobSweep:
    def __init__(self, db: Database, blobs: BlobStore, hours: float, clock: Clock) -> None:
        self.db = db
        self.blobs = blobs
        self.grace = timedelta(hours=hours)
        self.clock = clock

    async def run_once(self, now: datetime | None = None) -> Swept:
        """Delete the orphan blobs and ``.part`` files last written at or before ``now``
        minus the threshold; a blob an attachment record names is never deleted."""
        before = ((now or self.clock()) - self.grace).timestamp()
        stale, parts = await asyncio.to_thread(self.blobs.stale, before)
        orphans = []
        for start in range(0, len(stale), CHECK):
            batch = stale[start : start + CHECK]
            async with self.db.read() as conn:
                named = await store.attachment_ids(conn, batch)
            orphans += [blob_id for blob_id in batch if blob_id not in named]
        removed = 0
        for blob_id in orphans:
            removed += await self.blobs.delete(blob_id)
        removed_parts = 0
        for blob_id in parts:
            removed_parts += await self.blobs.delete_part(blob_id, before)
        counters.retention_deleted("orphan_blobs", removed)
        counters.retention_deleted("part_files", removed_parts)
        if removed or removed_parts:
            log.info("orphan blobs swept", extra={"count": removed + removed_parts})
        return Swept(removed, removed_parts)
