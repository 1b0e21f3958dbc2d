"""Quotas on the Matrix writes (issue 16, after the Matrix-shaped API): room sends,
``sendToDevice`` and key-backup writes per device. A refusal is 429 with ``Retry-After``,
Kaari's ``rate_limited`` and Matrix's ``M_LIMIT_EXCEEDED`` with ``retry_after_ms``;
nothing of a refused request is stored; another device is not affected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_HASHING, TEST_SECRET, World
from litestar.testing import TestClient
from mx_support import V3, MxDevice, counts
from test_matrix_backup import ALGORITHM, ROOM, key, new_version
from test_matrix_rooms import epoch, family, megolm, send

from app.config import Settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=str(tmp_path),
        secret_key=TEST_SECRET,
        **FAST_HASHING,
        sends_per_device_per_minute=3,
        to_device_sends_per_device_per_minute=2,
        key_backup_writes_per_device_per_minute=3,
    )


def limited(r: Any) -> dict[str, Any]:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = r.json()
    retry_after = int(r.headers["retry-after"])
    assert 0 < retry_after <= 60
    assert body["code"] == "rate_limited"
    assert body["errcode"] == "M_LIMIT_EXCEEDED"
    assert body["retryAfter"] == retry_after
    assert body["retry_after_ms"] == retry_after * 1000
    return body


def test_room_sends_per_device(client: TestClient[Any], world: World, settings: Settings) -> None:
    g, t = MxDevice(world.guardian), MxDevice(world.therapist)
    for d in (g, t):
        d.upload(client, 1)
    room = family(world)
    current = epoch(client, g, room)
    for n in range(3):
        assert send(client, g, room, f"t{n}", megolm(n), current).status_code == 200
    before = counts(settings)
    body = limited(send(client, g, room, "t3", megolm(3), current))
    assert "per device and minute" in body["detail"]
    assert counts(settings) == before  # nothing of the refused send
    # another device is not affected
    assert send(client, t, room, "t0", megolm(9), current).status_code == 200


def test_send_to_device_per_device(client: TestClient[Any], world: World) -> None:
    g = world.guardian
    path = f"{V3}/sendToDevice/m.room.encrypted"
    for n in range(2):
        r = client.put(f"{path}/a{n}", json={"messages": {}}, headers=g.headers)
        assert r.status_code == 200, r.text
    limited(client.put(f"{path}/a2", json={"messages": {}}, headers=g.headers))
    r = client.put(f"{path}/b0", json={"messages": {}}, headers=world.guardian2.headers)
    assert r.status_code == 200


def test_key_backup_writes_per_device(
    client: TestClient[Any], world: World, settings: Settings
) -> None:
    g = world.guardian
    version = new_version(client, g)
    keys = f"{V3}/room_keys/keys"
    body = {"rooms": {ROOM: {"sessions": {"s1": key(0)}}}}
    r = client.put(keys, params={"version": version}, json=body, headers=g.headers)
    assert r.status_code == 200, r.text
    r = client.delete(keys, params={"version": version}, headers=g.headers)
    assert r.status_code == 200, r.text
    before = counts(settings)
    for method, path, payload in (
        ("PUT", keys, body),
        ("PUT", f"{keys}/{ROOM}", {"sessions": {"s2": key(1)}}),
        ("PUT", f"{keys}/{ROOM}/s3", key(2)),
        ("DELETE", f"{keys}/{ROOM}/s1", None),
        ("PUT", f"{V3}/room_keys/version/{version}", {"algorithm": ALGORITHM, "auth_data": {}}),
        ("POST", f"{V3}/room_keys/version", {"algorithm": ALGORITHM, "auth_data": {}}),
    ):
        r = client.request(
            method, path, params={"version": version}, json=payload, headers=g.headers
        )
        limited(r)
    assert counts(settings) == before
    # reads are not writes; another device writes on
    r = client.get(keys, params={"version": version}, headers=g.headers)
    assert r.status_code == 200
    new_version(client, world.guardian2)
