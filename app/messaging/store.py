"""SQL of messaging: threads, envelopes, per-device sequences and mailboxes, deliveries,
attachment records."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.schema import (
    attachments,
    case_members,
    deliveries,
    device_sequences,
    envelopes,
    mailbox,
    threads,
)

Row = sa.Row[*tuple[Any, ...]]


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# threads


async def ensure_threads(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(_insert(conn, threads).values(list(rows)).on_conflict_do_nothing())


def _visible_to(user_id: Any) -> sa.ColumnElement[bool]:
    """The user is still a member of the thread's case, in a role its kind admits
    (family: therapists and guardians; child: also the child)."""
    return sa.and_(
        case_members.c.case_id == threads.c.case_id,
        case_members.c.user_id == user_id,
        sa.or_(
            case_members.c.role.in_(("therapist", "guardian")),
            sa.and_(threads.c.kind == "child", case_members.c.role == "child"),
        ),
    )


# The statements of the send and delivery paths are built once: building one costs more
# than running it, and SQLAlchemy reuses the compiled form of the same object.
_THREAD = sa.select(threads).where(threads.c.id == sa.bindparam("thread_id"))
_ENVELOPE_BY_CLIENT_ID = sa.select(envelopes).where(
    envelopes.c.sender_device_id == sa.bindparam("sender_device_id"),
    envelopes.c.client_message_id == sa.bindparam("client_message_id"),
)
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
_MAILBOX_PAGE = (
    sa.select(
        mailbox.c.seq,
        mailbox.c.envelope_id,
        mailbox.c.ciphertext,
        envelopes.c.thread_id,
        envelopes.c.sender_user_id,
        envelopes.c.sender_device_id,
        envelopes.c.created_at,
        threads.c.case_id,
    )
    .join(envelopes, envelopes.c.id == mailbox.c.envelope_id)
    .join(threads, threads.c.id == envelopes.c.thread_id)
    .join(case_members, _visible_to(sa.bindparam("user_id")))
    .where(
        mailbox.c.device_id == sa.bindparam("device_id"),
        mailbox.c.seq > sa.bindparam("after"),
        mailbox.c.expires_at > sa.bindparam("now"),
    )
    .order_by(mailbox.c.seq)
    .limit(sa.bindparam("limit"))
)


async def get_thread(conn: AsyncConnection, thread_id: UUID) -> Row | None:
    return (await conn.execute(_THREAD, {"thread_id": thread_id})).first()


# envelopes


async def envelope_by_client_id(
    conn: AsyncConnection, sender_device_id: UUID, client_message_id: str
) -> Row | None:
    params = {"sender_device_id": sender_device_id, "client_message_id": client_message_id}
    return (await conn.execute(_ENVELOPE_BY_CLIENT_ID, params)).first()


async def get_envelope(conn: AsyncConnection, envelope_id: UUID) -> Row | None:
    return (await conn.execute(sa.select(envelopes).where(envelopes.c.id == envelope_id))).first()


async def insert_envelope(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(envelopes.insert(), values)


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


async def insert_mailbox_rows(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    await conn.execute(mailbox.insert(), list(rows))


async def mailbox_page(
    conn: AsyncConnection, device_id: UUID, user_id: UUID, after: int, limit: int, now: datetime
) -> list[Row]:
    """Rows after ``after`` in sequence order, of threads the user still belongs to."""
    params = {
        "device_id": device_id,
        "user_id": user_id,
        "after": after,
        "limit": limit,
        "now": now,
    }
    return list((await conn.execute(_MAILBOX_PAGE, params)).all())


async def acknowledge(
    conn: AsyncConnection, device_id: UUID, user_id: UUID, up_to: int
) -> list[Row]:
    """Delete the device's rows up to ``up_to``; returns (id, sender_user_id, thread_id)
    of the removed rows the device could see (rows of threads the user has left were
    never handed out: they go without a receipt)."""
    removed = (
        (
            await conn.execute(
                mailbox.delete()
                .where(mailbox.c.device_id == device_id, mailbox.c.seq <= up_to)
                .returning(mailbox.c.envelope_id)
            )
        )
        .scalars()
        .all()
    )
    if not removed:
        return []
    query = (
        sa.select(envelopes.c.id, envelopes.c.sender_user_id, envelopes.c.thread_id)
        .join(threads, threads.c.id == envelopes.c.thread_id)
        .join(case_members, _visible_to(user_id))
        .where(envelopes.c.id.in_(set(removed)))
    )
    return list((await conn.execute(query)).all())


async def last_sequence(conn: AsyncConnection, device_id: UUID) -> int:
    query = sa.select(device_sequences.c.last_seq).where(device_sequences.c.device_id == device_id)
    return int((await conn.execute(query)).scalar() or 0)


# deliveries


async def insert_deliveries(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(_insert(conn, deliveries).values(list(rows)).on_conflict_do_nothing())


async def deliveries_of(conn: AsyncConnection, envelope_id: UUID) -> list[Row]:
    query = (
        sa.select(deliveries)
        .where(deliveries.c.envelope_id == envelope_id)
        .order_by(deliveries.c.delivered_at)
    )
    return list((await conn.execute(query)).all())


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


async def purge_expired(conn: AsyncConnection, now: datetime) -> tuple[int, int, list[UUID]]:
    """Delete expired mailbox rows, envelopes (with their deliveries) and attachment
    records; returns the counts and the ids of the attachments whose blobs must go."""
    rows = (await conn.execute(mailbox.delete().where(mailbox.c.expires_at <= now))).rowcount
    expired = sa.select(envelopes.c.id).where(envelopes.c.expires_at <= now)
    await conn.execute(mailbox.delete().where(mailbox.c.envelope_id.in_(expired)))
    await conn.execute(deliveries.delete().where(deliveries.c.envelope_id.in_(expired)))
    gone = (await conn.execute(envelopes.delete().where(envelopes.c.expires_at <= now))).rowcount
    blob_ids = list(
        (
            await conn.execute(
                attachments.delete()
                .where(attachments.c.expires_at <= now)
                .returning(attachments.c.id)
            )
        ).scalars()
    )
    return int(rows or 0), int(gone or 0), blob_ids


async def attachment_ids(conn: AsyncConnection, ids: Iterable[UUID]) -> set[UUID]:
    wanted = set(ids)
    if not wanted:
        return set()
    query = sa.select(attachments.c.id).where(attachments.c.id.in_(wanted))
    return set((await conn.execute(query)).scalars())


async def mailbox_depth(conn: AsyncConnection) -> int:
    """For metrics: rows waiting in every device's mailbox (undelivered ciphertexts)."""
    return int((await conn.execute(sa.select(sa.func.count()).select_from(mailbox))).scalar_one())
