"""Recording and reading the audit trail."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit import store
from app.audit.schemas import AuditEvent
from app.core.digests import ip_hash
from app.core.principal import Principal
from app.core.time import Clock
from app.storage.engine import Database

READ_ACTION = "case.read"
"""one event per reader, case, kind of data and hour (docs/data-protection.md)"""

DEVICE_ACTIONS = ("login", "pairing.paired", "device.revoked", "device.revoked_all")
"""a member's device was added to (or removed from) every room of their cases"""


def cases_of(
    target_type: str | None, target_id: UUID | str | None, details: dict[str, Any] | None
) -> set[UUID]:
    """The cases an event names: a case target, ``caseId`` or ``caseIds`` in its details."""
    found: set[UUID] = set()
    if target_type == "case" and target_id is not None:
        found.add(UUID(str(target_id)))
    for value in [(details or {}).get("caseId"), *((details or {}).get("caseIds") or [])]:
        if value:
            found.add(UUID(str(value)))
    return found


class Audit:
    """Writes audit events inside the caller's transaction, so they commit together."""

    def __init__(self, secret_key: str, clock: Clock) -> None:
        self._key = secret_key
        self.clock = clock

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
        case_ids: Collection[UUID] = (),
    ) -> None:
        """``case_ids`` adds the cases the event concerns to those its target and details
        name; the family's access log lists the events of its case."""
        event_id = await store.insert(
            conn,
            at=self.clock(),
            org_id=org_id,
            actor_user_id=actor.user_id if actor else actor_user_id,
            actor_device_id=actor.device_id if actor else None,
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            details=details,
            ip_hash=ip_hash(self._key, address),
        )
        linked = cases_of(target_type, target_id, details) | set(case_ids)
        if linked:
            await store.link_cases(conn, event_id, linked)

    async def read_noted(
        self, conn: AsyncConnection, user_id: UUID, case_id: UUID, kind: str, since: datetime
    ) -> bool:
        """Has ``user_id`` a read event of ``kind`` data of the case since ``since``?"""
        return await store.read_since(conn, READ_ACTION, user_id, case_id, kind, since)

    async def record_read(
        self, conn: AsyncConnection, principal: Principal, case_id: UUID, kind: str
    ) -> None:
        await self.record(
            conn,
            READ_ACTION,
            org_id=principal.org_id,
            actor=principal,
            target_type=kind,
            target_id=case_id,
            case_ids=[case_id],
        )

    async def case_trail(
        self, conn: AsyncConnection, case_id: UUID, before_id: int | None, limit: int
    ) -> list[Any]:
        """The events of a case, newest first: those linked to it, and the device events
        of its members since they joined. Each row has the actor's role and name."""
        linked = await store.case_events(conn, case_id, before_id, limit)
        devices = await store.member_device_events(conn, case_id, DEVICE_ACTIONS, before_id, limit)
        merged = {r.id: r for r in [*linked, *devices]}
        return sorted(merged.values(), key=lambda r: r.id, reverse=True)[:limit]


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
