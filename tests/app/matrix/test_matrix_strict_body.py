"""A room event is decoded by the rules of every request body (app/core/body.py), though
the route reads it raw to keep it as sent: only ``application/json``, no duplicate keys,
integers within 64 bits, no NUL. Refused bodies store nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from mx_support import MxDevice, counts
from test_matrix_rooms import epoch, family, megolm, path

from app.config import Settings


def put_raw(client: Any, d: MxDevice, room: str, txn: str, raw: bytes, ep: str, ct: str) -> Any:
    return client.put(
        path(room, f"send/m.room.encrypted/{txn}"),
        content=raw,
        params={"kaari_device_epoch": ep},
        headers={**d.headers, "content-type": ct},
    )


DUPLICATE = b'{"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgA1", "session_id": "s",'
DUPLICATE += b' "ciphertext": "AwgA2"}'
NESTED = b'{"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "A", "session_id": "s",'
NESTED += b' "x": {"y": 1, "y": 2}}'


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "errcode"),
    [
        (json.dumps(megolm()).encode(), "text/plain", 415, "M_NOT_JSON"),
        (json.dumps(megolm()).encode(), "application/x-www-form-urlencoded", 415, "M_NOT_JSON"),
        (DUPLICATE, "application/json", 422, "M_BAD_JSON"),
        (NESTED, "application/json", 422, "M_BAD_JSON"),
        (json.dumps({**megolm(), "n": 2**70}).encode(), "application/json", 422, "M_BAD_JSON"),
        (json.dumps({**megolm(), "d": "a\u0000b"}).encode(), "application/json", 422, "M_BAD_JSON"),
        (b'{"algorithm": ', "application/json", 400, "M_NOT_JSON"),
    ],
    ids=["text-plain", "form", "duplicate", "nested-duplicate", "int-beyond-64", "nul", "broken"],
)
def test_a_room_event_is_decoded_strictly(
    client: TestClient[Any],
    world: World,
    settings: Settings,
    raw: bytes,
    content_type: str,
    status: int,
    errcode: str,
) -> None:
    g = MxDevice(world.guardian)
    g.upload(client, 1)
    room = family(world)
    current = epoch(client, g, room)
    before = counts(settings)
    r = put_raw(client, g, room, "t", raw, current, content_type)
    assert r.status_code == status, r.text
    assert r.json()["errcode"] == errcode
    assert counts(settings) == before


def test_a_room_event_with_a_charset_is_json(
    client: TestClient[Any], world: World, settings: Settings
) -> None:
    g = MxDevice(world.guardian)
    g.upload(client, 1)
    room = family(world)
    raw = json.dumps(megolm()).encode()
    ct = "application/json; charset=utf-8"
    assert put_raw(client, g, room, "t", raw, epoch(client, g, room), ct).status_code == 200
