"""``DELETE /me``: a guardian or caregiver erases their account (GDPR article 17;
docs/data-protection.md, *Erasure*).

The caller confirms with their password. In one transaction each domain removes what it
holds of the person (``ErasureSource``s handed in by the composition root) and keeps,
pseudonymised, what must stay: the account row as an id without e-mail, name or password
(what the audit trail and the retained records point at), cancellations and ticks without
their notes, membership events. After the commit: their attachment blobs are deleted,
their sockets closed, their co-members told that the device list changed (their devices
stop encrypting to the erased user, whose rooms they see them leave), and on SQLite the
write-ahead log is emptied so nothing erased lingers in it. Therapists and admins are
closed by the organisation (hand-over, disable); a child's data goes with its case.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Audit
from app.core.errors import Conflict, Forbidden, NotFound, Unauthenticated
from app.core.export import ExportSubject
from app.core.principal import Principal
from app.core.time import Clock
from app.storage.blobs import BlobStore
from app.storage.engine import Database

log = logging.getLogger("kaari.privacy")

#: Who may erase their own account.
SELF_ERASING_ROLES = frozenset({"guardian", "caregiver"})

EraseStep = Callable[[AsyncConnection, ExportSubject, datetime], Awaitable[None]]
EraseFiles = Callable[[AsyncConnection, ExportSubject, datetime], Awaitable[list[UUID]]]
Ids = Callable[[AsyncConnection, UUID], Awaitable[frozenset[UUID]]]
CaseStep = Callable[[AsyncConnection, UUID, datetime], Awaitable[None]]
CaseFiles = Callable[[AsyncConnection, UUID, datetime], Awaitable[list[UUID]]]


class CaseFacts(Protocol):
    """The cases domain's facts the case erasure needs (``cases.privacy_store``)."""

    async def case_row(self, conn: AsyncConnection, case_id: UUID) -> Any: ...

    async def case_member_ids(self, conn: AsyncConnection, case_id: UUID) -> set[UUID]: ...


@dataclass(frozen=True)
class CaseErasure:
    """What erasing a case asks of the domains: the case's facts, a step per domain, and
    the step that removes the case's files (answering their blob ids)."""

    facts: CaseFacts
    steps: Sequence[CaseStep]
    files: CaseFiles


class PasswordCheck(Protocol):
    async def check_password(self, principal: Principal, password: str) -> bool: ...


class CoMembers(Protocol):
    async def co_members(self, conn: AsyncConnection, user_id: UUID) -> set[UUID]: ...

    async def live_devices(
        self, conn: AsyncConnection, user_ids: Iterable[UUID]
    ) -> dict[UUID, UUID]: ...


class Sockets(Protocol):
    async def close_devices(self, device_ids: Iterable[UUID], reason: str = ...) -> None: ...

    async def wake_sync(self, device_ids: Iterable[UUID]) -> None: ...


class WrongPassword(Unauthenticated):
    code, title = "invalid_credentials", "Wrong password"


class ErasureService:
    def __init__(
        self,
        db: Database,
        audit: Audit,
        clock: Clock,
        blobs: BlobStore,
        passwords: PasswordCheck,
        steps: Sequence[EraseStep],
        files: EraseFiles,
        ids: tuple[Ids, Ids],
        keys: CoMembers,
        sockets: Sockets,
        case: CaseErasure,
    ) -> None:
        self.db = db
        self.audit = audit
        self.clock = clock
        self.blobs = blobs
        self.passwords = passwords
        self.steps = list(steps)
        self.files = files
        self.device_ids, self.case_ids = ids
        self.keys = keys
        self.sockets = sockets
        self.case = case

    async def erase_me(self, principal: Principal, password: str, address: str | None) -> None:
        if principal.role not in SELF_ERASING_ROLES:
            raise Forbidden(
                "Staff accounts are closed by the organisation, and a child's data is "
                "erased with the case",
                code="erasure_not_allowed",
            )
        if not await self.passwords.check_password(principal, password):
            raise WrongPassword("The password is wrong")
        now = self.clock()
        async with self.db.read() as conn:  # who must hear of it, while they still share a case
            audience = await self.keys.live_devices(
                conn, await self.keys.co_members(conn, principal.user_id)
            )
        async with self.db.transaction() as conn:
            subject, blob_ids = await self._erase_user(conn, principal.user_id, principal.role, now)
            await self.audit.record(
                conn,
                "account.erased",
                org_id=principal.org_id,
                actor_user_id=principal.user_id,
                target_type="user",
                target_id=principal.user_id,
                details={"cases": len(subject.case_ids), "attachments": len(blob_ids)},
                address=address,
                case_ids=subject.case_ids,
            )
        await self._after(blob_ids, subject.device_ids, set(audience))

    async def erase_case(self, principal: Principal, case_id: UUID, address: str | None) -> None:
        """An admin erases a closed case: its content, its rooms' history and the child's
        account; the case's accounting stays (docs/data-protection.md, *Erasing a case*)."""
        if principal.role != "admin":
            raise Forbidden("Only an admin erases a case", code="erasure_not_allowed")
        now = self.clock()
        facts = self.case.facts
        async with self.db.read() as conn:
            case = await facts.case_row(conn, case_id)
            if case is None or case.org_id != principal.org_id:
                raise NotFound("No such case", code="case_not_found")
            if case.closed_at is None:
                raise Conflict(
                    "Close the case first (POST /org/cases/{id}/close)", code="case_not_closed"
                )
            members = await facts.case_member_ids(conn, case_id)
            audience = await self.keys.live_devices(conn, members)
        async with self.db.transaction() as conn:
            child_devices: frozenset[UUID] = frozenset()
            blob_ids: list[UUID] = []
            if case.child_user_id is not None:
                child, blob_ids = await self._erase_user(conn, case.child_user_id, "child", now)
                child_devices = child.device_ids
            for step in self.case.steps:
                await step(conn, case_id, now)
            blob_ids += await self.case.files(conn, case_id, now)
            await self.audit.record(
                conn,
                "case.erased",
                org_id=principal.org_id,
                actor=principal,
                target_type="case",
                target_id=case_id,
                details={"members": len(members), "attachments": len(blob_ids)},
                address=address,
            )
        await self._after(blob_ids, child_devices, set(audience))

    async def _erase_user(
        self, conn: AsyncConnection, user_id: UUID, role: str, now: datetime
    ) -> tuple[ExportSubject, list[UUID]]:
        subject = ExportSubject(
            user_id=user_id,
            role=role,
            device_ids=await self.device_ids(conn, user_id),
            case_ids=await self.case_ids(conn, user_id),
        )
        for step in self.steps:
            await step(conn, subject, now)
        return subject, await self.files(conn, subject, now)

    async def _after(
        self, blob_ids: Sequence[UUID], erased_devices: frozenset[UUID], audience: set[UUID]
    ) -> None:
        """After the commit: the blobs, the erased devices' sockets, the others woken."""
        for blob_id in blob_ids:
            await self.blobs.delete(blob_id)
        await self.sockets.close_devices(erased_devices)
        await self.sockets.wake_sync(audience - erased_devices)
        if not await self.db.checkpoint():
            log.warning("erasure: the write-ahead log could not be emptied yet (a reader)")
