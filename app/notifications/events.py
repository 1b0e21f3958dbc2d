"""Domain events as the notification pipeline receives them.

Appointments and homework record an event inside their own transaction, so the
notices commit with the change itself or not at all; after the commit they call
``wake()`` so this instance's sender does not wait for its next poll.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

# event kinds: the live event names (docs/realtime.md) and the reminders
APPOINTMENT_SCHEDULED = "appointment_scheduled"
APPOINTMENT_RESCHEDULED = "appointment_rescheduled"
APPOINTMENT_CANCELLED = "appointment_cancelled"
CANCELLATION_SEEN = "cancellation_seen"
SESSION_REMINDER = "session_reminder"
PERIOD_SESSIONS_LOW = "period_sessions_low"
PERIOD_ENDING = "period_ending"
HOMEWORK_ASSIGNED = "homework_assigned"
HOMEWORK_TICKED = "homework_ticked"
HOMEWORK_REMINDER = "homework_reminder"

KINDS = (
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
)


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
