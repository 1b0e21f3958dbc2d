"""SQL of the Matrix-shaped key directory: device keys, one-time and fallback keys,
cross-signing keys, signatures and the device-list stream (app/storage/schema_matrix.py).

Reads ``devices`` (accounts) to leave revoked devices out; writes only its own tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.schema import devices
from app.storage.schema_matrix import (
    mx_cross_signing_keys,
    mx_device_keys,
    mx_device_list_changes,
    mx_fallback_keys,
    mx_key_signatures,
    mx_one_time_keys,
)
from app.storage.streams import DEVICE_LISTS, lock_stream

Row = sa.Row[*tuple[Any, ...]]


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# devices


async def live_devices_of_users(
    conn: AsyncConnection, user_ids: Iterable[UUID]
) -> dict[UUID, UUID]:
    """device id -> user id of every signed-in (not revoked) device of the users, keyed
    or not: the devices to wake when something they sync changed."""
    ids = set(user_ids)
    if not ids:
        return {}
    query = sa.select(devices.c.id, devices.c.user_id).where(
        devices.c.user_id.in_(ids), devices.c.revoked_at.is_(None)
    )
    return {r.id: r.user_id for r in (await conn.execute(query)).all()}


# device keys


async def get_device_keys(conn: AsyncConnection, device_id: UUID) -> Row | None:
    query = sa.select(mx_device_keys).where(mx_device_keys.c.device_id == device_id)
    return (await conn.execute(query)).first()


async def insert_device_keys(conn: AsyncConnection, **values: Any) -> bool:
    stmt = _insert(conn, mx_device_keys).values(**values).on_conflict_do_nothing()
    return bool((await conn.execute(stmt)).rowcount)


async def keys_created_at(conn: AsyncConnection, device_id: UUID) -> datetime | None:
    """When the device first uploaded its device keys (``None``: it has none)."""
    query = sa.select(mx_device_keys.c.created_at).where(mx_device_keys.c.device_id == device_id)
    value: datetime | None = (await conn.execute(query)).scalar()
    return value


async def device_keys_of_users(conn: AsyncConnection, user_ids: Iterable[UUID]) -> list[Row]:
    """The live devices' keys of these users (with the device's name), oldest first."""
    ids = set(user_ids)
    if not ids:
        return []
    query = (
        sa.select(
            mx_device_keys.c.user_id,
            mx_device_keys.c.device_id,
            mx_device_keys.c.curve25519,
            mx_device_keys.c.ed25519,
            mx_device_keys.c.key_json,
            devices.c.name,
        )
        .join(devices, devices.c.id == mx_device_keys.c.device_id)
        .where(mx_device_keys.c.user_id.in_(ids), devices.c.revoked_at.is_(None))
        .order_by(mx_device_keys.c.user_id, devices.c.created_at, mx_device_keys.c.device_id)
    )
    return list((await conn.execute(query)).all())


async def live_keyed_devices(conn: AsyncConnection, device_ids: Iterable[UUID]) -> dict[UUID, Row]:
    ids = set(device_ids)
    if not ids:
        return {}
    query = (
        sa.select(mx_device_keys)
        .join(devices, devices.c.id == mx_device_keys.c.device_id)
        .where(mx_device_keys.c.device_id.in_(ids), devices.c.revoked_at.is_(None))
    )
    return {r.device_id: r for r in (await conn.execute(query)).all()}


# one-time keys


async def insert_one_time_keys(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        stmt = (
            _insert(conn, mx_one_time_keys)
            .values(list(rows))
            .on_conflict_do_nothing(index_elements=["device_id", "algorithm", "key_id"])
        )
        await conn.execute(stmt)


async def one_time_keys_by_id(
    conn: AsyncConnection, device_id: UUID, algorithm: str, key_ids: Iterable[str]
) -> dict[str, Any]:
    ids = set(key_ids)
    if not ids:
        return {}
    query = sa.select(mx_one_time_keys.c.key_id, mx_one_time_keys.c.key_json).where(
        mx_one_time_keys.c.device_id == device_id,
        mx_one_time_keys.c.algorithm == algorithm,
        mx_one_time_keys.c.key_id.in_(ids),
    )
    return {r.key_id: r.key_json for r in (await conn.execute(query)).all()}


async def unclaimed_counts(conn: AsyncConnection, device_id: UUID) -> dict[str, int]:
    query = (
        sa.select(mx_one_time_keys.c.algorithm, sa.func.count())
        .where(mx_one_time_keys.c.device_id == device_id, mx_one_time_keys.c.claimed_at.is_(None))
        .group_by(mx_one_time_keys.c.algorithm)
    )
    return {r[0]: int(r[1]) for r in (await conn.execute(query)).all()}


async def claim_one_time_key(
    conn: AsyncConnection, device_id: UUID, algorithm: str, by_device: UUID, at: datetime
) -> Row | None:
    """Hand out the device's oldest unclaimed key, at most once, in one statement.

    PostgreSQL: the inner SELECT locks the row it picks and skips rows another claim holds
    (FOR UPDATE SKIP LOCKED), so concurrent claims never get the same key and never wait;
    SQLite runs one writer at a time (FOR UPDATE is not rendered there)."""
    pick = (
        sa.select(mx_one_time_keys.c.id)
        .where(
            mx_one_time_keys.c.device_id == device_id,
            mx_one_time_keys.c.algorithm == algorithm,
            mx_one_time_keys.c.claimed_at.is_(None),
        )
        .order_by(mx_one_time_keys.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        mx_one_time_keys.update()
        .where(mx_one_time_keys.c.id == pick, mx_one_time_keys.c.claimed_at.is_(None))
        .values(claimed_at=at, claimed_by=by_device)
        .returning(mx_one_time_keys.c.key_id, mx_one_time_keys.c.key_json)
    )
    return (await conn.execute(stmt)).first()


# fallback keys


async def get_fallback_key(conn: AsyncConnection, device_id: UUID, algorithm: str) -> Row | None:
    query = sa.select(mx_fallback_keys).where(
        mx_fallback_keys.c.device_id == device_id, mx_fallback_keys.c.algorithm == algorithm
    )
    return (await conn.execute(query)).first()


async def put_fallback_key(conn: AsyncConnection, **values: Any) -> None:
    stmt = _insert(conn, mx_fallback_keys).values(**values, used_at=None)
    stmt = stmt.on_conflict_do_update(
        index_elements=["device_id", "algorithm"],
        set_={
            "key_id": stmt.excluded.key_id,
            "key_json": stmt.excluded.key_json,
            "created_at": stmt.excluded.created_at,
            "used_at": None,
        },
    )
    await conn.execute(stmt)


async def mark_fallback_used(
    conn: AsyncConnection, device_id: UUID, algorithm: str, at: datetime
) -> None:
    await conn.execute(
        mx_fallback_keys.update()
        .where(
            mx_fallback_keys.c.device_id == device_id,
            mx_fallback_keys.c.algorithm == algorithm,
            mx_fallback_keys.c.used_at.is_(None),
        )
        .values(used_at=at)
    )


async def unused_fallback_algorithms(conn: AsyncConnection, device_id: UUID) -> list[str]:
    query = (
        sa.select(mx_fallback_keys.c.algorithm)
        .where(mx_fallback_keys.c.device_id == device_id, mx_fallback_keys.c.used_at.is_(None))
        .order_by(mx_fallback_keys.c.algorithm)
    )
    return list((await conn.execute(query)).scalars())


# cross-signing keys and signatures


async def cross_signing_keys_of(conn: AsyncConnection, user_ids: Iterable[UUID]) -> list[Row]:
    ids = set(user_ids)
    if not ids:
        return []
    query = sa.select(mx_cross_signing_keys).where(mx_cross_signing_keys.c.user_id.in_(ids))
    return list((await conn.execute(query)).all())


async def put_cross_signing_key(conn: AsyncConnection, **values: Any) -> None:
    stmt = _insert(conn, mx_cross_signing_keys).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id", "usage"],
        set_={
            "ed25519": stmt.excluded.ed25519,
            "key_json": stmt.excluded.key_json,
            "created_at": stmt.excluded.created_at,
        },
    )
    await conn.execute(stmt)


async def delete_signatures_by(conn: AsyncConnection, signer_user_id: UUID, key_id: str) -> None:
    """Drop what a replaced key signed (its signatures no longer mean anything)."""
    await conn.execute(
        mx_key_signatures.delete().where(
            mx_key_signatures.c.signer_user_id == signer_user_id,
            mx_key_signatures.c.signer_key_id == key_id,
        )
    )


async def put_signature(conn: AsyncConnection, **values: Any) -> bool:
    """Store one verified signature; False if the same one was stored already."""
    query = sa.select(mx_key_signatures.c.signature).where(
        mx_key_signatures.c.target_user_id == values["target_user_id"],
        mx_key_signatures.c.target_key_id == values["target_key_id"],
        mx_key_signatures.c.signer_user_id == values["signer_user_id"],
        mx_key_signatures.c.signer_key_id == values["signer_key_id"],
    )
    current = (await conn.execute(query)).scalar()
    if current == values["signature"]:
        return False
    stmt = _insert(conn, mx_key_signatures).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["target_user_id", "target_key_id", "signer_user_id", "signer_key_id"],
        set_={"signature": stmt.excluded.signature, "created_at": stmt.excluded.created_at},
    )
    await conn.execute(stmt)
    return True


async def signatures_on(conn: AsyncConnection, target_user_ids: Iterable[UUID]) -> list[Row]:
    ids = set(target_user_ids)
    if not ids:
        return []
    query = sa.select(mx_key_signatures).where(mx_key_signatures.c.target_user_id.in_(ids))
    return list((await conn.execute(query)).all())


# the device-list stream


async def record_changes(conn: AsyncConnection, user_ids: Iterable[UUID], at: datetime) -> int:
    """Note that these users' keys changed, at new stream positions; returns the last."""
    ids = sorted(set(user_ids))
    await lock_stream(conn, DEVICE_LISTS)
    for user_id in ids:
        await conn.execute(mx_device_list_changes.insert().values(user_id=user_id, created_at=at))
    return await device_list_head(conn)


async def device_list_head(conn: AsyncConnection) -> int:
    query = sa.select(sa.func.max(mx_device_list_changes.c.pos))
    return int((await conn.execute(query)).scalar() or 0)


async def changed_users(
    conn: AsyncConnection, after: int, up_to: int, among: Iterable[UUID]
) -> set[UUID]:
    ids = set(among)
    if not ids or up_to <= after:
        return set()
    query = (
        sa.select(mx_device_list_changes.c.user_id)
        .distinct()
        .where(
            mx_device_list_changes.c.pos > after,
            mx_device_list_changes.c.pos <= up_to,
            mx_device_list_changes.c.user_id.in_(ids),
        )
    )
    return set((await conn.execute(query)).scalars())
