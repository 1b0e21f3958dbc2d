"""Who sees a case's documents, and where their content lives (docs/documents.md).

Therapists and guardians of the case; a caregiver only with a guardian's ``documents``
grant; never the child (403). A foreign case is 404 (``CaseService.access``). The
content (title, file name, media type, the file's key) is a Megolm event of the case's
``documents`` room and the file an attachment of that room, both from the sharing
device. The room's members are exactly the readers (app/messaging/room_kinds.py: the
same roles, the same grant), so a granted caregiver can decrypt what they are listed.
app/messaging answers through :class:`app.core.content_rooms.ContentRooms`, so this
package never reads its tables.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.cases.service import CaseService, Membership
from app.core.content_rooms import ContentRoom, ContentRooms, require_event_from
from app.core.errors import Forbidden
from app.core.principal import CaseRole, Principal

SCOPE = "documents"
#: the case's room that holds the documents' events and files
ROOM: ContentRoom = "documents"
READERS: tuple[CaseRole, ...] = ("therapist", "guardian", "caregiver")
SHARERS: tuple[CaseRole, ...] = ("therapist", "guardian")
THERAPISTS: tuple[CaseRole, ...] = ("therapist",)


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
    rooms: ContentRooms,
    conn: AsyncConnection,
    principal: Principal,
    case_id: UUID,
    event_id: str,
    what: str,
) -> None:
    """422 ``content_event_invalid`` unless the calling device sent ``event_id`` to the
    case's documents room."""
    await require_event_from(rooms, conn, principal, case_id, ROOM, event_id, what)
