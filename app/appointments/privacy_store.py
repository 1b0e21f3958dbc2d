"""The appointments domain's section of the GDPR export: the appointments of the user's
cases (and those a therapist runs), their per-case status and the ids of their details
and note events (the events are the messaging section's), the cancellations the user made
and the notices they acknowledged, and the calendar feed they set up (without its token)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.export import ExportSubject, Section
from app.storage.export import table_rows
from app.storage.schema import (
    appointment_cases,
    appointment_therapists,
    appointments,
    calendar_tokens,
    cancellation_acks,
    cancellations,
)


async def export(conn: AsyncConnection, subject: ExportSubject) -> Section:
    user = subject.user_id
    of_cases = sa.select(appointment_cases.c.appointment_id).where(
        appointment_cases.c.case_id.in_(subject.case_ids)
    )
    run_by = sa.select(appointment_therapists.c.appointment_id).where(
        appointment_therapists.c.user_id == user
    )
    mine = sa.or_(appointments.c.id.in_(of_cases), appointments.c.id.in_(run_by))
    return {
        "appointments": await table_rows(conn, appointments, mine),
        "appointmentCases": await table_rows(
            conn, appointment_cases, appointment_cases.c.case_id.in_(subject.case_ids)
        ),
        "cancellationsMade": await table_rows(
            conn, cancellations, cancellations.c.cancelled_by == user
        ),
        "cancellationsSeen": await table_rows(
            conn, cancellation_acks, cancellation_acks.c.user_id == user
        ),
        "calendarFeed": await table_rows(
            conn, calendar_tokens, calendar_tokens.c.user_id == user, omit={"token_hash"}
        ),
    }


async def erase(conn: AsyncConnection, subject: ExportSubject, now: datetime) -> None:
    """A cancellation stays (it counts in the period's accounting) without its note; the
    notices the user acknowledged and their calendar feed go."""
    user = subject.user_id
    made = sa.select(cancellations.c.id).where(cancellations.c.cancelled_by == user)
    await conn.execute(
        appointment_cases.update()
        .where(appointment_cases.c.cancellation_id.in_(made))
        .values(note_event_id=None)
    )
    await conn.execute(cancellation_acks.delete().where(cancellation_acks.c.user_id == user))
    await conn.execute(calendar_tokens.delete().where(calendar_tokens.c.user_id == user))


async def erase_case(conn: AsyncConnection, case_id: UUID, now: datetime) -> None:
    """The case's appointments and cancellations stay (times, statuses, who cancelled:
    the period's accounting) without the ids of their details and note events."""
    await conn.execute(
        appointment_cases.update()
        .where(appointment_cases.c.case_id == case_id)
        .values(details_event_id=None, note_event_id=None)
    )
