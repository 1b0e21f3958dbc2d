"""SQL for WebSocket tickets, and the read-only liveness check of device sessions."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.schema import devices, users, ws_tickets

Row = sa.Row[*tuple[Any, ...]]


async def insert_ticket(
    conn: AsyncConnection, ticket_hash: bytes, device_id: UUID, user_id: UUID, expires_at: datetime
) -> None:
    await conn.execute(
        ws_tickets.insert().values(
            ticket_hash=ticket_hash, device_id=device_id, user_id=user_id, expires_at=expires_at
        )
    )


async def use_ticket(conn: AsyncConnection, ticket_hash: bytes, now: datetime) -> Row | None:
    """Mark an unused, unexpired ticket used (atomically); its device and user, or None."""
    query = (
        ws_tickets.update()
        .where(
            ws_tickets.c.ticket_hash == ticket_hash,
            ws_tickets.c.used_at.is_(None),
            ws_tickets.c.expires_at > now,
        )
        .values(used_at=now)
        .returning(ws_tickets.c.device_id, ws_tickets.c.user_id)
    )
    return (await conn.execute(query)).first()


async def purge_tickets(conn: AsyncConnection, before: datetime) -> int:
    result = await conn.execute(ws_tickets.delete().where(ws_tickets.c.expires_at < before))
    return result.rowcount


def _live() -> sa.Select[tuple[UUID, UUID, UUID, str]]:
    return (
        sa.select(devices.c.id, users.c.id, users.c.org_id, users.c.role)
        .join(users, users.c.id == devices.c.user_id)
        .where(devices.c.revoked_at.is_(None), users.c.disabled_at.is_(None))
    )


async def live_session(conn: AsyncConnection, device_id: UUID, user_id: UUID) -> Row | None:
    """(device id, user id, org id, role) if the device's session is live."""
    query = _live().where(devices.c.id == device_id, users.c.id == user_id)
    return (await conn.execute(query)).first()


async def live_devices(conn: AsyncConnection, device_ids: Collection[UUID]) -> set[UUID]:
    """The devices among ``device_ids`` whose session is live (not revoked, user enabled)."""
    ids = list(device_ids)
    live: set[UUID] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = await conn.execute(
            sa.select(devices.c.id)
            .join(users, users.c.id == devices.c.user_id)
            .where(
                devices.c.id.in_(chunk),
                devices.c.revoked_at.is_(None),
                users.c.disabled_at.is_(None),
            )
        )
        live.update(row[0] for row in rows)
    return live
