"""SQL for cases, members and therapy periods."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.schema import case_members, cases, therapy_periods, users

Row = sa.Row[*tuple[Any, ...]]

_child = users.alias("child")


async def insert_case(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(cases.insert().values(**values))


async def insert_member(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(case_members.insert().values(**values))


# built once: every access check of every domain runs it
_MEMBERSHIP = (
    sa.select(
        cases.c.id,
        cases.c.org_id,
        cases.c.child_user_id,
        cases.c.created_at,
        cases.c.closed_at,
        _child.c.display_name.label("child_name"),
        case_members.c.role,
        case_members.c.scopes,
    )
    .join(case_members, case_members.c.case_id == cases.c.id)
    .outerjoin(_child, _child.c.id == cases.c.child_user_id)
    .where(cases.c.id == sa.bindparam("case_id"), case_members.c.user_id == sa.bindparam("user_id"))
)


async def membership(conn: AsyncConnection, case_id: UUID, user_id: UUID) -> Row | None:
    """The case (with its child's name) and the user's membership in it, or None."""
    params = {"case_id": case_id, "user_id": user_id}
    return (await conn.execute(_MEMBERSHIP, params)).first()


async def cases_of_user(conn: AsyncConnection, user_id: UUID) -> list[Row]:
    query = (
        sa.select(
            cases.c.id,
            cases.c.org_id,
            cases.c.child_user_id,
            cases.c.created_at,
            cases.c.closed_at,
            _child.c.display_name.label("child_name"),
            case_members.c.role,
            case_members.c.scopes,
        )
        .join(case_members, case_members.c.case_id == cases.c.id)
        .outerjoin(_child, _child.c.id == cases.c.child_user_id)
        .where(case_members.c.user_id == user_id)
        .order_by(_child.c.display_name, cases.c.created_at)
    )
    return list((await conn.execute(query)).all())


async def members(conn: AsyncConnection, case_id: UUID) -> list[Row]:
    query = (
        sa.select(
            case_members.c.user_id,
            case_members.c.role,
            case_members.c.scopes,
            case_members.c.added_at,
            users.c.display_name,
        )
        .join(users, users.c.id == case_members.c.user_id)
        .where(case_members.c.case_id == case_id)
        .order_by(case_members.c.role, users.c.display_name)
    )
    return list((await conn.execute(query)).all())


_ACTIVE_MEMBERS = (
    sa.select(case_members.c.user_id, case_members.c.role)
    .join(users, users.c.id == case_members.c.user_id)
    .where(
        case_members.c.case_id == sa.bindparam("case_id"),
        case_members.c.role.in_(sa.bindparam("roles", expanding=True)),
        users.c.disabled_at.is_(None),
    )
)


async def active_member_ids(
    conn: AsyncConnection, case_id: UUID, roles: Collection[str]
) -> list[Row]:
    """(user_id, role) of members in ``roles`` whose accounts are active."""
    params = {"case_id": case_id, "roles": list(roles)}
    return list((await conn.execute(_ACTIVE_MEMBERS, params)).all())


async def count_role(conn: AsyncConnection, case_id: UUID, role: str) -> int:
    """Members of the case in ``role`` whose accounts are active (not disabled)."""
    query = (
        sa.select(sa.func.count())
        .select_from(case_members.join(users, users.c.id == case_members.c.user_id))
        .where(
            case_members.c.case_id == case_id,
            case_members.c.role == role,
            users.c.disabled_at.is_(None),
        )
    )
    return int((await conn.execute(query)).scalar_one())


async def delete_member(conn: AsyncConnection, case_id: UUID, user_id: UUID) -> None:
    await conn.execute(
        case_members.delete().where(
            case_members.c.case_id == case_id, case_members.c.user_id == user_id
        )
    )


async def set_scopes(
    conn: AsyncConnection, case_id: UUID, user_id: UUID, scopes: list[str]
) -> None:
    await conn.execute(
        case_members.update()
        .where(case_members.c.case_id == case_id, case_members.c.user_id == user_id)
        .values(scopes=scopes)
    )


# therapy periods


async def insert_period(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(therapy_periods.insert().values(**values))


async def get_period(conn: AsyncConnection, case_id: UUID, period_id: UUID) -> Row | None:
    query = sa.select(therapy_periods).where(
        therapy_periods.c.id == period_id, therapy_periods.c.case_id == case_id
    )
    return (await conn.execute(query)).first()


async def list_periods(conn: AsyncConnection, case_id: UUID) -> list[Row]:
    query = (
        sa.select(therapy_periods)
        .where(therapy_periods.c.case_id == case_id)
        .order_by(therapy_periods.c.starts_on)
    )
    return list((await conn.execute(query)).all())


async def update_period(
    conn: AsyncConnection, case_id: UUID, period_id: UUID, **values: Any
) -> None:
    await conn.execute(
        therapy_periods.update()
        .where(therapy_periods.c.id == period_id, therapy_periods.c.case_id == case_id)
        .values(**values)
    )


async def periods_covering(conn: AsyncConnection, day: date) -> list[Row]:
    """The therapy periods of open cases that cover ``day``, with the case's org_id."""
    query = (
        sa.select(therapy_periods, cases.c.org_id)
        .join(cases, cases.c.id == therapy_periods.c.case_id)
        .where(
            therapy_periods.c.starts_on <= day,
            therapy_periods.c.ends_on >= day,
            cases.c.closed_at.is_(None),
        )
        .order_by(therapy_periods.c.ends_on, therapy_periods.c.id)
    )
    return list((await conn.execute(query)).all())


async def close_case(conn: AsyncConnection, case_id: UUID, at: datetime) -> bool:
    """Close the case unless it is closed already; whether this call closed it."""
    query = (
        cases.update()
        .where(cases.c.id == case_id, cases.c.closed_at.is_(None))
        .values(closed_at=at)
    )
    return bool((await conn.execute(query)).rowcount)


async def get_case(conn: AsyncConnection, case_id: UUID) -> Row | None:
    return (await conn.execute(sa.select(cases).where(cases.c.id == case_id))).first()
