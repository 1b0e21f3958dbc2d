"""SQL for the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.schema import audit_events


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
) -> None:
    await conn.execute(
        audit_events.insert().values(
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
    )


async def list_for_org(
    conn: AsyncConnection, org_id: UUID, before_id: int | None, limit: int
) -> list[sa.Row[*tuple[Any, ...]]]:
    query = sa.select(audit_events).where(audit_events.c.org_id == org_id)
    if before_id is not None:
        query = query.where(audit_events.c.id < before_id)
    query = query.order_by(audit_events.c.id.desc()).limit(limit)
    return list((await conn.execute(query)).all())
