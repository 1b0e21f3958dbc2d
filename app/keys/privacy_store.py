"""The keys domain's section of the GDPR export: the public keys and signatures the user's
devices published, their cross-signing keys and the signatures made by or over them, and
the encrypted key backup (opaque without the user's recovery key)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.export import ExportSubject, Section
from app.keys import matrix_store
from app.storage.export import table_rows
from app.storage.schema_matrix import (
    mx_backup_keys,
    mx_backup_versions,
    mx_cross_signing_keys,
    mx_device_keys,
    mx_fallback_keys,
    mx_key_signatures,
    mx_one_time_keys,
)


async def export(conn: AsyncConnection, subject: ExportSubject) -> Section:
    user, mine = subject.user_id, subject.device_ids
    signatures = sa.or_(
        mx_key_signatures.c.target_user_id == user, mx_key_signatures.c.signer_user_id == user
    )
    return {
        "deviceKeys": await table_rows(conn, mx_device_keys, mx_device_keys.c.user_id == user),
        "oneTimeKeys": await table_rows(
            conn, mx_one_time_keys, mx_one_time_keys.c.device_id.in_(mine)
        ),
        "fallbackKeys": await table_rows(
            conn, mx_fallback_keys, mx_fallback_keys.c.device_id.in_(mine)
        ),
        "crossSigningKeys": await table_rows(
            conn, mx_cross_signing_keys, mx_cross_signing_keys.c.user_id == user
        ),
        "signatures": await table_rows(conn, mx_key_signatures, signatures),
        "backupVersions": await table_rows(
            conn, mx_backup_versions, mx_backup_versions.c.user_id == user
        ),
        "backupKeys": await table_rows(conn, mx_backup_keys, mx_backup_keys.c.user_id == user),
    }


async def erase(conn: AsyncConnection, subject: ExportSubject, now: datetime) -> None:
    """Every key the user's devices and identity published, and the key backup, go; the
    user's device list changed (co-members' devices stop encrypting to them)."""
    user, mine = subject.user_id, subject.device_ids
    signatures = sa.or_(
        mx_key_signatures.c.target_user_id == user, mx_key_signatures.c.signer_user_id == user
    )
    await conn.execute(mx_key_signatures.delete().where(signatures))
    await conn.execute(
        mx_cross_signing_keys.delete().where(mx_cross_signing_keys.c.user_id == user)
    )
    await conn.execute(mx_one_time_keys.delete().where(mx_one_time_keys.c.device_id.in_(mine)))
    await conn.execute(mx_fallback_keys.delete().where(mx_fallback_keys.c.device_id.in_(mine)))
    await conn.execute(mx_device_keys.delete().where(mx_device_keys.c.user_id == user))
    await conn.execute(mx_backup_keys.delete().where(mx_backup_keys.c.user_id == user))
    await conn.execute(mx_backup_versions.delete().where(mx_backup_versions.c.user_id == user))
    await matrix_store.record_changes(conn, [user], now)
