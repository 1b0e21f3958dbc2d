"""Helpers for the key directory tests: real client devices and direct database reads."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from db_support import table_counts
from support import Session, run

from app.config import Settings
from app.storage.engine import Database
from app.storage.schema import (
    audit_events,
    device_keys,
    device_signatures,
    fallback_keys,
    master_keys,
    one_time_keys,
)
from client.device import Device
from crypto.cross_signing import UserMasterKey

KEY_TABLES = (device_keys, one_time_keys, fallback_keys, master_keys, device_signatures)


def make_device(
    tmp_path: Path, session: Session, name: str = "dev", *, master: UserMasterKey | None = None
) -> Device:
    """A real client device whose ids are the session's user and device."""
    return Device.create(
        tmp_path / f"{name}-{session.device_id}",
        secrets.token_bytes(32),
        str(session.user_id),
        str(session.device_id),
        master_key=master,
    )


def full_upload(device: Device, server_count: int = 0) -> dict[str, Any]:
    return {
        "deviceKeys": device.signed_device_bundle(),
        "oneTimeKeys": device.one_time_keys_to_upload(server_count),
        "fallbackKeys": device.fallback_key_to_upload(),
    }


def upload_device(client: Any, session: Session, device: Device) -> dict[str, Any]:
    r = client.post("/keys/upload", json=full_upload(device), headers=session.headers)
    assert r.status_code == 200, r.text
    device.mark_keys_published()
    body: dict[str, Any] = r.json()
    return body


def row_counts(settings: Settings) -> dict[str, int]:
    """Rows in each key table (to prove a refused request stored nothing)."""
    return table_counts(settings, KEY_TABLES)


def audit_rows(settings: Settings, prefix: str = "keys.") -> list[Any]:
    async def go() -> list[Any]:
        db = Database(settings.effective_database_url)
        try:
            async with db.read() as conn:
                query = (
                    sa.select(audit_events)
                    .where(audit_events.c.action.like(f"{prefix}%"))
                    .order_by(audit_events.c.id)
                )
                return list((await conn.execute(query)).all())
        finally:
            await db.dispose()

    result: list[Any] = run(go())
    return result
