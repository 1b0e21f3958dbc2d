"""SQL for the key directory's audience: who shares an open case with whom. The keys
themselves are in ``matrix_store``.

Reads ``users``, ``cases`` and ``case_members`` only to filter.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.schema import case_members, cases, users

# who may see whom


async def reachable_users(
    conn: AsyncConnection, me: UUID, org_id: UUID, user_ids: Iterable[UUID]
) -> set[UUID]:
    """Those of ``user_ids`` that share an open case (of ``org_id``) with ``me``, plus ``me``.

    Disabled users are left out.
    """
    wanted = set(user_ids)
    if not wanted:
        return set()
    mine = case_members.alias("mine")
    theirs = case_members.alias("theirs")
    query = (
        sa.select(theirs.c.user_id)
        .distinct()
        .select_from(mine)
        .join(theirs, theirs.c.case_id == mine.c.case_id)
        .join(cases, cases.c.id == mine.c.case_id)
        .join(users, users.c.id == theirs.c.user_id)
        .where(
            mine.c.user_id == me,
            theirs.c.user_id.in_(wanted),
            cases.c.org_id == org_id,
            cases.c.closed_at.is_(None),
            users.c.disabled_at.is_(None),
        )
    )
    found = set((await conn.execute(query)).scalars())
    if me in wanted:
        found.add(me)
    return found


async def co_member_users(conn: AsyncConnection, user_id: UUID) -> set[UUID]:
    """Users who share an open case with ``user_id`` (and the user itself)."""
    mine = case_members.alias("mine")
    theirs = case_members.alias("theirs")
    query = (
        sa.select(theirs.c.user_id)
        .distinct()
        .select_from(mine)
        .join(theirs, theirs.c.case_id == mine.c.case_id)
        .join(cases, cases.c.id == mine.c.case_id)
        .where(mine.c.user_id == user_id, cases.c.closed_at.is_(None))
    )
    return set((await conn.execute(query)).scalars()) | {user_id}
