"""The blob sweep: blob files no attachment record names and ``.part`` files of uploads
that never finished go once untouched for KAARI_BLOB_ORPHAN_HOURS; a blob a record names,
a younger file and anything not named like a blob never go."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import pytest
from conftest import World
from litestar.testing import TestClient

from app.config import ConfigError, Settings
from app.storage.schema import attachments

from retention_support import NOW, in_db, once, twice_at_once  # isort: skip

HOURS = 24
AT_THRESHOLD = NOW - timedelta(hours=HOURS)
JUST_INSIDE = AT_THRESHOLD + timedelta(seconds=1)
ANCIENT = NOW - timedelta(days=400)


def upload(client: TestClient[Any], world: World, data: bytes = b"ciphertext") -> UUID:
    r = client.get(f"/cases/{world.case_id}/threads", headers=world.therapist.headers)
    assert r.status_code == 200, r.text
    thread = r.json()[0]["id"]
    r = client.post(f"/threads/{thread}/attachments", content=data, headers=world.therapist.headers)
    assert r.status_code == 201, r.text
    return UUID(r.json()["id"])


def blob_path(settings: Settings, blob_id: UUID) -> Path:
    return settings.effective_blob_dir / blob_id.hex[:2] / blob_id.hex


def part_path(settings: Settings, blob_id: UUID) -> Path:
    return settings.effective_blob_dir / blob_id.hex[:2] / f".{blob_id.hex}.part"


def touch(path: Path, when: Any) -> Path:
    """``path`` (created if missing), last written at ``when``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(b"half an upload")
    seconds = int(when.timestamp())
    assert seconds == when.timestamp()
    os.utime(path, ns=(seconds * 10**9, seconds * 10**9))
    return path


def forget(settings: Settings, blob_id: UUID) -> None:
    """The record goes but its file stays: a delete that failed after its commit."""

    async def go(conn: Any) -> None:
        await conn.execute(attachments.delete().where(attachments.c.id == blob_id))

    in_db(settings, go)


def files(settings: Settings) -> set[Path]:
    root = settings.effective_blob_dir
    return {p for p in root.rglob("*") if p.is_file()}


def sweep(now: Any = NOW) -> Any:
    """A round of the sweep at ``now``: it judges file times by the system clock, not by
    the instance's (a test) clock, so the tests hand it the time."""
    return lambda services: services.blob_sweep.run_once(now)


def test_orphans_and_stale_parts_go_at_the_threshold_and_nothing_else(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    referenced = upload(client, world, b"kept: its record names it")
    touch(blob_path(settings, referenced), ANCIENT)
    orphans = []
    for when in (ANCIENT, AT_THRESHOLD, JUST_INSIDE):
        blob_id = upload(client, world)
        forget(settings, blob_id)
        orphans.append(touch(blob_path(settings, blob_id), when))
    old_part = touch(part_path(settings, uuid.uuid4()), ANCIENT)
    part_at_threshold = touch(part_path(settings, uuid.uuid4()), AT_THRESHOLD)
    uploading = touch(part_path(settings, uuid.uuid4()), JUST_INSIDE)  # still being written
    root = settings.effective_blob_dir
    strangers = [
        touch(root / "README", ANCIENT),
        touch(root / "ab" / "not-a-blob", ANCIENT),
        touch(root / "cd" / ("ab" * 16), ANCIENT),  # a blob name in the wrong shard
        touch(root / "backup" / f"{uuid.uuid4().hex}", ANCIENT),
    ]
    before = files(settings)

    swept = once(settings, sweep())
    assert (swept.orphans, swept.parts) == (2, 2)
    gone = {orphans[0], orphans[1], old_part, part_at_threshold}
    assert files(settings) == before - gone
    assert {orphans[2], uploading, blob_path(settings, referenced), *strangers} <= files(settings)
    again = once(settings, sweep())
    assert (again.orphans, again.parts) == (0, 0)  # idempotent
    # the referenced blob still downloads, however old its file
    r = client.get(f"/attachments/{referenced}", headers=world.guardian.headers)
    assert r.status_code == 200, r.text
    assert r.content == b"kept: its record names it"
    # an hour on, the younger orphan and the upload that stopped go too
    later = once(settings, sweep(NOW + timedelta(hours=1)))
    assert (later.orphans, later.parts) == (1, 1)
    assert files(settings) == {blob_path(settings, referenced), *strangers}


def test_two_instances_sweeping_at_once_delete_each_file_once(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    blob_ids = [upload(client, world, bytes([n]) * 10) for n in range(12)]
    for blob_id in blob_ids[:10]:
        forget(settings, blob_id)
    for blob_id in blob_ids:
        touch(blob_path(settings, blob_id), ANCIENT)
    for _ in range(10):
        touch(part_path(settings, uuid.uuid4()), ANCIENT)

    results = twice_at_once(settings, sweep())
    assert sum(r.orphans for r in results) == 10
    assert sum(r.parts for r in results) == 10
    assert files(settings) == {blob_path(settings, b) for b in blob_ids[10:]}


def test_the_threshold_is_a_setting_of_at_least_an_hour(settings: Settings) -> None:
    blob_id = uuid.uuid4()
    touch(blob_path(settings, blob_id), NOW - timedelta(hours=3))
    assert once(settings, sweep()).orphans == 0  # the default waits a day
    hours = msgspec.structs.replace(settings, blob_orphan_hours=2.0)
    assert once(hours, sweep()).orphans == 1
    with pytest.raises(ConfigError, match="KAARI_BLOB_ORPHAN_HOURS"):
        Settings.from_env({"KAARI_BLOB_ORPHAN_HOURS": "0.5"})
