"""The audit domain's section of the GDPR export: what the user did, as the audit trail
recorded it (no content; the address only as the keyed hash, which is left out)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.export import ExportSubject, Section
from app.storage.export import table_rows
from app.storage.schema import audit_events


async def export(conn: AsyncConnection, subject: ExportSubject) -> Section:
    return {
        "actions": await table_rows(
            conn, audit_events, audit_events.c.actor_user_id == subject.user_id, omit={"ip_hash"}
        )
    }
