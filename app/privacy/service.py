"""``GET /me/export``: everything Kaari stores about the caller, as one JSON document
(GDPR articles 15 and 20; docs/data-protection.md, *Export*).

The sections come from the domains that store them (``ExportSource``s handed in by the
composition root), read in one transaction so the document is consistent. Ciphertexts
are included as stored: the server cannot open them, the caller's devices can. Password
and token hashes, push encryption secrets and address hashes are left out: they are the
server's means of checking, not the person's data. Each export is recorded in the audit
trail.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Audit
from app.core.export import ExportSource, ExportSubject
from app.core.principal import Principal
from app.core.time import Clock
from app.storage.engine import Database

FORMAT = "kaari-export/1"

Ids = Callable[[AsyncConnection, UUID], Awaitable[frozenset[UUID]]]

#: Whose export carries their cases' records (the family's: the child's data, which a
#: guardian exercises the rights to). Staff get what they did and what is about them;
#: their clients' records are the organisation's and reach each family through its own.
FAMILY_ROLES = frozenset({"guardian", "caregiver", "child"})


class ExportService:
    def __init__(
        self,
        db: Database,
        audit: Audit,
        clock: Clock,
        sources: Sequence[ExportSource],
        device_ids: Ids,
        case_ids: Ids,
    ) -> None:
        self.db = db
        self.audit = audit
        self.clock = clock
        self.sources = list(sources)
        self.device_ids = device_ids
        self.case_ids = case_ids

    async def export(self, principal: Principal, address: str | None) -> bytes:
        """The caller's export, encoded (``application/json``)."""
        now = self.clock()
        document: dict[str, Any] = {
            "format": FORMAT,
            "exportedAt": now,
            "userId": principal.user_id,
            "role": principal.role,
        }
        async with self.db.read() as conn:
            subject = ExportSubject(
                user_id=principal.user_id,
                role=principal.role,
                device_ids=await self.device_ids(conn, principal.user_id),
                case_ids=(
                    await self.case_ids(conn, principal.user_id)
                    if principal.role in FAMILY_ROLES
                    else frozenset()
                ),
            )
            for source in self.sources:
                document[source.name] = await source.read(conn, subject)
        async with self.db.transaction() as conn:
            await self.audit.record(
                conn,
                "privacy.exported",
                org_id=principal.org_id,
                actor=principal,
                target_type="user",
                target_id=principal.user_id,
                address=address,
            )
        return msgspec.json.encode(document)
