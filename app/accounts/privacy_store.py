"""The accounts domain's section of the GDPR export: the account, its devices (without
their token hashes), the invites it accepted, its password-reset requests and, for a
child, the pairing codes that signed its devices in (without the codes)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.export import ExportSubject, Section
from app.storage.export import table_rows
from app.storage.schema import devices, invites, pairing_codes, users
from app.storage.schema_privacy import password_resets


async def export(conn: AsyncConnection, subject: ExportSubject) -> Section:
    user = subject.user_id
    return {
        "user": await table_rows(conn, users, users.c.id == user, omit={"password_hash"}),
        "devices": await table_rows(conn, devices, devices.c.user_id == user, omit={"token_hash"}),
        "invitesAccepted": await table_rows(
            conn, invites, invites.c.used_by == user, omit={"code_hash"}
        ),
        "passwordResets": await table_rows(
            conn, password_resets, password_resets.c.user_id == user, omit={"token_hash"}
        ),
        "pairingCodes": await table_rows(
            conn, pairing_codes, pairing_codes.c.child_user_id == user, omit={"code_hmac"}
        ),
    }


async def device_ids(conn: AsyncConnection, user_id: UUID) -> frozenset[UUID]:
    """Every device the user has had, revoked ones too."""
    query = sa.select(devices.c.id).where(devices.c.user_id == user_id)
    return frozenset((await conn.execute(query)).scalars().all())


#: What an erased account's name becomes (the row stays, as the pseudonym that retained
#: records such as the audit trail point at; apps show their own words for it).
ERASED_NAME = "-"


async def erase(conn: AsyncConnection, subject: ExportSubject, now: datetime) -> None:
    """The account keeps only its id, organisation, role and dates: no e-mail, name or
    password; every device is revoked and loses its name; reset links are gone."""
    user = subject.user_id
    await conn.execute(
        users.update()
        .where(users.c.id == user)
        .values(email=None, display_name=ERASED_NAME, password_hash=None, disabled_at=now)
    )
    await conn.execute(devices.update().where(devices.c.user_id == user).values(name=ERASED_NAME))
    await conn.execute(
        devices.update()
        .where(devices.c.user_id == user, devices.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await conn.execute(password_resets.delete().where(password_resets.c.user_id == user))
