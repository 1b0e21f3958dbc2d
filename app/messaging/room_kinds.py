"""Who is in which room of a case (docs/matrix-api.md, "Rooms").

A case has four rooms, each a Kaari thread with an id derived from the case
(``thread_id_of``): ``family`` (therapists and guardians), ``child`` (also the child),
``homework`` (the case's homework content: therapists, guardians, the child, and the
caregivers a guardian granted the ``homework`` scope) and ``documents`` (the case's
therapy documents: therapists, guardians and the caregivers granted ``documents``; never
the child). The old thread API (``/threads``) knows only ``family`` and ``child``;
``homework`` and ``documents`` are Matrix rooms only, and both also take attachments (a
task's picture or video, a document's file).
"""

from __future__ import annotations

from typing import Literal

from app.cases.service import Membership
from app.core.principal import CaseRole
from app.messaging.service import THREAD_ROLES

RoomKind = Literal["family", "child", "homework", "documents"]
FAMILY: RoomKind = "family"
CHILD: RoomKind = "child"
HOMEWORK: RoomKind = "homework"
DOCUMENTS: RoomKind = "documents"
ROOM_KINDS: tuple[RoomKind, ...] = ("family", "child", "homework", "documents")
ROOM_ROLES: dict[str, tuple[CaseRole, ...]] = {
    **THREAD_ROLES,
    "homework": ("therapist", "guardian", "child", "caregiver"),
    "documents": ("therapist", "guardian", "caregiver"),
}
#: a caregiver is in a room of these kinds only with a guardian's grant of the scope
ROOM_SCOPES: dict[str, str] = {"homework": "homework", "documents": "documents"}
#: the rooms that take encrypted attachments (``POST /threads/{id}/attachments``): the
#: chat threads' files, the documents' files and a homework task's pictures and videos
ATTACHMENT_KINDS: tuple[RoomKind, ...] = ("family", "child", "homework", "documents")


def may_join(kind: str, role: str, scopes: list[str] | None) -> bool:
    """Whether a member with this case role (and caregiver scopes) is in the room."""
    if kind not in ROOM_ROLES or role not in ROOM_ROLES[kind]:
        return False
    scope = ROOM_SCOPES.get(kind)
    return role != "caregiver" or scope is None or scope in (scopes or [])


def room_kinds_for(membership: Membership) -> list[RoomKind]:
    return [k for k in ROOM_KINDS if may_join(k, membership.role, membership.scopes)]
