"""SQL for homework tasks, ticks, sick days and the daily reminder times."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.schema import (
    cases,
    homework_reminders,
    homework_sick_days,
    homework_tasks,
    homework_ticks,
)

Row = sa.Row[*tuple[Any, ...]]


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


# tasks


async def insert_task(conn: AsyncConnection, **values: Any) -> bool:
    """Insert unless the id exists; whether it was inserted (a retried create races)."""
    query = _insert(conn, homework_tasks).values(**values).on_conflict_do_nothing()
    return bool((await conn.execute(query)).rowcount)


async def get_task(conn: AsyncConnection, task_id: UUID, *, lock: bool = False) -> Row | None:
    query = sa.select(homework_tasks).where(homework_tasks.c.id == task_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def tasks_of_cases(
    conn: AsyncConnection, case_ids: Collection[UUID], status: str | None = None
) -> list[Row]:
    if not case_ids:
        return []
    query = sa.select(homework_tasks).where(homework_tasks.c.case_id.in_(list(case_ids)))
    if status is not None:
        query = query.where(homework_tasks.c.status == status)
    query = query.order_by(homework_tasks.c.created_at, homework_tasks.c.id)
    return list((await conn.execute(query)).all())


async def update_task(conn: AsyncConnection, task_id: UUID, **values: Any) -> None:
    await conn.execute(
        homework_tasks.update().where(homework_tasks.c.id == task_id).values(**values)
    )


# ticks


async def insert_tick(conn: AsyncConnection, **values: Any) -> bool:
    """Insert unless the day is ticked already; whether it was inserted."""
    query = _insert(conn, homework_ticks).values(**values).on_conflict_do_nothing()
    return bool((await conn.execute(query)).rowcount)


async def get_tick(conn: AsyncConnection, task_id: UUID, day: date) -> Row | None:
    query = sa.select(homework_ticks).where(
        homework_ticks.c.task_id == task_id, homework_ticks.c.day == day
    )
    return (await conn.execute(query)).first()


async def delete_tick(conn: AsyncConnection, task_id: UUID, day: date) -> int:
    query = homework_ticks.delete().where(
        homework_ticks.c.task_id == task_id, homework_ticks.c.day == day
    )
    return int((await conn.execute(query)).rowcount)


async def ticks(
    conn: AsyncConnection,
    task_ids: Collection[UUID],
    first: date | None = None,
    last: date | None = None,
) -> list[Row]:
    if not task_ids:
        return []
    query = sa.select(homework_ticks).where(homework_ticks.c.task_id.in_(list(task_ids)))
    if first is not None:
        query = query.where(homework_ticks.c.day >= first)
    if last is not None:
        query = query.where(homework_ticks.c.day <= last)
    query = query.order_by(homework_ticks.c.day, homework_ticks.c.task_id)
    return list((await conn.execute(query)).all())


async def tick_days(
    conn: AsyncConnection, task_ids: Collection[UUID], since: date | None = None
) -> dict[UUID, set[date]]:
    """task id -> the days ticked (from ``since`` on): progress needs nothing else."""
    result: dict[UUID, set[date]] = {t: set() for t in task_ids}
    if not task_ids:
        return result
    query = sa.select(homework_ticks.c.task_id, homework_ticks.c.day).where(
        homework_ticks.c.task_id.in_(list(task_ids))
    )
    if since is not None:
        query = query.where(homework_ticks.c.day >= since)
    for row in (await conn.execute(query)).all():
        result[row.task_id].add(row.day)
    return result


async def unnotified_cases(conn: AsyncConnection, received_before: datetime) -> list[UUID]:
    """Cases with a tick not yet covered by a therapists' digest, the oldest received
    before ``received_before``."""
    query = (
        sa.select(homework_ticks.c.case_id)
        .where(
            homework_ticks.c.notified_at.is_(None),
            homework_ticks.c.received_at < received_before,
        )
        .distinct()
    )
    return [r.case_id for r in (await conn.execute(query)).all()]


async def mark_notified(conn: AsyncConnection, case_id: UUID, at: datetime) -> int:
    """Claim the case's un-notified ticks for one digest; how many (0: another instance
    took them first)."""
    query = (
        homework_ticks.update()
        .where(homework_ticks.c.case_id == case_id, homework_ticks.c.notified_at.is_(None))
        .values(notified_at=at)
    )
    return int((await conn.execute(query)).rowcount)


# sick days


async def sick_days(
    conn: AsyncConnection,
    case_ids: Collection[UUID],
    first: date | None = None,
    last: date | None = None,
) -> dict[UUID, frozenset[date]]:
    """case id -> its sick days in [first, last] (every case of ``case_ids`` is a key)."""
    found: dict[UUID, set[date]] = {c: set() for c in case_ids}
    if not found:
        return {}
    t = homework_sick_days
    query = sa.select(t.c.case_id, t.c.day).where(t.c.case_id.in_(list(found)))
    if first is not None:
        query = query.where(t.c.day >= first)
    if last is not None:
        query = query.where(t.c.day <= last)
    for case_id, day in (await conn.execute(query)).all():
        found[case_id].add(day)
    return {c: frozenset(days) for c, days in found.items()}


async def mark_sick_day(
    conn: AsyncConnection, case_id: UUID, day: date, by: UUID, at: datetime
) -> bool:
    """Mark it; False when it already was (a retry)."""
    query = _insert(conn, homework_sick_days).values(
        case_id=case_id, day=day, marked_by=by, marked_at=at
    )
    return bool((await conn.execute(query.on_conflict_do_nothing())).rowcount)


async def unmark_sick_day(conn: AsyncConnection, case_id: UUID, day: date) -> bool:
    t = homework_sick_days
    result = await conn.execute(t.delete().where(t.c.case_id == case_id, t.c.day == day))
    return bool(result.rowcount)


# the daily reminder


async def get_reminder(conn: AsyncConnection, case_id: UUID) -> Row | None:
    query = sa.select(homework_reminders).where(homework_reminders.c.case_id == case_id)
    return (await conn.execute(query)).first()


async def set_reminder(
    conn: AsyncConnection, case_id: UUID, minute: int | None, set_by: UUID, at: datetime
) -> None:
    await conn.execute(homework_reminders.delete().where(homework_reminders.c.case_id == case_id))
    if minute is not None:
        await conn.execute(
            homework_reminders.insert().values(
                case_id=case_id, minute=minute, set_by=set_by, updated_at=at
            )
        )


async def reminders_due(conn: AsyncConnection, up_to_minute: int) -> list[Row]:
    """The open cases whose reminder time (local minute of the day) has come."""
    closed = sa.select(cases.c.id).where(cases.c.closed_at.is_not(None))
    query = sa.select(homework_reminders).where(
        homework_reminders.c.minute <= up_to_minute, homework_reminders.c.case_id.not_in(closed)
    )
    return list((await conn.execute(query)).all())


# retention (read-joins cases for when a case was closed)


async def delete_of_closed_cases(
    conn: AsyncConnection, closed_before: datetime, limit: int
) -> tuple[int, int]:
    """Delete up to ``limit`` tasks, with their ticks, of the cases closed at or before
    ``closed_before``, and those cases' reminder times; (tasks, ticks) deleted. The tasks
    are claimed first (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two instances
    deleting at once take different tasks and never wait on each other."""
    closed = sa.select(cases.c.id).where(cases.c.closed_at <= closed_before)
    query = (
        sa.select(homework_tasks.c.id)
        .where(homework_tasks.c.case_id.in_(closed))
        .order_by(homework_tasks.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list((await conn.execute(query)).scalars())
    await conn.execute(homework_reminders.delete().where(homework_reminders.c.case_id.in_(closed)))
    await conn.execute(homework_sick_days.delete().where(homework_sick_days.c.case_id.in_(closed)))
    if not ids:
        return 0, 0
    # on SQLite another instance may have deleted them meanwhile: count what went
    ticks = await conn.execute(homework_ticks.delete().where(homework_ticks.c.task_id.in_(ids)))
    tasks = await conn.execute(homework_tasks.delete().where(homework_tasks.c.id.in_(ids)))
    return int(tasks.rowcount or 0), int(ticks.rowcount or 0)
