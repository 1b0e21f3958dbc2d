"""The Matrix sync over the WebSocket: the same body as GET /sync, answered when a send
wakes the device."""

from __future__ import annotations

from typing import Any

from conftest import World
from litestar.testing import TestClient
from mx_support import V3, MxDevice
from ws_support import close, connect, receive_until


def is_sync(frame: dict[str, Any]) -> bool:
    return frame["type"] == "matrix_sync"


def test_a_connected_device_gets_the_sync_body_when_woken(
    client: TestClient[Any], world: World
) -> None:
    g, t = MxDevice(world.guardian), MxDevice(world.therapist)
    ws = connect(client, world.therapist)
    try:
        ws.send_json({"type": "matrix_sync"})
        first = receive_until(ws, is_sync)["body"]
        assert first["to_device"]["events"] == []
        ws.send_json({"type": "matrix_sync", "since": first["next_batch"]})
        r = client.put(
            f"{V3}/sendToDevice/m.dummy/ws1",
            json={"messages": {t.user: {t.device: {"n": 1}}}},
            headers=g.headers,
        )
        assert r.status_code == 200
        got = receive_until(ws, is_sync)["body"]
        assert got["to_device"]["events"] == [
            {"sender": g.user, "type": "m.dummy", "content": {"n": 1}}
        ]
        # the same as the HTTP sync for that since
        r = client.get(f"{V3}/sync", params={"since": first["next_batch"]}, headers=t.headers)
        assert r.json()["to_device"] == got["to_device"]
        ws.send_json({"type": "matrix_sync", "since": "bad"})
        error = receive_until(ws, lambda f: f["type"] == "error")
        assert error["code"] == "invalid_token"
    finally:
        close(ws)
