"""Helpers of the privacy tests: a room event sent over HTTP as a device would."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

V3 = "/_matrix/client/v3"


def send_event(client: Any, headers: dict[str, str], room_id: str, txn: str, marker: str) -> str:
    """An ``m.room.encrypted`` event whose ciphertext is ``marker`` (to find it later)."""
    r = client.get(f"{V3}/rooms/{quote(room_id)}/joined_members", headers=headers)
    assert r.status_code == 200, r.text
    content = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": marker,
        "session_id": "sess",
        "sender_key": "k",
        "device_id": "d",
    }
    r = client.put(
        f"{V3}/rooms/{quote(room_id)}/send/m.room.encrypted/{txn}",
        json=content,
        params={"kaari_device_epoch": r.json()["kaari.device_epoch"]},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    event_id: str = r.json()["event_id"]
    return event_id
