"""To-device messages and sync at the Matrix paths: sender set by the server, delivered
once and deleted after the next ``since``, long-poll woken by a send, device lists."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conftest import World
from litestar.testing import TestClient
from mx_support import V3, MxDevice, counts, mxid
from support import login

from app.config import Settings


def sync(client: Any, d: MxDevice, since: str | None = None, timeout: int = 0) -> dict[str, Any]:
    params: dict[str, Any] = {"timeout": timeout}
    if since is not None:
        params["since"] = since
    r = client.get(f"{V3}/sync", params=params, headers=d.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def send_to_device(
    client: Any, d: MxDevice, txn: str, messages: dict[str, Any], event_type: str = "m.dummy"
) -> Any:
    return client.put(
        f"{V3}/sendToDevice/{event_type}/{txn}", json={"messages": messages}, headers=d.headers
    )


def test_the_sync_and_to_device_routes_need_a_token(client: TestClient[Any]) -> None:
    for method, path in (
        ("GET", "/sync"),
        ("GET", "/keys/changes?from=k0_0_0&to=k0_0_0"),
        ("PUT", "/sendToDevice/m.dummy/1"),
        ("PUT", "/rooms/!x:localhost/send/m.room.encrypted/1"),
        ("GET", "/rooms/!x:localhost/messages"),
        ("GET", "/rooms/!x:localhost/joined_members"),
    ):
        r = client.request(method, V3 + path, json={})
        assert r.status_code == 401, path
        assert r.json()["errcode"] == "M_MISSING_TOKEN"


def test_to_device_is_delivered_once_and_deleted_after_the_next_since(
    client: TestClient[Any], world: World, other_world: World, settings: Settings
) -> None:
    g, t, x = MxDevice(world.guardian), MxDevice(world.therapist), MxDevice(other_world.guardian)
    first = sync(client, t)
    assert first["to_device"]["events"] == []
    assert first["device_one_time_keys_count"] == {"signed_curve25519": 0}
    content = {"sender": "@forged:localhost", "n": 1}
    r = send_to_device(client, g, "t1", {t.user: {t.device: content}, x.user: {"*": {"n": 2}}})
    assert r.status_code == 200
    assert r.json() == {}
    assert send_to_device(client, g, "t1", {t.user: {t.device: content}}).status_code == 200
    assert counts(settings)["to_device_messages"] == 1  # the retry, and the stranger, skipped
    got = sync(client, t, first["next_batch"])
    assert got["to_device"]["events"] == [{"sender": g.user, "type": "m.dummy", "content": content}]
    # not acknowledged yet: the same since gives it again
    again = sync(client, t, first["next_batch"])
    assert again["to_device"]["events"] == got["to_device"]["events"]
    later = sync(client, t, got["next_batch"])
    assert later["to_device"]["events"] == []
    assert counts(settings)["to_device_messages"] == 0
    # "*" reaches every signed-in device of the user
    t2 = MxDevice(login(client, "therapist@example.fi", device="laptop"))
    base = sync(client, t2)
    r = send_to_device(client, g, "t2", {t.user: {"*": {"n": 3}}})
    assert r.status_code == 200
    assert len(sync(client, t2, base["next_batch"])["to_device"]["events"]) == 1
    assert len(sync(client, t, later["next_batch"])["to_device"]["events"]) == 1
    # bad input changes nothing
    before = counts(settings)
    for body in ({}, {"messages": "x"}, {"messages": {t.user: {t.device: "not an object"}}}):
        r = client.put(f"{V3}/sendToDevice/m.dummy/t3", json=body, headers=g.headers)
        assert r.status_code == 422
    r = client.get(f"{V3}/sync", params={"since": "nonsense"}, headers=g.headers)
    assert r.status_code == 400
    assert counts(settings) == before


def test_a_long_poll_returns_when_another_device_sends(
    client: TestClient[Any], world: World
) -> None:
    g, t = MxDevice(world.guardian), MxDevice(world.therapist)
    since = sync(client, t)["next_batch"]
    with ThreadPoolExecutor(1) as pool:
        start = time.monotonic()
        poll = pool.submit(sync, client, t, since, 10_000)
        time.sleep(0.5)
        assert not poll.done()
        r = send_to_device(client, g, "lp1", {t.user: {t.device: {"n": 1}}})
        assert r.status_code == 200
        body = poll.result(timeout=10)
        elapsed = time.monotonic() - start
    assert len(body["to_device"]["events"]) == 1
    assert elapsed < 5
    # nothing new: the poll waits out its timeout and answers an empty sync
    start = time.monotonic()
    empty = sync(client, t, body["next_batch"], 300)
    assert time.monotonic() - start >= 0.3
    assert empty["to_device"]["events"] == []
    assert empty["rooms"]["join"] == {}


def test_device_lists_report_key_changes_of_case_members(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    g, t, x = MxDevice(world.guardian), MxDevice(world.therapist), MxDevice(other_world.guardian)
    since = sync(client, g)["next_batch"]
    t.upload(client, 3)
    x.upload(client, 3)
    got = sync(client, g, since)
    assert got["device_lists"]["changed"] == [t.user]
    r = client.get(
        f"{V3}/keys/changes", params={"from": since, "to": got["next_batch"]}, headers=g.headers
    )
    assert r.json() == {"changed": [t.user], "left": []}
    # the device's own counts and fallback key
    assert sync(client, t)["device_one_time_keys_count"] == {"signed_curve25519": 3}
    assert sync(client, t)["device_unused_fallback_key_types"] == ["signed_curve25519"]
    # revoking a device is a change too
    t2 = login(client, "therapist@example.fi", device="laptop")
    since = got["next_batch"]
    assert client.delete(f"/devices/{t2.device_id}", headers=t.headers).status_code == 204
    assert sync(client, g, since)["device_lists"]["changed"] == [mxid(t2.user_id)]
