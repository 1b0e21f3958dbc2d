"""SQL for organisations, users, devices, invites and pairing codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.schema import devices, invites, organisations, pairing_codes, users
from app.storage.schema_privacy import password_resets

Row = sa.Row[*tuple[Any, ...]]


# organisations


async def insert_org(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(organisations.insert().values(**values))


async def get_org(conn: AsyncConnection, org_id: UUID) -> Row | None:
    return (
        await conn.execute(sa.select(organisations).where(organisations.c.id == org_id))
    ).first()


async def update_org(conn: AsyncConnection, org_id: UUID, **values: Any) -> None:
    await conn.execute(organisations.update().where(organisations.c.id == org_id).values(**values))


# users


async def insert_user(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(users.insert().values(**values))


async def get_user(conn: AsyncConnection, user_id: UUID) -> Row | None:
    return (await conn.execute(sa.select(users).where(users.c.id == user_id))).first()


async def get_user_by_email(conn: AsyncConnection, email: str) -> Row | None:
    return (await conn.execute(sa.select(users).where(users.c.email == email))).first()


async def update_user(conn: AsyncConnection, user_id: UUID, **values: Any) -> None:
    await conn.execute(users.update().where(users.c.id == user_id).values(**values))


async def list_org_users(conn: AsyncConnection, org_id: UUID) -> list[Row]:
    query = sa.select(users).where(users.c.org_id == org_id).order_by(users.c.display_name)
    return list((await conn.execute(query)).all())


# devices


async def insert_device(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(devices.insert().values(**values))


# built once: this runs on every request, and building a statement costs more than
# running it (SQLAlchemy reuses the compiled form of the same statement object)
_SESSION_BY_TOKEN = (
    sa.select(
        devices.c.id.label("device_id"),
        devices.c.last_seen_at,
        users.c.id.label("user_id"),
        users.c.org_id,
        users.c.role,
    )
    .join(users, users.c.id == devices.c.user_id)
    .where(
        devices.c.token_hash == sa.bindparam("token_hash"),
        devices.c.revoked_at.is_(None),
        users.c.disabled_at.is_(None),
    )
)


async def session_by_token_hash(conn: AsyncConnection, token_hash: bytes) -> Row | None:
    """The live device and its user for a token digest (revoked or disabled: None)."""
    return (await conn.execute(_SESSION_BY_TOKEN, {"token_hash": token_hash})).first()


async def touch_device(conn: AsyncConnection, device_id: UUID, at: datetime) -> None:
    await conn.execute(devices.update().where(devices.c.id == device_id).values(last_seen_at=at))


async def list_devices(conn: AsyncConnection, user_id: UUID) -> list[Row]:
    query = (
        sa.select(devices)
        .where(devices.c.user_id == user_id, devices.c.revoked_at.is_(None))
        .order_by(devices.c.created_at)
    )
    return list((await conn.execute(query)).all())


async def live_devices_of_users(conn: AsyncConnection, user_ids: list[UUID]) -> dict[UUID, UUID]:
    """device id -> user id of the users' devices that are signed in (not revoked)."""
    if not user_ids:
        return {}
    query = sa.select(devices.c.id, devices.c.user_id).where(
        devices.c.user_id.in_(user_ids), devices.c.revoked_at.is_(None)
    )
    return {r.id: r.user_id for r in (await conn.execute(query)).all()}


async def revoke_devices(
    conn: AsyncConnection,
    user_id: UUID,
    at: datetime,
    *,
    only: UUID | None = None,
    keep: UUID | None = None,
) -> list[UUID]:
    """Revoke the user's live devices (one, all, or all but ``keep``); returns their ids."""
    cond = [devices.c.user_id == user_id, devices.c.revoked_at.is_(None)]
    if only is not None:
        cond.append(devices.c.id == only)
    if keep is not None:
        cond.append(devices.c.id != keep)
    ids = list((await conn.execute(sa.select(devices.c.id).where(*cond))).scalars())
    if ids:
        await conn.execute(devices.update().where(devices.c.id.in_(ids)).values(revoked_at=at))
    return ids


# invites


async def insert_invite(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(invites.insert().values(**values))


async def invite_by_hash(conn: AsyncConnection, code_hash: bytes) -> Row | None:
    return (await conn.execute(sa.select(invites).where(invites.c.code_hash == code_hash))).first()


async def claim_invite(
    conn: AsyncConnection, invite_id: UUID, user_id: UUID | None, at: datetime
) -> bool:
    """Mark an invite used, once: False if another request used it first."""
    result = await conn.execute(
        invites.update()
        .where(invites.c.id == invite_id, invites.c.used_at.is_(None))
        .values(used_at=at, used_by=user_id)
    )
    return result.rowcount == 1


async def pending_case_invites(conn: AsyncConnection, case_id: UUID, now: datetime) -> list[Row]:
    query = (
        sa.select(invites)
        .where(
            invites.c.case_id == case_id,
            invites.c.used_at.is_(None),
            invites.c.revoked_at.is_(None),
            invites.c.expires_at > now,
        )
        .order_by(invites.c.created_at)
    )
    return list((await conn.execute(query)).all())


async def revoke_invite(
    conn: AsyncConnection, invite_id: UUID, case_id: UUID, at: datetime
) -> bool:
    result = await conn.execute(
        invites.update()
        .where(
            invites.c.id == invite_id,
            invites.c.case_id == case_id,
            invites.c.used_at.is_(None),
            invites.c.revoked_at.is_(None),
        )
        .values(revoked_at=at)
    )
    return result.rowcount == 1


# pairing codes


async def insert_pairing_code(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(pairing_codes.insert().values(**values))


async def pairing_by_hmac(conn: AsyncConnection, code_hmac: bytes) -> Row | None:
    query = sa.select(pairing_codes).where(pairing_codes.c.code_hmac == code_hmac)
    return (await conn.execute(query)).first()


async def claim_pairing_code(conn: AsyncConnection, code_id: UUID, at: datetime) -> bool:
    result = await conn.execute(
        pairing_codes.update()
        .where(pairing_codes.c.id == code_id, pairing_codes.c.used_at.is_(None))
        .values(used_at=at)
    )
    return result.rowcount == 1


async def contacts(conn: AsyncConnection, user_ids: list[UUID]) -> list[Row]:
    """id, org, role, locale and e-mail of the users still enabled: whom a notice reaches
    and in which language."""
    if not user_ids:
        return []
    query = sa.select(
        users.c.id, users.c.org_id, users.c.role, users.c.locale, users.c.email
    ).where(users.c.id.in_(user_ids), users.c.disabled_at.is_(None))
    return list((await conn.execute(query)).all())


# password resets (only the SHA-256 of a link's token)


async def insert_reset(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(password_resets.insert().values(**values))


async def delete_resets_of(conn: AsyncConnection, user_id: UUID) -> None:
    await conn.execute(password_resets.delete().where(password_resets.c.user_id == user_id))


async def take_reset(conn: AsyncConnection, token_hash: bytes, now: datetime) -> Row | None:
    """The unused, unexpired reset of this token, marked used (single use, even when two
    requests race: only the one whose update matched gets the row)."""
    row = (
        await conn.execute(
            sa.select(password_resets).where(password_resets.c.token_hash == token_hash)
        )
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    result = await conn.execute(
        password_resets.update()
        .where(password_resets.c.id == row.id, password_resets.c.used_at.is_(None))
        .values(used_at=now)
    )
    return row if result.rowcount == 1 else None
