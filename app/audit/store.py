"""SQL for the audit trail (read-joins users and case members for the access log)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.schema import audit_events, case_members, users
from app.storage.schema_privacy import audit_event_cases


async def insert(
    conn: AsyncConnection,
    *,
    at: datetime,
    org_id: UUID | None,
    actor_user_id: UUID | None,
    actor_device_id: UUID | None,
    action: str,
    target_type: str | None,
    target_id: str | None,
    details: dict[str, Any] | None,
    ip_hash: str | None,
) -> int:
    result = await conn.execute(
        audit_events.insert()
        .values(
            at=at,
            org_id=org_id,
            actor_user_id=actor_user_id,
            actor_device_id=actor_device_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=details,
            ip_hash=ip_hash,
        )
        .returning(audit_events.c.id)
    )
    return int(result.scalar_one())


async def link_cases(conn: AsyncConnection, event_id: int, case_ids: Collection[UUID]) -> None:
    await conn.execute(
        audit_event_cases.insert(), [{"event_id": event_id, "case_id": c} for c in case_ids]
    )


async def list_for_org(
    conn: AsyncConnection, org_id: UUID, before_id: int | None, limit: int
) -> list[sa.Row[*tuple[Any, ...]]]:
    query = sa.select(audit_events).where(audit_events.c.org_id == org_id)
    if before_id is not None:
        query = query.where(audit_events.c.id < before_id)
    query = query.order_by(audit_events.c.id.desc()).limit(limit)
    return list((await conn.execute(query)).all())


async def read_since(
    conn: AsyncConnection,
    action: str,
    user_id: UUID,
    case_id: UUID,
    kind: str,
    since: datetime,
) -> bool:
    query = (
        sa.select(audit_events.c.id)
        .join(audit_event_cases, audit_event_cases.c.event_id == audit_events.c.id)
        .where(
            audit_event_cases.c.case_id == case_id,
            audit_events.c.action == action,
            audit_events.c.actor_user_id == user_id,
            audit_events.c.target_type == kind,
            audit_events.c.at >= since,
        )
        .limit(1)
    )
    return (await conn.execute(query)).first() is not None


def _with_actor() -> sa.Select[Any]:
    return sa.select(
        audit_events.c.id,
        audit_events.c.at,
        audit_events.c.action,
        audit_events.c.actor_user_id,
        audit_events.c.actor_device_id,
        audit_events.c.target_type,
        audit_events.c.target_id,
        users.c.role.label("actor_role"),
        users.c.display_name.label("actor_name"),
    ).select_from(audit_events.outerjoin(users, users.c.id == audit_events.c.actor_user_id))


def _page(query: sa.Select[Any], before_id: int | None, limit: int) -> sa.Select[Any]:
    if before_id is not None:
        query = query.where(audit_events.c.id < before_id)
    return query.order_by(audit_events.c.id.desc()).limit(limit)


async def case_events(
    conn: AsyncConnection, case_id: UUID, before_id: int | None, limit: int
) -> list[sa.Row[Any]]:
    query = _with_actor().where(
        audit_events.c.id.in_(
            sa.select(audit_event_cases.c.event_id).where(audit_event_cases.c.case_id == case_id)
        )
    )
    return list((await conn.execute(_page(query, before_id, limit))).all())


async def member_device_events(
    conn: AsyncConnection,
    case_id: UUID,
    actions: Sequence[str],
    before_id: int | None,
    limit: int,
) -> list[sa.Row[Any]]:
    query = _with_actor().join(
        case_members,
        sa.and_(
            case_members.c.user_id == audit_events.c.actor_user_id,
            case_members.c.case_id == case_id,
            audit_events.c.at >= case_members.c.added_at,
        ),
    )
    query = query.where(audit_events.c.action.in_(actions))
    return list((await conn.execute(_page(query, before_id, limit))).all())


async def delete_older(conn: AsyncConnection, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` events at or before ``before``, with their case links. The
    events are claimed first (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two instances
    deleting at once take different events and never wait on each other."""
    query = (
        sa.select(audit_events.c.id)
        .where(audit_events.c.at <= before)
        .order_by(audit_events.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list((await conn.execute(query)).scalars())
    if not ids:
        return 0
    await conn.execute(audit_event_cases.delete().where(audit_event_cases.c.event_id.in_(ids)))
    # on SQLite another instance may have deleted them meanwhile: count what went
    gone = await conn.execute(audit_events.delete().where(audit_events.c.id.in_(ids)))
    return int(gone.rowcount or 0)
