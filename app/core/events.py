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

# Notices only (sent by the reminder jobs)
SESSION_REMINDER = "session_reminder"
PERIOD_SESSIONS_LOW = "period_sessions_low"
PERIOD_ENDING = "period_ending"
HOMEWORK_REMINDER = "homework_reminder"
CASE_HANDED_OVER = "case_handed_over"
"""an admin moved the case to another therapist (its only therapist left)"""
PASSWORD_RESET = "password_reset"  # noqa: S105 (an event name)
"""a reset link, by e-mail only, to the address asked for (no preferences apply)"""

NOTICE_KINDS = (
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
