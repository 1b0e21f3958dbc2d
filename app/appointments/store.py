"""SQL for appointments, their cases and therapists, cancellations and their acks."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.schema import (
    appointment_cases,
    appointment_therapists,
    appointments,
    cancellation_acks,
    cancellations,
    users,
)

Row = sa.Row[*tuple[Any, ...]]


async def insert_appointment(
    conn: AsyncConnection,
    values: dict[str, Any],
    cases: list[dict[str, Any]],
    therapist_ids: Iterable[UUID],
) -> None:
    await conn.execute(appointments.insert().values(**values))
    await conn.execute(
        appointment_cases.insert(), [{"appointment_id": values["id"], **c} for c in cases]
    )
    await conn.execute(
        appointment_therapists.insert(),
        [{"appointment_id": values["id"], "user_id": t} for t in therapist_ids],
    )


async def get_appointment(conn: AsyncConnection, appointment_id: UUID) -> Row | None:
    query = sa.select(appointments).where(appointments.c.id == appointment_id)
    return (await conn.execute(query)).first()


async def get_appointments(conn: AsyncConnection, ids: Collection[UUID]) -> list[Row]:
    if not ids:
        return []
    query = (
        sa.select(appointments)
        .where(appointments.c.id.in_(list(ids)))
        .order_by(appointments.c.starts_at, appointments.c.id)
    )
    return list((await conn.execute(query)).all())


async def attendances(conn: AsyncConnection, ids: Collection[UUID]) -> list[Row]:
    if not ids:
        return []
    query = (
        sa.select(appointment_cases)
        .where(appointment_cases.c.appointment_id.in_(list(ids)))
        .order_by(appointment_cases.c.case_id)
    )
    return list((await conn.execute(query)).all())


async def therapists(conn: AsyncConnection, ids: Collection[UUID]) -> list[Row]:
    if not ids:
        return []
    query = (
        sa.select(appointment_therapists)
        .where(appointment_therapists.c.appointment_id.in_(list(ids)))
        .order_by(appointment_therapists.c.user_id)
    )
    return list((await conn.execute(query)).all())


async def ids_of_cases(
    conn: AsyncConnection, case_ids: Collection[UUID], start: datetime, end: datetime
) -> list[UUID]:
    """Appointments of any of the cases starting in [start, end)."""
    if not case_ids:
        return []
    query = (
        sa.select(appointments.c.id)
        .distinct()
        .join(appointment_cases, appointment_cases.c.appointment_id == appointments.c.id)
        .where(
            appointment_cases.c.case_id.in_(list(case_ids)),
            appointments.c.starts_at >= start,
            appointments.c.starts_at < end,
        )
    )
    return list((await conn.execute(query)).scalars())


async def series_from(conn: AsyncConnection, series_id: UUID, start: datetime) -> list[Row]:
    """The scheduled occurrences of a series from ``start`` on (for a move of the rest)."""
    query = (
        sa.select(appointments)
        .where(
            appointments.c.series_id == series_id,
            appointments.c.starts_at >= start,
            appointments.c.status == "scheduled",
        )
        .order_by(appointments.c.starts_at)
    )
    return list((await conn.execute(query)).all())


async def update_appointment(conn: AsyncConnection, appointment_id: UUID, **values: Any) -> None:
    await conn.execute(
        appointments.update().where(appointments.c.id == appointment_id).values(**values)
    )


async def set_attendance(
    conn: AsyncConnection,
    appointment_id: UUID,
    case_ids: Collection[UUID],
    *,
    from_statuses: Collection[str],
    **values: Any,
) -> int:
    """Change the attendance of these cases if it is in ``from_statuses``; rows changed."""
    result = await conn.execute(
        appointment_cases.update()
        .where(
            appointment_cases.c.appointment_id == appointment_id,
            appointment_cases.c.case_id.in_(list(case_ids)),
            appointment_cases.c.status.in_(list(from_statuses)),
        )
        .values(**values)
    )
    return int(result.rowcount)


async def set_note(
    conn: AsyncConnection, appointment_id: UUID, case_id: UUID, event_id: str
) -> None:
    """The note event of the case's cancellation of the appointment."""
    await conn.execute(
        appointment_cases.update()
        .where(
            appointment_cases.c.appointment_id == appointment_id,
            appointment_cases.c.case_id == case_id,
        )
        .values(note_event_id=event_id)
    )


async def period_tally(
    conn: AsyncConnection, case_id: UUID, start: datetime, end: datetime
) -> dict[tuple[str, bool], int]:
    """(status, late) -> count of the case's attendances starting in [start, end); late is
    the cancellation's flag (False when not cancelled)."""
    late = sa.func.coalesce(cancellations.c.late, sa.false())
    query = (
        sa.select(appointment_cases.c.status, late.label("late"), sa.func.count())
        .select_from(
            appointment_cases.join(
                appointments, appointments.c.id == appointment_cases.c.appointment_id
            ).outerjoin(cancellations, cancellations.c.id == appointment_cases.c.cancellation_id)
        )
        .where(
            appointment_cases.c.case_id == case_id,
            appointments.c.starts_at >= start,
            appointments.c.starts_at < end,
        )
        .group_by(appointment_cases.c.status, late)
    )
    return {(r[0], bool(r[1])): int(r[2]) for r in (await conn.execute(query)).all()}


# cancellations


async def insert_cancellation(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(cancellations.insert().values(**values))


async def get_cancellation(conn: AsyncConnection, cancellation_id: UUID) -> Row | None:
    query = sa.select(cancellations).where(cancellations.c.id == cancellation_id)
    return (await conn.execute(query)).first()


async def insert_ack(conn: AsyncConnection, **values: Any) -> bool:
    """Record that a device has seen a cancellation; False if it had already."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(cancellation_acks)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["cancellation_id", "device_id"])
    )
    return int((await conn.execute(stmt)).rowcount) == 1


async def acks(conn: AsyncConnection, cancellation_id: UUID) -> list[Row]:
    query = (
        sa.select(cancellation_acks, users.c.display_name)
        .join(users, users.c.id == cancellation_acks.c.user_id)
        .where(cancellation_acks.c.cancellation_id == cancellation_id)
        .order_by(cancellation_acks.c.seen_at, cancellation_acks.c.device_id)
    )
    return list((await conn.execute(query)).all())


async def scheduled_between(conn: AsyncConnection, start: datetime, end: datetime) -> list[Row]:
    """(appointment_id, case_id) of the still scheduled attendances of the sessions
    starting in [start, end), in every organisation (for reminders)."""
    query = (
        sa.select(appointment_cases.c.appointment_id, appointment_cases.c.case_id)
        .join(appointments, appointments.c.id == appointment_cases.c.appointment_id)
        .where(
            appointments.c.starts_at >= start,
            appointments.c.starts_at < end,
            appointment_cases.c.status == "scheduled",
        )
        .order_by(appointments.c.starts_at, appointment_cases.c.appointment_id)
    )
    return list((await conn.execute(query)).all())


async def last_start_before(conn: AsyncConnection, case_id: UUID, at: datetime) -> datetime | None:
    """When the case's latest session before ``at`` started (held or still marked
    scheduled; not cancelled, not a no-show)."""
    query = (
        sa.select(sa.func.max(appointments.c.starts_at))
        .select_from(
            appointment_cases.join(
                appointments, appointments.c.id == appointment_cases.c.appointment_id
            )
        )
        .where(
            appointment_cases.c.case_id == case_id,
            appointments.c.starts_at < at,
            appointment_cases.c.status.in_(("scheduled", "completed")),
        )
    )
    value: datetime | None = (await conn.execute(query)).scalar()
    return value
