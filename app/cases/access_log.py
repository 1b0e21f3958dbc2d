"""The family's access log (Client Data Act 703/2023): who read or changed what kind of
data of a case, and when; which devices joined the case's rooms. From the audit trail,
never content (docs/data-protection.md)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.audit.service import READ_ACTION, Audit
from app.cases.schemas import AccessActor, AccessEntry, AccessLogPage, AccessVerb
from app.cases.service import CaseService
from app.core.principal import Principal
from app.storage.engine import Database

# the audit actions by prefix: the kind of data they change
_KINDS = {
    "case.member": "members",
    "case.scopes": "members",
    "case.handed": "members",
    "case.": "case",
    "period.": "periods",
    "appointment.": "appointments",
    "homework.": "homework",
    "document.": "documents",
    "quiet_hours.": "notifications",
    "invite.": "members",
    "pairing.code": "devices",
}
_DEVICE_VERBS: dict[str, AccessVerb] = {
    "login": "device_added",
    "pairing.paired": "device_added",
    "device.revoked": "device_removed",
    "device.revoked_all": "device_removed",
}


def _kind_and_verb(row: Any) -> tuple[str, AccessVerb]:
    if row.action == READ_ACTION:
        return str(row.target_type), "read"
    if row.action in _DEVICE_VERBS:
        return "devices", _DEVICE_VERBS[row.action]
    for prefix, kind in _KINDS.items():
        if row.action.startswith(prefix):
            return kind, "changed"
    return "case", "changed"


def _entry(row: Any) -> AccessEntry:
    kind, verb = _kind_and_verb(row)
    actor = None
    if row.actor_user_id is not None and row.actor_name is not None:
        actor = AccessActor(
            user_id=row.actor_user_id, role=row.actor_role, display_name=row.actor_name
        )
    device = row.target_id if row.target_type == "device" else None
    return AccessEntry(
        id=row.id,
        at=row.at,
        actor=actor,
        verb=verb,
        kind=kind,
        action=row.action,
        device_id=UUID(device) if device else row.actor_device_id if verb != "read" else None,
    )


class AccessLog:
    def __init__(self, db: Database, cases: CaseService, audit: Audit) -> None:
        self.db = db
        self.cases = cases
        self.audit = audit

    async def page(
        self, principal: Principal, case_id: UUID, before_id: int | None, limit: int
    ) -> AccessLogPage:
        """Guardians and the case's therapists; 404 outside the case, 403 for the child
        and caregivers."""
        async with self.db.read() as conn:
            (await self.cases.access(conn, principal, case_id)).require("guardian", "therapist")
            rows = await self.audit.case_trail(conn, case_id, before_id, limit)
        entries = [_entry(r) for r in rows]
        next_before = entries[-1].id if len(entries) == limit else None
        return AccessLogPage(entries=entries, next_before=next_before)
