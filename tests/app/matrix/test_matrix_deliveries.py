""" "Delivered to device" for room events: a recipient device's sync acknowledging a position
past the event records the delivery; the sender reads it (and is told live); nobody else."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from conftest import World
from litestar.testing import TestClient
from mx_support import MxDevice, room_id
from support import login, session_from
from test_matrix_rooms import epoch, family, megolm, path, send
from test_matrix_sync import sync
from ws_support import close, connect, receive_until

from app.messaging.service import thread_id_of


def deliveries(client: Any, d: MxDevice, room: str, event_id: str) -> Any:
    return client.get(path(room, f"kaari.deliveries/{quote(event_id)}"), headers=d.headers)


def acknowledge(client: Any, d: MxDevice) -> None:
    """An initial sync, then one from its position: everything so far is acknowledged."""
    sync(client, d, sync(client, d)["next_batch"])


def test_a_recipient_device_acknowledging_past_the_event_is_a_delivery(
    client: TestClient[Any], world: World
) -> None:
    g, t, g2 = MxDevice(world.guardian), MxDevice(world.therapist), MxDevice(world.guardian2)
    for d in (g, t, g2):
        d.upload(client, 1)
    room = family(world)
    r = send(client, g, room, "d1", megolm(1), epoch(client, g, room))
    assert r.status_code == 200, r.text
    event_id = r.json()["event_id"]

    r = deliveries(client, g, room, event_id)
    assert r.status_code == 200, r.text
    assert r.json() == {"event_id": event_id, "recipients": 2, "delivered": []}

    # an initial sync hands the event over but acknowledges nothing yet
    first = sync(client, t)
    assert [e["event_id"] for e in first["rooms"]["join"][room]["timeline"]["events"]][-1] == (
        event_id
    )
    assert deliveries(client, g, room, event_id).json()["delivered"] == []
    sync(client, t, first["next_batch"])
    body = deliveries(client, g, room, event_id).json()
    assert [(x["user_id"], x["device_id"]) for x in body["delivered"]] == [(t.user, t.device)]
    assert isinstance(body["delivered"][0]["delivered_ts"], int)
    # the same acknowledgement again records nothing more
    sync(client, t, first["next_batch"])
    assert len(deliveries(client, g, room, event_id).json()["delivered"]) == 1

    acknowledge(client, g2)
    acknowledge(client, g)  # the sender's own device is not a recipient
    body = deliveries(client, g, room, event_id).json()
    assert sorted(x["device_id"] for x in body["delivered"]) == sorted([t.device, g2.device])
    assert body["recipients"] == 2

    # a device that signed in after the send was not a recipient: its sync records nothing
    assert world.guardian2.email is not None
    later = MxDevice(login(client, world.guardian2.email, device="later laptop"))
    later.upload(client, 1)
    acknowledge(client, later)
    body = deliveries(client, g, room, event_id).json()
    assert later.device not in [x["device_id"] for x in body["delivered"]]
    assert body["recipients"] == 2


def test_the_sender_is_told_live_when_a_device_received_its_event(
    client: TestClient[Any], world: World
) -> None:
    g, t = MxDevice(world.guardian), MxDevice(world.therapist)
    for d in (g, t):
        d.upload(client, 1)
    room = family(world)
    first = sync(client, t)
    event_id = send(client, g, room, "live1", megolm(2), epoch(client, g, room)).json()["event_id"]
    ws = connect(client, world.guardian)
    try:
        sync(client, t, first["next_batch"])  # hands the event over; acknowledges nothing new
        second = sync(client, t, first["next_batch"])
        sync(client, t, second["next_batch"])
        frame = receive_until(ws, lambda f: f.get("event") == "room_event_delivered")
        assert frame["ids"] == {"roomId": room, "eventId": event_id, "deviceId": t.device}
    finally:
        close(ws)


def test_only_the_sender_reads_the_deliveries_of_its_event(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    g, t = MxDevice(world.guardian), MxDevice(world.therapist)
    stranger = MxDevice(other_world.guardian)
    for d in (g, t, stranger):
        d.upload(client, 1)
    room = family(world)
    event_id = send(client, g, room, "own1", megolm(3), epoch(client, g, room)).json()["event_id"]
    # a member who did not send it: as if there were no such event
    r = deliveries(client, t, room, event_id)
    assert r.status_code == 404
    assert r.json()["code"] == "event_not_found"
    # a user of another organisation: as if there were no such room
    r = deliveries(client, stranger, room, event_id)
    assert r.status_code == 404
    assert r.json()["code"] == "room_not_found"
    # bad input: an unknown event, an event id of another room, a malformed room id
    assert deliveries(client, g, room, "$nope").json()["code"] == "event_not_found"
    child_room = room_id(thread_id_of(world.case_id, "child"))
    assert deliveries(client, g, child_room, event_id).json()["code"] == "event_not_found"
    assert deliveries(client, g, "not-a-room", event_id).json()["code"] == "room_not_found"
    # signed out: 401
    r = client.get(path(room, f"kaari.deliveries/{quote(event_id)}"))
    assert r.status_code == 401


def test_a_device_outside_the_room_records_no_delivery(
    client: TestClient[Any], world: World
) -> None:
    """The child's tablet acknowledges a position past a family-room event: not its room."""
    g, t = MxDevice(world.guardian), MxDevice(world.therapist)
    r = client.post(f"/cases/{world.case_id}/pairing-codes", headers=world.guardian.headers)
    assert r.status_code == 201, r.text
    r = client.post("/auth/pair", json={"code": r.json()["code"], "device": {"name": "tablet"}})
    assert r.status_code == 200, r.text
    tablet = MxDevice(session_from(r.json()))
    for d in (g, t, tablet):
        d.upload(client, 1)
    room = family(world)
    event_id = send(client, g, room, "c1", megolm(4), epoch(client, g, room)).json()["event_id"]
    acknowledge(client, tablet)
    acknowledge(client, t)
    body = deliveries(client, g, room, event_id).json()
    assert [x["device_id"] for x in body["delivered"]] == [t.device]
    assert body["recipients"] == 1
