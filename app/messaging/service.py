"""Threads (DESIGN.md sections 5 and 6, docs/messaging.md): the directory of a case's
conversations, each a Matrix room (``app/messaging/rooms.py``).

* A case has two chat threads: ``family`` (therapists and guardians) and ``child`` (also
  the child). Membership is the case's; nothing is copied. Caregivers are in neither.
* Thread ids are derived from the case, so creating them never races; listing the
  caller's threads creates them.
* ``access`` is the check every thread-scoped route makes (attachments): 404
  ``thread_not_found`` for anyone outside the thread, so nothing is enumerable.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.cases.service import CaseService, Membership
from app.core.errors import NotFound
from app.core.principal import CaseRole, Principal
from app.core.time import Clock
from app.messaging import matrix_store as mx
from app.messaging import store
from app.messaging.schemas import ThreadKind, ThreadOut
from app.storage.engine import Database

THREAD_ROLES: dict[str, tuple[CaseRole, ...]] = {
    "family": ("therapist", "guardian"),
    "child": ("therapist", "guardian", "child"),
}
THREAD_NAMESPACE = uuid.UUID("6f1c3f0e-3b5e-4f55-9d59-6b6172690001")


def thread_id_of(case_id: UUID, kind: str) -> UUID:
    """Thread ids are derived from the case, so creating them never races."""
    return uuid.uuid5(THREAD_NAMESPACE, f"{case_id}:{kind}")


KINDS: tuple[ThreadKind, ...] = ("family", "child")


def kinds_for(role: CaseRole) -> list[ThreadKind]:
    return [k for k in KINDS if role in THREAD_ROLES[k]]


@dataclass(frozen=True, slots=True)
class ThreadAccess:
    thread_id: UUID
    case_id: UUID
    kind: ThreadKind
    membership: Membership


class MessagingService:
    def __init__(
        self,
        db: Database,
        cases: CaseService,
        clock: Clock,
    ) -> None:
        self.db = db
        self.cases = cases
        self.clock = clock

    async def mailbox_depth(self) -> int:
        """For metrics: to-device messages waiting in every device's mailbox."""
        async with self.db.read() as conn:
            return await mx.to_device_depth(conn)

    async def list_threads(
        self, principal: Principal, case_id: UUID | None = None
    ) -> list[ThreadOut]:
        async with self.db.transaction() as conn:
            if case_id is not None:
                memberships = [await self.cases.access(conn, principal, case_id)]
            else:
                memberships = await self.cases.memberships(conn, principal)
            out: list[ThreadOut] = []
            rows: list[dict[str, Any]] = []
            now = self.clock()
            for m in memberships:
                for kind in kinds_for(m.role):
                    tid = thread_id_of(m.case_id, kind)
                    rows.append({"id": tid, "case_id": m.case_id, "kind": kind, "created_at": now})
                    out.append(
                        ThreadOut(id=tid, case_id=m.case_id, kind=kind, child_name=m.child_name)
                    )
            await store.ensure_threads(conn, rows)
        return out

    async def access(
        self, conn: AsyncConnection, principal: Principal, thread_id: UUID
    ) -> ThreadAccess:
        """The caller's access to a thread; 404 ``thread_not_found`` for anyone outside it."""
        row = await store.get_thread(conn, thread_id)
        if row is None:
            raise NotFound("No such thread", code="thread_not_found")
        try:
            membership = await self.cases.access(conn, principal, row.case_id)
        except NotFound:
            raise NotFound("No such thread", code="thread_not_found") from None
        if row.kind not in THREAD_ROLES or membership.role not in THREAD_ROLES[row.kind]:
            raise NotFound("No such thread", code="thread_not_found")
        return ThreadAccess(row.id, row.case_id, row.kind, membership)
