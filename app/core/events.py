"""The registry of event names, and the notice a domain records with its change.

One place for every name (as Synapse keeps its ``EduTypes``): the live events sent over
the WebSocket (``docs/realtime.md`` lists each with its ids) and the kinds of notice the
notification pipeline sends by push, e-mail or SMS (``docs/notifications.md``). Many
names are both: a cancellation is a live event and an urgent push.

A domain that notifies records a :class:`DomainEvent` through an :class:`EventSink`
inside its own transaction, so the notices commit with the change or not at all, and
wakes the sender after the commit (``app/core/fanout.py`` does both in one place).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

# Live events and notices
DEVICE_LIST_CHANGED = "device_list_changed"
"""live; ids: ``userId`` — whose device list changed (a device added, revoked or re-keyed)."""
ROOM_EVENT_DELIVERED = "room_event_delivered"
"""live; ids: ``roomId``, ``eventId``, ``deviceId`` — a recipient device's sync covered the
sender's room events up to ``eventId`` (to the sender's live devices)."""
APPOINTMENT_SCHEDULED = "appointment_scheduled"
APPOINTMENT_RESCHEDULED = "appointment_rescheduled"
APPOINTMENT_CANCELLED = "appointment_cancelled"
CANCELLATION_SEEN = "cancellation_seen"
HOMEWORK_ASSIGNED = "homework_assigned"
HOMEWORK_CHANGED = "homework_changed"
"""live only"""
HOMEWORK_TICKED = "homework_ticked"
"""live at once; as a notice, the therapists' batched digest"""
HOMEWORK_UNTICKED = "homework_unticked"
"""live only"""
HOMEWORK_SICK_DAY = "homework_sick_day"
"""live only; ids: ``caseId``, ``day`` — a day was marked (or unmarked) as a sick day:
that day's homework changed (docs/homework.md, "Sick days")"""
DOCUMENT_SHARED = "document_shared"
"""live and a notice; ids: ``caseId``, ``documentId``, ``versionId``, ``kind`` — a document
(or a new version of one) was shared in the case (docs/documents.md)"""
DOCUMENT_CHANGED = "document_changed"
"""live only; ids as ``document_shared`` — the therapist marked it given to the doctor (or
not)"""
DOCUMENT_OPENED = "document_opened"
"""live only; ids: ``caseId``, ``documentId``, ``versionId``, ``userId`` — a reader opened a
version for the first time (to its sharer, the "opened by" receipt)"""
DOCUMENT_REQUESTED = "document_requested"
"""live and a notice to the case's therapists; ids: ``caseId``, ``requestId``, ``kind``"""
DOCUMENT_REQUEST_CLOSED = "document_request_closed"
"""live and (when fulfilled) a notice to the family at once; ids: ``caseId``,
``requestId``, ``status`` (``fulfilled`` with ``versionId``, or ``withdrawn``)"""

# Notices only (sent by the reminder jobs)
SESSION_REMINDER = "session_reminder"
PERIOD_SESSIONS_LOW = "period_sessions_low"
PERIOD_ENDING = "period_ending"
HOMEWORK_REMINDER = "homework_reminder"
DOCUMENT_REQUEST_DUE = "document_request_due"
"""a family's request for a document is due within a week (to the case's therapists)"""
CASE_HANDED_OVER = "case_handed_over"
"""an admin moved the case to another therapist (its only therapist left)"""
MESSAGE = "message"
"""something new in the case's family or child room (to its other members; content-free,
at most one per member and room in ``message_notice_minutes``; a sender's client marks
the events that another notice already announces with ``?kaari_notify=0``)"""
PASSWORD_RESET = "password_reset"  # noqa: S105 (an event name)
"""a reset link, by e-mail only, to the address asked for (no preferences apply)"""

NOTICE_KINDS = (
    MESSAGE,
    APPOINTMENT_SCHEDULED,
    APPOINTMENT_RESCHEDULED,
    APPOINTMENT_CANCELLED,
    CANCELLATION_SEEN,
    SESSION_REMINDER,
    PERIOD_SESSIONS_LOW,
    PERIOD_ENDING,
    HOMEWORK_ASSIGNED,
    HOMEWORK_TICKED,
    HOMEWORK_REMINDER,
    DOCUMENT_SHARED,
    DOCUMENT_REQUESTED,
    DOCUMENT_REQUEST_CLOSED,
    DOCUMENT_REQUEST_DUE,
    CASE_HANDED_OVER,
)
"""the kinds a user has notification preferences for"""


@dataclass(frozen=True, slots=True)
class DomainEvent:
    kind: str
    ids: Mapping[str, str | UUID]
    recipients: Sequence[UUID]
    """the users to notify (push, e-mail, SMS); the actor is left out by the caller"""
    case_id: UUID | None = None
    """the case it concerns: the child's quiet hours of this case apply"""
    urgent: bool = field(default=False)
    """a cancellation: push with ``Urgency: high``"""


class EventSink(Protocol):
    async def record(self, conn: AsyncConnection, event: DomainEvent) -> int:
        """Queue the event's notices in the caller's transaction; how many rows."""
        ...

    def wake(self) -> None:
        """After the commit: the sender of this instance looks at the outbox now."""
        ...
