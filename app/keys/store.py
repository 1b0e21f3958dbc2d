"""SQL for the key directory: device keys, one-time and fallback keys, cross-signing.

Reads ``devices``, ``users``, ``cases`` and ``case_members`` only to filter: live devices,
and users who share a case with the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.schema import (
    case_members,
    cases,
    device_keys,
    device_list_versions,
    device_signatures,
    devices,
    fallback_keys,
    master_keys,
    one_time_keys,
    users,
)

Row = sa.Row[*tuple[Any, ...]]


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


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


async def live_devices_with_keys(
    conn: AsyncConnection, device_ids: Iterable[UUID]
) -> dict[UUID, UUID]:
    """device id -> user id for those ``device_ids`` that are not revoked and have keys."""
    ids = set(device_ids)
    if not ids:
        return {}
    query = (
        sa.select(device_keys.c.device_id, device_keys.c.user_id)
        .join(devices, devices.c.id == device_keys.c.device_id)
        .where(device_keys.c.device_id.in_(ids), devices.c.revoked_at.is_(None))
    )
    return {r.device_id: r.user_id for r in (await conn.execute(query)).all()}


_LIVE_DEVICES_OF_USERS = (
    sa.select(device_keys.c.device_id, device_keys.c.user_id)
    .join(devices, devices.c.id == device_keys.c.device_id)
    .where(
        device_keys.c.user_id.in_(sa.bindparam("user_ids", expanding=True)),
        devices.c.revoked_at.is_(None),
    )
)


async def live_devices_of_users(
    conn: AsyncConnection, user_ids: Iterable[UUID]
) -> dict[UUID, UUID]:
    """device id -> user id of the users' devices that are not revoked and have keys."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    rows = (await conn.execute(_LIVE_DEVICES_OF_USERS, {"user_ids": ids})).all()
    return {r.device_id: r.user_id for r in rows}


# device keys


_DEVICE_KEYS = sa.select(device_keys).where(device_keys.c.device_id == sa.bindparam("device_id"))


async def get_device_keys(conn: AsyncConnection, device_id: UUID) -> Row | None:
    return (await conn.execute(_DEVICE_KEYS, {"device_id": device_id})).first()


async def insert_device_keys(conn: AsyncConnection, **values: Any) -> bool:
    """Insert a device's keys; False if another request stored them first."""
    stmt = _insert(conn, device_keys).values(**values).on_conflict_do_nothing()
    result = await conn.execute(stmt)
    return bool(result.rowcount)


async def bundles_of_users(conn: AsyncConnection, user_ids: Iterable[UUID]) -> list[Row]:
    """Live devices' bundles with their master signature (if any) for these users."""
    ids = set(user_ids)
    if not ids:
        return []
    query = (
        sa.select(
            device_keys.c.user_id,
            device_keys.c.device_id,
            device_keys.c.bundle,
            device_signatures.c.master_ed25519,
            device_signatures.c.signature.label("master_signature"),
        )
        .join(devices, devices.c.id == device_keys.c.device_id)
        .outerjoin(device_signatures, device_signatures.c.device_id == device_keys.c.device_id)
        .where(device_keys.c.user_id.in_(ids), devices.c.revoked_at.is_(None))
        .order_by(device_keys.c.user_id, devices.c.created_at)
    )
    return list((await conn.execute(query)).all())


# one-time keys


async def insert_one_time_keys(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert new keys; a key id the device already uploaded is left alone."""
    if rows:
        stmt = (
            _insert(conn, one_time_keys)
            .values(list(rows))
            .on_conflict_do_nothing(index_elements=["device_id", "key_id"])
        )
        await conn.execute(stmt)


async def one_time_keys_by_id(
    conn: AsyncConnection, device_id: UUID, key_ids: Iterable[str]
) -> dict[str, str]:
    """key id -> key for those of ``key_ids`` the device has uploaded (claimed or not)."""
    ids = set(key_ids)
    if not ids:
        return {}
    query = sa.select(one_time_keys.c.key_id, one_time_keys.c.key).where(
        one_time_keys.c.device_id == device_id, one_time_keys.c.key_id.in_(ids)
    )
    return {r.key_id: r.key for r in (await conn.execute(query)).all()}


async def count_unclaimed(conn: AsyncConnection, device_id: UUID) -> int:
    query = sa.select(sa.func.count()).where(
        one_time_keys.c.device_id == device_id, one_time_keys.c.claimed_at.is_(None)
    )
    return int((await conn.execute(query)).scalar_one())


async def claim_one_time_key(
    conn: AsyncConnection, device_id: UUID, by_device: UUID, at: datetime
) -> Row | None:
    """Hand out the device's oldest unclaimed one-time key, at most once, in one statement.

    PostgreSQL: the inner SELECT locks the row it picks and skips rows another claim holds
    (FOR UPDATE SKIP LOCKED), so concurrent claims never get the same key and never wait on
    each other. SQLite has a single writer (and the app queues writers), so the statement
    runs alone; FOR UPDATE is not rendered there.
    """
    pick = (
        sa.select(one_time_keys.c.id)
        .where(one_time_keys.c.device_id == device_id, one_time_keys.c.claimed_at.is_(None))
        .order_by(one_time_keys.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        one_time_keys.update()
        .where(one_time_keys.c.id == pick, one_time_keys.c.claimed_at.is_(None))
        .values(claimed_at=at, claimed_by=by_device)
        .returning(one_time_keys.c.key_id, one_time_keys.c.key, one_time_keys.c.signature)
    )
    return (await conn.execute(stmt)).first()


# fallback keys


async def get_fallback_key(conn: AsyncConnection, device_id: UUID) -> Row | None:
    return (
        await conn.execute(sa.select(fallback_keys).where(fallback_keys.c.device_id == device_id))
    ).first()


async def put_fallback_key(conn: AsyncConnection, **values: Any) -> None:
    """Store the device's fallback key, replacing (rotating) the previous one."""
    stmt = _insert(conn, fallback_keys).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["device_id"],
        set_={
            "key_id": stmt.excluded.key_id,
            "key": stmt.excluded.key,
            "signature": stmt.excluded.signature,
            "created_at": stmt.excluded.created_at,
            "used_at": None,
        },
    )
    await conn.execute(stmt)


async def mark_fallback_used(conn: AsyncConnection, device_id: UUID, at: datetime) -> None:
    """Note that the fallback key was handed out (it stays valid until the device rotates it)."""
    await conn.execute(
        fallback_keys.update()
        .where(fallback_keys.c.device_id == device_id, fallback_keys.c.used_at.is_(None))
        .values(used_at=at)
    )


# master keys and device signatures


async def get_master_key(conn: AsyncConnection, user_id: UUID) -> Row | None:
    return (
        await conn.execute(sa.select(master_keys).where(master_keys.c.user_id == user_id))
    ).first()


async def insert_master_key(conn: AsyncConnection, **values: Any) -> bool:
    """Insert a user's master key; False if another request stored one first."""
    stmt = _insert(conn, master_keys).values(**values).on_conflict_do_nothing()
    return bool((await conn.execute(stmt)).rowcount)


async def master_keys_of(conn: AsyncConnection, user_ids: Iterable[UUID]) -> dict[UUID, Row]:
    ids = set(user_ids)
    if not ids:
        return {}
    rows = (await conn.execute(sa.select(master_keys).where(master_keys.c.user_id.in_(ids)))).all()
    return {r.user_id: r for r in rows}


async def put_device_signature(conn: AsyncConnection, **values: Any) -> None:
    stmt = _insert(conn, device_signatures).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["device_id"],
        set_={
            "master_ed25519": stmt.excluded.master_ed25519,
            "signature": stmt.excluded.signature,
            "created_at": stmt.excluded.created_at,
        },
    )
    await conn.execute(stmt)


async def get_device_signature(conn: AsyncConnection, device_id: UUID) -> Row | None:
    query = sa.select(device_signatures).where(device_signatures.c.device_id == device_id)
    return (await conn.execute(query)).first()


# device-list versions


async def bump_device_list(conn: AsyncConnection, user_id: UUID, at: datetime) -> int:
    """Increment the user's device-list version (1 for the first change); return it."""
    stmt = _insert(conn, device_list_versions).values(user_id=user_id, version=1, updated_at=at)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id"],
        set_={"version": device_list_versions.c.version + 1, "updated_at": at},
    ).returning(device_list_versions.c.version)
    return int((await conn.execute(stmt)).scalar_one())


async def device_list_versions_of(
    conn: AsyncConnection, user_ids: Iterable[UUID]
) -> dict[UUID, int]:
    ids = set(user_ids)
    if not ids:
        return {}
    query = sa.select(device_list_versions.c.user_id, device_list_versions.c.version).where(
        device_list_versions.c.user_id.in_(ids)
    )
    return {r.user_id: int(r.version) for r in (await conn.execute(query)).all()}
