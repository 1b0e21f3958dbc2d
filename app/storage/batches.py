"""Deleting in batches, a transaction each: what the retention jobs share.

Each batch claims its rows inside the deleting transaction, so instances running the
same job at once delete each row once; the count is what was really deleted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.engine import Database

DeleteBatch = Callable[[AsyncConnection, datetime, int], Awaitable[int]]


async def delete_in_batches(db: Database, delete: DeleteBatch, before: datetime, batch: int) -> int:
    """Run ``delete(conn, before, batch)`` until a batch deletes fewer than ``batch``."""
    total = 0
    while True:
        async with db.transaction() as conn:
            deleted = await delete(conn, before, batch)
        total += deleted
        if deleted < batch:
            return total
