"""The cases domain's section of the GDPR export: the user's memberships, and for a family
member the cases they are in (the case record and its therapy periods)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.export import ExportSubject, Section
from app.storage.export import table_rows
from app.storage.schema import case_members, cases, invites, pairing_codes, therapy_periods


async def export(conn: AsyncConnection, subject: ExportSubject) -> Section:
    ids = subject.case_ids
    return {
        "memberships": await table_rows(
            conn, case_members, case_members.c.user_id == subject.user_id
        ),
        "cases": await table_rows(conn, cases, cases.c.id.in_(ids)),
        "therapyPeriods": await table_rows(
            conn, therapy_periods, therapy_periods.c.case_id.in_(ids)
        ),
    }


async def case_ids(conn: AsyncConnection, user_id: UUID) -> frozenset[UUID]:
    """The cases the user is a member of, or the child of."""
    members = sa.select(case_members.c.case_id).where(case_members.c.user_id == user_id)
    children = sa.select(cases.c.id).where(cases.c.child_user_id == user_id)
    rows = (await conn.execute(sa.union(members, children))).scalars().all()
    return frozenset(rows)


async def erase(conn: AsyncConnection, subject: ExportSubject, now: datetime) -> None:
    """The user leaves every case (their rooms follow the case: they leave those too)."""
    await conn.execute(case_members.delete().where(case_members.c.user_id == subject.user_id))


async def case_row(conn: AsyncConnection, case_id: UUID) -> Any:
    """(org_id, child_user_id, closed_at) of the case."""
    query = sa.select(cases.c.org_id, cases.c.child_user_id, cases.c.closed_at).where(
        cases.c.id == case_id
    )
    return (await conn.execute(query)).first()


async def case_member_ids(conn: AsyncConnection, case_id: UUID) -> set[UUID]:
    query = sa.select(case_members.c.user_id).where(case_members.c.case_id == case_id)
    return set((await conn.execute(query)).scalars().all())


async def erase_case(conn: AsyncConnection, case_id: UUID, now: datetime) -> None:
    """Every member leaves; the case's invites and pairing codes go. The case row (its id,
    organisation and dates) and its therapy periods stay: the organisation's accounting."""
    await conn.execute(case_members.delete().where(case_members.c.case_id == case_id))
    await conn.execute(invites.delete().where(invites.c.case_id == case_id))
    await conn.execute(pairing_codes.delete().where(pairing_codes.c.case_id == case_id))
