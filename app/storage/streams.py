"""Global stream positions that appear in commit order.

A reader that saw position N of a stream must never later find a row below N. An
autoincrement id alone does not promise that on PostgreSQL (a transaction that took N
may commit after the one that took N+1), so every writer of a stream takes the stream's
transaction-scoped advisory lock first: writers of one stream commit one at a time, in
position order. SQLite has one writer at a time already (``Database.transaction``).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

#: advisory lock keys, one per stream (any fixed 64-bit numbers, unique in the database)
ROOM_EVENTS = 0x4B41_4152_0001
DEVICE_LISTS = 0x4B41_4152_0002


async def lock_stream(conn: AsyncConnection, stream: int) -> None:
    """Hold ``stream``'s writer lock until this transaction ends."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": stream})
