"""Who sees a case's documents, and where their content lives (docs/documents.md).

Therapists and guardians of the case; a caregiver only with a guardian's ``documents``
grant; never the child (403). A foreign case is 404 (``CaseService.access``). The
content (title, file name, media type, the file's key) is a Megolm event of the case's
family room and the file an attachment of that room, both from the sharing device:
app/messaging answers through :class:`DocumentRooms`, so this package never reads its
tables.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.cases.service import CaseService, Membership
from app.core.errors import Forbidden, InvalidInput
from app.core.principal import CaseRole, Principal

SCOPE = "documents"
READERS: tuple[CaseRole, ...] = ("therapist", "guardian", "caregiver")
SHARERS: tuple[CaseRole, ...] = ("therapist", "guardian")
THERAPISTS: tuple[CaseRole, ...] = ("therapist",)


class DocumentRooms(Protocol):
    def family_room(self, case_id: UUID) -> str: ...

    async def family_event_from(
        self, conn: AsyncConnection, case_id: UUID, event_id: str, device_id: UUID
    ) -> bool: ...

    async def keep_family_file(
        self, conn: AsyncConnection, case_id: UUID, blob_id: UUID, device_id: UUID
    ) -> int | None: ...


async def membership(
    cases: CaseService, conn: AsyncConnection, principal: Principal, case_id: UUID
) -> Membership:
    """The caller's membership of a case whose documents they may see."""
    m = await cases.access(conn, principal, case_id)
    if m.role == "child":
        raise Forbidden("A child's account sees no documents", code="documents_forbidden")
    if m.role == "caregiver" and SCOPE not in (m.scopes or []):
        raise Forbidden("A guardian has not shared documents with you",
                        code="documents_forbidden")  # fmt: skip
    return m


async def audience(
    cases: CaseService, conn: AsyncConnection, case_id: UUID, roles: tuple[CaseRole, ...]
) -> list[UUID]:
    """The active members in ``roles`` who see the case's documents."""
    return list(await cases.active_members_granted(conn, case_id, roles, SCOPE))


async def check_event(
    rooms: DocumentRooms,
    conn: AsyncConnection,
    principal: Principal,
    case_id: UUID,
    event_id: str,
    what: str,
) -> None:
    if not await rooms.family_event_from(conn, case_id, event_id, principal.device_id):
        raise InvalidInput(f"The {what} must be an event this device sent to the case's "
                           "family room", code="content_event_invalid")  # fmt: skip
