"""SQL of messaging outside the Matrix timelines: threads (= rooms), the per-device
sequences of the to-device mailboxes, attachment records."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.schema import attachments, device_sequences, threads

Row = sa.Row[*tuple[Any, ...]]


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# threads


async def ensure_threads(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(_insert(conn, threads).values(list(rows)).on_conflict_do_nothing())


# The statements of the send path are built once: building one costs more than running
# it, and SQLAlchemy reuses the compiled form of the same object.
_THREAD = sa.select(threads).where(threads.c.id == sa.bindparam("thread_id"))
_LOCK_SEQUENCES = (
    sa.select(device_sequences.c.device_id)
    .where(device_sequences.c.device_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(device_sequences.c.device_id)
    .with_for_update()
)
_NEXT_SEQUENCES = (
    device_sequences.update()
    .where(device_sequences.c.device_id.in_(sa.bindparam("ids", expanding=True)))
    .values(last_seq=device_sequences.c.last_seq + 1)
    .returning(device_sequences.c.device_id, device_sequences.c.last_seq)
)


async def get_thread(conn: AsyncConnection, thread_id: UUID) -> Row | None:
    return (await conn.execute(_THREAD, {"thread_id": thread_id})).first()


# to-device sequences


async def next_sequences(conn: AsyncConnection, device_ids: Collection[UUID]) -> dict[UUID, int]:
    """Take the next mailbox sequence number of each device.

    The rows stay locked until the transaction ends (taken in id order, so two sends
    never deadlock): a device's rows become visible in sequence order."""
    ordered = sorted(device_ids)
    await conn.execute(
        _insert(conn, device_sequences)
        .values([{"device_id": d, "last_seq": 0} for d in ordered])
        .on_conflict_do_nothing()
    )
    if conn.dialect.name != "sqlite":  # SQLite has one writer at a time anyway
        await conn.execute(_LOCK_SEQUENCES, {"ids": ordered})
    result = await conn.execute(_NEXT_SEQUENCES, {"ids": ordered})
    return {r.device_id: r.last_seq for r in result.all()}


# attachments


async def insert_attachment(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(attachments.insert().values(**values))


async def extend_attachment(conn: AsyncConnection, attachment_id: UUID, until: datetime) -> None:
    query = attachments.update().where(attachments.c.id == attachment_id)
    await conn.execute(query.values(expires_at=until))


async def get_attachment(conn: AsyncConnection, attachment_id: UUID) -> Row | None:
    query = sa.select(attachments).where(attachments.c.id == attachment_id)
    return (await conn.execute(query)).first()


# expiry


async def purge_expired(conn: AsyncConnection, now: datetime) -> list[UUID]:
    """Delete expired attachment records; the ids of those whose blobs must go."""
    return list(
        (
            await conn.execute(
                attachments.delete()
                .where(attachments.c.expires_at <= now)
                .returning(attachments.c.id)
            )
        ).scalars()
    )


async def attachment_ids(conn: AsyncConnection, ids: Iterable[UUID]) -> set[UUID]:
    wanted = set(ids)
    if not wanted:
        return set()
    query = sa.select(attachments.c.id).where(attachments.c.id.in_(wanted))
    return set((await conn.execute(query)).scalars())
