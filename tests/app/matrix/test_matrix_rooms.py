"""Rooms at the Matrix paths: Megolm events stored once, idempotent by transaction id,
the device-set check (409 device_set_changed), history paged, membership from the case."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from conftest import World
from litestar.testing import TestClient
from mx_support import V3, MxDevice, counts, room_id
from support import login
from test_matrix_sync import sync

from app.config import Settings
from app.messaging.service import thread_id_of


def megolm(n: int = 0) -> dict[str, Any]:
    return {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": f"AwgAEn{n}",
        "session_id": "sess",
        "sender_key": "k",
        "device_id": "d",
    }


def family(world: World) -> str:
    return room_id(thread_id_of(world.case_id, "family"))


def path(room: str, rest: str) -> str:
    return f"{V3}/rooms/{quote(room)}/{rest}"


def epoch(client: Any, d: MxDevice, room: str) -> str:
    r = client.get(path(room, "joined_members"), headers=d.headers)
    assert r.status_code == 200, r.text
    value: str = r.json()["kaari.device_epoch"]
    return value


def send(client: Any, d: MxDevice, room: str, txn: str, content: Any, ep: str | None) -> Any:
    params = {"kaari_device_epoch": ep} if ep is not None else {}
    return client.put(
        path(room, f"send/m.room.encrypted/{txn}"), json=content, params=params, headers=d.headers
    )


def test_send_is_idempotent_and_checks_the_device_set(
    client: TestClient[Any], world: World, other_world: World, settings: Settings
) -> None:
    g, t, x = MxDevice(world.guardian), MxDevice(world.therapist), MxDevice(other_world.guardian)
    for d in (g, t):
        d.upload(client, 2)
    room = family(world)
    r = client.get(path(room, "joined_members"), headers=g.headers)
    members = r.json()
    assert r.status_code == 200, r.text
    assert set(members["joined"]) == {g.user, t.user, MxDevice(world.guardian2).user}
    current = members["kaari.device_epoch"]
    # no epoch, or a wrong one: 409 with the current one, nothing stored
    before = counts(settings)
    for ep in (None, "stale"):
        r = send(client, g, room, "a", megolm(), ep)
        assert r.status_code == 409
        assert r.json()["code"] == "device_set_changed"
        assert r.json()["errcode"] == "FI.KAARI.DEVICE_SET_CHANGED"
        assert r.json()["kaari.device_epoch"] == current
    assert counts(settings) == before
    r = send(client, g, room, "a", megolm(), current)
    assert r.status_code == 200
    event_id = r.json()["event_id"]
    assert send(client, g, room, "a", megolm(), current).json() == {"event_id": event_id}
    assert counts(settings)["room_events"] == before["room_events"] + 1
    # a new device of a member changes the epoch: the old one is refused, the new one not
    g2 = MxDevice(login(client, "guardian2@example.fi", device="tablet"))
    g2.upload(client, 1)
    assert epoch(client, t, room) != current
    r = send(client, t, room, "b", megolm(1), current)
    assert r.status_code == 409
    newer = r.json()["kaari.device_epoch"]
    assert newer == epoch(client, t, room)
    assert send(client, t, room, "b", megolm(1), newer).status_code == 200
    # plaintext, malformed and foreign sends are refused and store nothing
    before = counts(settings)
    r = client.put(
        path(room, "send/m.room.message/c"),
        json={"msgtype": "m.text", "body": "hei"},
        params={"kaari_device_epoch": newer},
        headers=g.headers,
    )
    assert r.status_code == 400
    assert r.json()["code"] == "encrypted_events_only"
    assert send(client, g, room, "d", {"algorithm": "x"}, newer).status_code == 400
    assert send(client, g, room, "e", [1, 2], newer).status_code == 400
    r = send(client, x, room, "f", megolm(), newer)
    assert r.status_code == 404
    assert r.json()["errcode"] == "M_NOT_FOUND"
    assert send(client, g, "!nope:localhost", "g", megolm(), newer).status_code == 404
    assert client.get(path(room, "messages"), headers=x.headers).status_code == 404
    assert client.get(path(room, "joined_members"), headers=x.headers).status_code == 404
    assert counts(settings) == before
    # the event as others read it: sender set by the server, content as sent
    r = client.get(path(room, "messages"), params={"limit": 1}, headers=t.headers)
    (last,) = r.json()["chunk"]
    assert last["sender"] == t.user
    assert last["content"] == megolm(1)
    assert last["unsigned"] == {"transaction_id": "b"}  # to the sending device only
    r = client.get(path(room, "messages"), params={"limit": 1}, headers=g.headers)
    assert r.json()["chunk"][0]["unsigned"] == {}


def test_history_is_paged_both_ways_and_the_timeline_is_in_sync(
    client: TestClient[Any], world: World
) -> None:
    g, t = MxDevice(world.guardian), MxDevice(world.therapist)
    g.upload(client, 1)
    room = family(world)
    first = sync(client, t)
    assert room in first["rooms"]["join"]
    assert "kaari.device_epoch" in first["rooms"]["join"][room]
    ep = epoch(client, g, room)
    ids = [send(client, g, room, f"h{n}", megolm(n), ep).json()["event_id"] for n in range(5)]
    got = sync(client, t, first["next_batch"])
    timeline = got["rooms"]["join"][room]["timeline"]
    assert [e["event_id"] for e in timeline["events"]] == ids
    assert timeline["limited"] is False
    assert got["rooms"]["join"][room]["kaari.device_epoch"] == ep
    # backwards from the newest, two at a time
    seen: list[str] = []
    params: dict[str, Any] = {"dir": "b", "limit": 2}
    for _ in range(10):
        r = client.get(path(room, "messages"), params=params, headers=t.headers)
        assert r.status_code == 200
        body = r.json()
        seen += [e["event_id"] for e in body["chunk"] if e["type"] == "m.room.encrypted"]
        if "end" not in body:
            break
        params["from"] = body["end"]
    assert seen == ids[::-1]
    # forwards from the timeline's prev_batch
    r = client.get(
        path(room, "messages"),
        params={"dir": "f", "from": timeline["prev_batch"], "limit": 10},
        headers=t.headers,
    )
    assert [e["event_id"] for e in r.json()["chunk"]] == ids
    assert (
        client.get(path(room, "messages"), params={"dir": "x"}, headers=t.headers).status_code
        == 400
    )
    r = client.get(path(room, "messages"), params={"from": "garbage"}, headers=t.headers)
    assert r.status_code == 400


def test_a_removed_member_gets_rooms_leave_and_nothing_more(
    client: TestClient[Any], world: World
) -> None:
    g, g2, t = MxDevice(world.guardian), MxDevice(world.guardian2), MxDevice(world.therapist)
    g.upload(client, 1)
    room = family(world)
    since = sync(client, g2)["next_batch"]
    t_since = sync(client, t)["next_batch"]
    r = client.delete(
        f"/cases/{world.case_id}/members/{world.guardian2.user_id}", headers=t.headers
    )
    assert r.status_code == 204
    left = sync(client, g2, since)
    assert room in left["rooms"]["leave"]
    events = left["rooms"]["leave"][room]["timeline"]["events"]
    assert events[-1]["type"] == "m.room.member"
    assert events[-1]["content"] == {"membership": "leave"}
    assert room not in left["rooms"]["join"]
    # the others see it, and the member's keys are no longer theirs to track
    ep = epoch(client, g, room)
    assert send(client, g, room, "after", megolm(), ep).status_code == 200
    got = sync(client, t, t_since)
    assert g2.user in got["device_lists"]["left"]
    later = sync(client, g2, left["next_batch"])
    assert later["rooms"]["join"] == {}
    assert later["rooms"]["leave"] == {}
    assert client.get(path(room, "messages"), headers=g2.headers).status_code == 404
    assert send(client, g2, room, "x", megolm(), ep).status_code == 404
