"""SQL of the Matrix rooms and mailboxes: room events (one row per event, at a global
stream position), the rooms' joined members, to-device messages and their transaction
ids, each device's acknowledged room position and the deliveries it implies
(app/storage/schema_matrix.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.schema_matrix import (
    room_acks,
    room_deliveries,
    room_events,
    room_members,
    to_device_messages,
    to_device_txns,
)
from app.storage.streams import ROOM_EVENTS, lock_stream

Row = sa.Row[*tuple[Any, ...]]


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# room events


async def lock_room_stream(conn: AsyncConnection) -> None:
    await lock_stream(conn, ROOM_EVENTS)


async def room_head(conn: AsyncConnection) -> int:
    return int((await conn.execute(sa.select(sa.func.max(room_events.c.pos)))).scalar() or 0)


async def event_id_at(conn: AsyncConnection, pos: int) -> str | None:
    """The id of the room event at this stream position (None: none there)."""
    query = sa.select(room_events.c.event_id).where(room_events.c.pos == pos)
    value: str | None = (await conn.execute(query)).scalar()
    return value


async def insert_event(conn: AsyncConnection, **values: Any) -> int:
    """Insert a room event (the caller holds the room stream's lock); its position."""
    result = await conn.execute(room_events.insert().values(**values).returning(room_events.c.pos))
    return int(result.scalar_one())


async def event_by_txn(
    conn: AsyncConnection, room_id: UUID, device_id: UUID, txn_id: str
) -> Row | None:
    query = sa.select(room_events.c.event_id).where(
        room_events.c.room_id == room_id,
        room_events.c.sender_device_id == device_id,
        room_events.c.txn_id == txn_id,
    )
    return (await conn.execute(query)).first()


async def event_by_id(conn: AsyncConnection, event_id: str) -> Row | None:
    query = sa.select(room_events).where(room_events.c.event_id == event_id)
    return (await conn.execute(query)).first()


async def events_between(
    conn: AsyncConnection,
    room_id: UUID,
    after: int,
    up_to: int,
    limit: int,
    *,
    newest_first: bool,
) -> list[Row]:
    """Events of the room with ``after < pos <= up_to``, ``limit`` of them from the newest
    (``newest_first``) or from the oldest end."""
    order = room_events.c.pos.desc() if newest_first else room_events.c.pos.asc()
    query = (
        sa.select(room_events)
        .where(
            room_events.c.room_id == room_id,
            room_events.c.pos > after,
            room_events.c.pos <= up_to,
        )
        .order_by(order)
        .limit(limit)
    )
    return list((await conn.execute(query)).all())


async def membership_events(
    conn: AsyncConnection, room_ids: Iterable[UUID], after: int, up_to: int
) -> list[Row]:
    """The membership events of these rooms with ``after < pos <= up_to``."""
    ids = set(room_ids)
    if not ids or up_to <= after:
        return []
    query = (
        sa.select(room_events.c.room_id, room_events.c.sender_user_id, room_events.c.content)
        .where(
            room_events.c.room_id.in_(ids),
            room_events.c.type == "m.room.member",
            room_events.c.pos > after,
            room_events.c.pos <= up_to,
        )
        .order_by(room_events.c.pos)
    )
    return list((await conn.execute(query)).all())


# joined members (as the timeline says)


async def room_member_rows(conn: AsyncConnection, room_id: UUID) -> dict[UUID, Row]:
    query = sa.select(room_members).where(room_members.c.room_id == room_id)
    return {r.user_id: r for r in (await conn.execute(query)).all()}


async def joined_users(conn: AsyncConnection, room_id: UUID) -> set[UUID]:
    query = sa.select(room_members.c.user_id).where(
        room_members.c.room_id == room_id, room_members.c.joined.is_(True)
    )
    return set((await conn.execute(query)).scalars())


async def put_member(
    conn: AsyncConnection, room_id: UUID, user_id: UUID, *, joined: bool, pos: int
) -> None:
    stmt = _insert(conn, room_members).values(
        room_id=room_id, user_id=user_id, joined=joined, pos=pos
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["room_id", "user_id"], set_={"joined": joined, "pos": pos}
    )
    await conn.execute(stmt)


async def rooms_of_user(conn: AsyncConnection, user_id: UUID) -> list[Row]:
    """(room_id, joined, pos) of every room the user has been a member of."""
    query = sa.select(room_members.c.room_id, room_members.c.joined, room_members.c.pos).where(
        room_members.c.user_id == user_id
    )
    return list((await conn.execute(query)).all())


# to-device messages


async def record_to_device_txn(
    conn: AsyncConnection, device_id: UUID, txn_id: str, expires_at: datetime
) -> bool:
    """Record the transaction id; False if the device used it before (a retry)."""
    stmt = (
        _insert(conn, to_device_txns)
        .values(device_id=device_id, txn_id=txn_id, expires_at=expires_at)
        .on_conflict_do_nothing()
    )
    return bool((await conn.execute(stmt)).rowcount)


async def insert_to_device(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(to_device_messages.insert(), list(rows))


async def to_device_after(
    conn: AsyncConnection, device_id: UUID, after: int, limit: int, now: datetime
) -> list[Row]:
    query = (
        sa.select(to_device_messages)
        .where(
            to_device_messages.c.device_id == device_id,
            to_device_messages.c.seq > after,
            to_device_messages.c.expires_at > now,
        )
        .order_by(to_device_messages.c.seq)
        .limit(limit)
    )
    return list((await conn.execute(query)).all())


async def delete_to_device(conn: AsyncConnection, device_id: UUID, up_to: int) -> int:
    result = await conn.execute(
        to_device_messages.delete().where(
            to_device_messages.c.device_id == device_id, to_device_messages.c.seq <= up_to
        )
    )
    return int(result.rowcount or 0)


async def has_to_device_upto(conn: AsyncConnection, device_id: UUID, up_to: int) -> bool:
    query = sa.select(to_device_messages.c.seq).where(
        to_device_messages.c.device_id == device_id, to_device_messages.c.seq <= up_to
    )
    return (await conn.execute(query.limit(1))).first() is not None


# deliveries: how far each device has read the room stream


async def advance_room_ack(
    conn: AsyncConnection, device_id: UUID, pos: int, now: datetime
) -> int | None:
    """Record that the device acknowledged the room stream up to ``pos``: the position it
    had acknowledged before (0 for none), or ``None`` when ``pos`` is not further."""
    query = sa.select(room_acks.c.pos).where(room_acks.c.device_id == device_id)
    before = (await conn.execute(query)).scalar()
    if before is not None and before >= pos:
        return None
    stmt = _insert(conn, room_acks).values(device_id=device_id, pos=pos, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["device_id"],
        set_={"pos": pos, "updated_at": now},
        where=room_acks.c.pos < pos,
    )
    await conn.execute(stmt)
    return int(before or 0)


async def events_delivered_to(
    conn: AsyncConnection,
    device_id: UUID,
    user_id: UUID,
    span: tuple[int, int],
    since_ts: int,
) -> list[Row]:
    """The encrypted events with ``after < pos <= up_to`` of the user's rooms (up to the
    leave of a room left) sent by another device at or after ``since_ts`` (ms)."""
    after, up_to = span
    member = room_members.c
    visible = sa.or_(member.joined.is_(True), room_events.c.pos <= member.pos)
    query = (
        sa.select(
            room_events.c.pos,
            room_events.c.event_id,
            room_events.c.room_id,
            room_events.c.sender_user_id,
        )
        .join(room_members, member.room_id == room_events.c.room_id)
        .where(
            member.user_id == user_id,
            visible,
            room_events.c.pos > after,
            room_events.c.pos <= up_to,
            room_events.c.type == "m.room.encrypted",
            room_events.c.sender_device_id.is_not(None),
            room_events.c.sender_device_id != device_id,
            room_events.c.origin_server_ts >= since_ts,
        )
        .order_by(room_events.c.pos)
    )
    return list((await conn.execute(query)).all())


async def insert_deliveries(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        stmt = _insert(conn, room_deliveries).values(list(rows)).on_conflict_do_nothing()
        await conn.execute(stmt)


async def event_in_room(conn: AsyncConnection, room_id: UUID, event_id: str) -> Row | None:
    query = sa.select(room_events).where(
        room_events.c.room_id == room_id, room_events.c.event_id == event_id
    )
    return (await conn.execute(query)).first()


async def deliveries_of(conn: AsyncConnection, event_pos: int) -> list[Row]:
    query = (
        sa.select(room_deliveries)
        .where(room_deliveries.c.event_pos == event_pos)
        .order_by(room_deliveries.c.delivered_at, room_deliveries.c.device_id)
    )
    return list((await conn.execute(query)).all())


# expiry


async def purge_expired(conn: AsyncConnection, now: datetime) -> int:
    gone = 0
    expired = sa.select(room_events.c.pos).where(room_events.c.expires_at <= now)
    await conn.execute(room_deliveries.delete().where(room_deliveries.c.event_pos.in_(expired)))
    for table in (room_events, to_device_messages, to_device_txns):
        result = await conn.execute(table.delete().where(table.c.expires_at <= now))
        gone += int(result.rowcount or 0)
    return gone


async def to_device_depth(conn: AsyncConnection) -> int:
    """For metrics: to-device messages waiting in every device's mailbox."""
    query = sa.select(sa.func.count()).select_from(to_device_messages)
    return int((await conn.execute(query)).scalar_one())
