"""Where a case's end-to-end encrypted content lives: Megolm events of the case's rooms.

Records of other domains (a homework task, a tick's note, an appointment's details, a
cancellation's note) hold only the id of such an event. The domain asks app/messaging,
through :class:`ContentRooms` handed in at construction, whether an id names an
encrypted event of the right room of the case sent by the calling device; the server
never opens the event. Which room holds what (docs/protocol.md, "Case content"):

* ``homework``: task content and tick notes (everyone who sees the case's homework);
* ``family``: appointment details and cancellation notes (the case's guardians and
  therapists, the people who arrange sessions);
* ``documents``: a therapy document's title, file name, media type and key, and a
  request's note, with the document's file an attachment of the same room (the case's
  therapists and guardians, and the caregivers a guardian granted ``documents``).
"""

from __future__ import annotations

from typing import Annotated, Literal, Protocol
from uuid import UUID

from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.errors import InvalidInput
from app.core.principal import Principal

ContentRoom = Literal["family", "homework", "documents"]
#: the id of an event in one of a case's rooms (as Kaari's rooms make them)
EventId = Annotated[str, Meta(min_length=2, max_length=255, pattern=r"^\$[A-Za-z0-9_-]+$")]


class ContentRooms(Protocol):
    """The case's rooms (app/messaging answers; no other package reads their tables)."""

    def content_room(self, case_id: UUID, kind: ContentRoom) -> str:
        """The Matrix id of the case's room of this kind."""
        ...

    async def event_from(
        self, conn: AsyncConnection, case_id: UUID, kind: ContentRoom, event_id: str,
        device_id: UUID,
    ) -> bool:  # fmt: skip
        """Is ``event_id`` an encrypted event of the case's room of this kind sent by
        this device?"""
        ...

    async def keep_file(
        self, conn: AsyncConnection, case_id: UUID, kind: ContentRoom, blob_id: UUID,
        device_id: UUID,
    ) -> int | None:  # fmt: skip
        """The size of ``blob_id`` if it is a live attachment this device uploaded to the
        case's room of this kind (None otherwise); it is then kept as long as the room's
        events (a record's file outlives the 30 days of a message's file)."""
        ...


async def require_event_from(
    rooms: ContentRooms,
    conn: AsyncConnection,
    principal: Principal,
    case_id: UUID,
    kind: ContentRoom,
    event_id: str,
    what: str,
) -> None:
    """422 ``content_event_invalid`` unless ``event_id`` is an event the calling device
    sent to the case's room of this kind (so nobody points a record at someone else's
    event, another room's or another case's)."""
    if not await rooms.event_from(conn, case_id, kind, event_id, principal.device_id):
        raise InvalidInput(
            f"The {what} must be an event this device sent to the case's {kind} room",
            code="content_event_invalid",
        )
