"""SQL for push subscriptions, preferences, quiet hours, the outbox, reminders sent and
calendar tokens."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.schema import (
    calendar_tokens,
    devices,
    notification_outbox,
    notification_preferences,
    push_subscriptions,
    quiet_hours,
    reminders_sent,
)

Row = sa.Row[*tuple[Any, ...]]


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


# push subscriptions


async def endpoint_holder(conn: AsyncConnection, endpoint: str) -> Row | None:
    """(user_id, revoked_at of its device) of the subscription holding ``endpoint``."""
    query = (
        sa.select(push_subscriptions.c.user_id, devices.c.revoked_at)
        .join(devices, devices.c.id == push_subscriptions.c.device_id)
        .where(push_subscriptions.c.endpoint == endpoint)
    )
    return (await conn.execute(query)).first()


async def replace_subscription(conn: AsyncConnection, **values: Any) -> bool:
    """A subscription for this endpoint, replacing an earlier one (the caller decided it
    may: the same user re-subscribing, or a revoked device's); False if another request
    took the endpoint meanwhile."""
    await conn.execute(
        push_subscriptions.delete().where(push_subscriptions.c.endpoint == values["endpoint"])
    )
    stmt = _insert(conn, push_subscriptions).values(**values)
    result = await conn.execute(stmt.on_conflict_do_nothing(index_elements=["endpoint"]))
    return bool(result.rowcount)


async def subscriptions_of_user(conn: AsyncConnection, user_id: UUID) -> list[Row]:
    query = (
        sa.select(push_subscriptions)
        .join(devices, devices.c.id == push_subscriptions.c.device_id)
        .where(push_subscriptions.c.user_id == user_id, devices.c.revoked_at.is_(None))
        .order_by(push_subscriptions.c.created_at, push_subscriptions.c.id)
    )
    return list((await conn.execute(query)).all())


async def get_subscription(conn: AsyncConnection, subscription_id: UUID) -> Row | None:
    query = sa.select(push_subscriptions).where(push_subscriptions.c.id == subscription_id)
    return (await conn.execute(query)).first()


async def delete_subscription(conn: AsyncConnection, subscription_id: UUID) -> int:
    result = await conn.execute(
        push_subscriptions.delete().where(push_subscriptions.c.id == subscription_id)
    )
    return int(result.rowcount)


async def live_subscriptions(conn: AsyncConnection, user_ids: Collection[UUID]) -> list[Row]:
    """(id, user_id) of the users' subscriptions on signed-in devices."""
    if not user_ids:
        return []
    query = (
        sa.select(push_subscriptions.c.id, push_subscriptions.c.user_id)
        .join(devices, devices.c.id == push_subscriptions.c.device_id)
        .where(push_subscriptions.c.user_id.in_(list(user_ids)), devices.c.revoked_at.is_(None))
        .order_by(push_subscriptions.c.id)
    )
    return list((await conn.execute(query)).all())


# preferences


async def preferences(conn: AsyncConnection, user_ids: Collection[UUID]) -> dict[UUID, Any]:
    if not user_ids:
        return {}
    query = sa.select(notification_preferences).where(
        notification_preferences.c.user_id.in_(list(user_ids))
    )
    return {r.user_id: r.channels for r in (await conn.execute(query)).all()}


async def put_preferences(
    conn: AsyncConnection, user_id: UUID, channels: dict[str, list[str]], at: datetime
) -> None:
    stmt = _insert(conn, notification_preferences).values(
        user_id=user_id, channels=channels, updated_at=at
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["user_id"], set_={"channels": channels, "updated_at": at}
        )
    )


# quiet hours


async def quiet_hours_of(conn: AsyncConnection, case_ids: Collection[UUID]) -> dict[UUID, Row]:
    if not case_ids:
        return {}
    query = sa.select(quiet_hours).where(quiet_hours.c.case_id.in_(list(case_ids)))
    return {r.case_id: r for r in (await conn.execute(query)).all()}


async def put_quiet_hours(conn: AsyncConnection, **values: Any) -> None:
    stmt = _insert(conn, quiet_hours).values(**values)
    update = {k: v for k, v in values.items() if k != "case_id"}
    await conn.execute(stmt.on_conflict_do_update(index_elements=["case_id"], set_=update))


async def delete_quiet_hours(conn: AsyncConnection, case_id: UUID) -> int:
    result = await conn.execute(quiet_hours.delete().where(quiet_hours.c.case_id == case_id))
    return int(result.rowcount)


# the outbox


async def enqueue(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(notification_outbox.insert(), rows)


async def claim_due(
    conn: AsyncConnection, now: datetime, lease_until: datetime, limit: int
) -> list[Row]:
    """Take up to ``limit`` due rows for this sender: their next attempt moves to the end
    of the lease, so another instance (or this one after a crash) takes a row only when
    the lease ran out. On PostgreSQL the select skips rows another instance holds."""
    query = (
        sa.select(notification_outbox)
        .where(
            notification_outbox.c.next_attempt_at.is_not(None),
            notification_outbox.c.next_attempt_at <= now,
        )
        .order_by(notification_outbox.c.next_attempt_at, notification_outbox.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list((await conn.execute(query)).all())
    if rows:
        await conn.execute(
            notification_outbox.update()
            .where(notification_outbox.c.id.in_([r.id for r in rows]))
            .values(next_attempt_at=lease_until, attempts=notification_outbox.c.attempts + 1)
        )
    return rows


async def settle(conn: AsyncConnection, row_id: UUID, **values: Any) -> None:
    await conn.execute(
        notification_outbox.update().where(notification_outbox.c.id == row_id).values(**values)
    )


async def outbox_rows(conn: AsyncConnection, user_id: UUID | None = None) -> list[Row]:
    """For tests and operators: the rows (of one user), oldest first."""
    query = sa.select(notification_outbox).order_by(
        notification_outbox.c.created_at, notification_outbox.c.id
    )
    if user_id is not None:
        query = query.where(notification_outbox.c.user_id == user_id)
    return list((await conn.execute(query)).all())


# reminders


async def claim_reminder(
    conn: AsyncConnection, kind: str, target_id: UUID, user_id: UUID, at: datetime
) -> bool:
    """Record the reminder; False if it was already sent (by any instance, ever)."""
    stmt = (
        _insert(conn, reminders_sent)
        .values(kind=kind, target_id=target_id, user_id=user_id, sent_at=at)
        .on_conflict_do_nothing(index_elements=["kind", "target_id", "user_id"])
    )
    return int((await conn.execute(stmt)).rowcount) == 1


# calendar tokens


async def put_calendar_token(
    conn: AsyncConnection, user_id: UUID, token_hash: bytes, at: datetime
) -> None:
    stmt = _insert(conn, calendar_tokens).values(
        user_id=user_id, token_hash=token_hash, created_at=at
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["user_id"], set_={"token_hash": token_hash, "created_at": at}
        )
    )


async def delete_calendar_token(conn: AsyncConnection, user_id: UUID) -> int:
    result = await conn.execute(
        calendar_tokens.delete().where(calendar_tokens.c.user_id == user_id)
    )
    return int(result.rowcount)


async def calendar_user(conn: AsyncConnection, token_hash: bytes) -> UUID | None:
    query = sa.select(calendar_tokens.c.user_id).where(calendar_tokens.c.token_hash == token_hash)
    value: UUID | None = (await conn.execute(query)).scalar()
    return value


async def outbox_backlog(conn: AsyncConnection) -> tuple[int, datetime | None, int]:
    """For metrics: notices waiting to be sent (or being sent), the oldest one's
    creation time, and the notices given up."""
    oc = notification_outbox.c
    pending = (
        await conn.execute(
            sa.select(sa.func.count(), sa.func.min(oc.created_at)).where(
                oc.next_attempt_at.is_not(None)
            )
        )
    ).one()
    failed = (
        await conn.execute(sa.select(sa.func.count()).where(oc.failed_at.is_not(None)))
    ).scalar_one()
    return int(pending[0]), pending[1], int(failed)


# retention


async def delete_settled(conn: AsyncConnection, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` outbox rows delivered or given up at or before ``before``.
    The rows are claimed first (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two
    instances deleting at once take different rows and never wait on each other."""
    oc = notification_outbox.c
    query = (
        sa.select(oc.id)
        .where(sa.or_(oc.delivered_at <= before, oc.failed_at <= before))
        .order_by(oc.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list((await conn.execute(query)).scalars())
    if not ids:
        return 0
    # on SQLite another instance may have deleted them meanwhile: count what went
    gone = await conn.execute(notification_outbox.delete().where(oc.id.in_(ids)))
    return int(gone.rowcount or 0)
