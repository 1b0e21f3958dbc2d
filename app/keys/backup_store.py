"""SQL of server-side key backup: versions and the encrypted session keys in them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.schema_matrix import mx_backup_keys, mx_backup_versions

Row = sa.Row[*tuple[Any, ...]]


async def lock_versions(conn: AsyncConnection, user_id: UUID) -> None:
    """Serialise the user's backup writes (PostgreSQL; SQLite has one writer)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"kaari-backup:{user_id}"},
        )


async def current_version(conn: AsyncConnection, user_id: UUID) -> Row | None:
    query = (
        sa.select(mx_backup_versions)
        .where(mx_backup_versions.c.user_id == user_id, mx_backup_versions.c.deleted_at.is_(None))
        .order_by(mx_backup_versions.c.version.desc())
        .limit(1)
    )
    return (await conn.execute(query)).first()


async def get_version(conn: AsyncConnection, user_id: UUID, version: int) -> Row | None:
    query = sa.select(mx_backup_versions).where(
        mx_backup_versions.c.user_id == user_id, mx_backup_versions.c.version == version
    )
    return (await conn.execute(query)).first()


async def last_version_number(conn: AsyncConnection, user_id: UUID) -> int:
    query = sa.select(sa.func.max(mx_backup_versions.c.version)).where(
        mx_backup_versions.c.user_id == user_id
    )
    return int((await conn.execute(query)).scalar() or 0)


async def insert_version(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(mx_backup_versions.insert().values(**values))


async def update_version(conn: AsyncConnection, user_id: UUID, version: int, **values: Any) -> None:
    await conn.execute(
        mx_backup_versions.update()
        .where(mx_backup_versions.c.user_id == user_id, mx_backup_versions.c.version == version)
        .values(**values)
    )


async def bump_etag(conn: AsyncConnection, user_id: UUID, version: int) -> None:
    await conn.execute(
        mx_backup_versions.update()
        .where(mx_backup_versions.c.user_id == user_id, mx_backup_versions.c.version == version)
        .values(etag=mx_backup_versions.c.etag + 1)
    )


async def count_keys(conn: AsyncConnection, user_id: UUID, version: int) -> int:
    query = sa.select(sa.func.count()).where(
        mx_backup_keys.c.user_id == user_id, mx_backup_keys.c.version == version
    )
    return int((await conn.execute(query)).scalar_one())


def _scope(user_id: UUID, version: int, room: str | None, session: str | None) -> list[Any]:
    where = [mx_backup_keys.c.user_id == user_id, mx_backup_keys.c.version == version]
    if room is not None:
        where.append(mx_backup_keys.c.room_id == room)
    if session is not None:
        where.append(mx_backup_keys.c.session_id == session)
    return where


async def get_keys(
    conn: AsyncConnection, user_id: UUID, version: int, room: str | None, session: str | None
) -> list[Row]:
    query = sa.select(mx_backup_keys).where(*_scope(user_id, version, room, session))
    return list((await conn.execute(query.order_by(mx_backup_keys.c.room_id))).all())


async def put_key(conn: AsyncConnection, **values: Any) -> None:
    where = _scope(values["user_id"], values["version"], values["room_id"], values["session_id"])
    await conn.execute(mx_backup_keys.delete().where(*where))
    await conn.execute(mx_backup_keys.insert().values(**values))


async def delete_keys(
    conn: AsyncConnection, user_id: UUID, version: int, room: str | None, session: str | None
) -> int:
    result = await conn.execute(
        mx_backup_keys.delete().where(*_scope(user_id, version, room, session))
    )
    return int(result.rowcount or 0)


async def mark_deleted(conn: AsyncConnection, user_id: UUID, version: int, at: datetime) -> None:
    await delete_keys(conn, user_id, version, None, None)
    await update_version(conn, user_id, version, deleted_at=at)
