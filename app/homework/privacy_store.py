"""The homework domain's section of the GDPR export: the tasks of the user's cases and the
tasks they set (schedule, status and the id of their content event in the case's
homework room), the ticks in those cases and their own (the id of their note event),
and the reminder times of the cases or set by them. The events themselves are in the
messaging section."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.export import ExportSubject, Section
from app.storage.export import table_rows
from app.storage.schema import (
    homework_reminders,
    homework_sick_days,
    homework_tasks,
    homework_ticks,
)


async def export(conn: AsyncConnection, subject: ExportSubject) -> Section:
    ids, user = subject.case_ids, subject.user_id
    tasks = sa.or_(homework_tasks.c.case_id.in_(ids), homework_tasks.c.created_by == user)
    ticks = sa.or_(homework_ticks.c.case_id.in_(ids), homework_ticks.c.user_id == user)
    reminders = sa.or_(homework_reminders.c.case_id.in_(ids), homework_reminders.c.set_by == user)
    return {
        "tasks": await table_rows(conn, homework_tasks, tasks),
        "ticks": await table_rows(conn, homework_ticks, ticks),
        "reminders": await table_rows(conn, homework_reminders, reminders),
        "sickDays": await table_rows(
            conn,
            homework_sick_days,
            sa.or_(homework_sick_days.c.case_id.in_(ids), homework_sick_days.c.marked_by == user),
        ),
    }


async def erase(conn: AsyncConnection, subject: ExportSubject, now: datetime) -> None:
    """A tick the user made stays (the child's progress) without its note."""
    await conn.execute(
        homework_ticks.update()
        .where(homework_ticks.c.user_id == subject.user_id)
        .values(note_event_id=None)
    )


async def erase_case(conn: AsyncConnection, case_id: UUID, now: datetime) -> None:
    """The case's tasks, ticks, sick days and reminder time go."""
    await conn.execute(homework_ticks.delete().where(homework_ticks.c.case_id == case_id))
    await conn.execute(homework_tasks.delete().where(homework_tasks.c.case_id == case_id))
    await conn.execute(homework_reminders.delete().where(homework_reminders.c.case_id == case_id))
    await conn.execute(homework_sick_days.delete().where(homework_sick_days.c.case_id == case_id))
