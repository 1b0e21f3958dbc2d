"""Recording and reading the audit trail."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit import store
from app.audit.schemas import AuditEvent
from app.core.digests import ip_hash
from app.core.principal import Principal
from app.core.time import utcnow
from app.storage.engine import Database


class Audit:
    """Writes audit events inside the caller's transaction, so they commit together."""

    def __init__(self, secret_key: str) -> None:
        self._key = secret_key

    async def record(
        self,
        conn: AsyncConnection,
        action: str,
        *,
        org_id: UUID | None,
        actor: Principal | None = None,
        actor_user_id: UUID | None = None,
        target_type: str | None = None,
        target_id: UUID | str | None = None,
        details: dict[str, Any] | None = None,
        address: str | None = None,
    ) -> None:
        await store.insert(
            conn,
            at=utcnow(),
            org_id=org_id,
            actor_user_id=actor.user_id if actor else actor_user_id,
            actor_device_id=actor.device_id if actor else None,
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            details=details,
            ip_hash=ip_hash(self._key, address),
        )


async def list_events(
    db: Database, org_id: UUID, before_id: int | None, limit: int
) -> list[AuditEvent]:
    async with db.read() as conn:
        rows = await store.list_for_org(conn, org_id, before_id, limit)
    return [
        AuditEvent(
            id=r.id,
            at=r.at,
            action=r.action,
            actor_user_id=r.actor_user_id,
            actor_device_id=r.actor_device_id,
            target_type=r.target_type,
            target_id=r.target_id,
            details=r.details,
        )
        for r in rows
    ]
