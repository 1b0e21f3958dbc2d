"""The case's homework room at the Matrix paths: therapists, guardians, the child and the
caregivers a guardian granted ``homework``; a grant given or taken shows as a join or a
leave; ``rooms/{id}/event/{eventId}`` serves one event to a current member only."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from uuid import UUID

from conftest import World
from litestar.testing import TestClient
from mx_support import MxDevice, mxid, room_id
from support import Session
from test_matrix_rooms import epoch, megolm, path, send
from test_matrix_sync import sync

from app.messaging.service import thread_id_of

sys.path.insert(0, str(Path(__file__).parent.parent / "appointments"))
from appointments_support import new_caregiver, pair_child


def homework(world: World) -> str:
    return room_id(thread_id_of(world.case_id, "homework"))


def set_scopes(client: Any, world: World, who: Session, scopes: list[str]) -> None:
    r = client.put(
        f"/cases/{world.case_id}/members/{who.user_id}/scopes",
        json={"scopes": scopes},
        headers=world.guardian.headers,
    )
    assert r.status_code == 204, r.text


def not_found(r: Any, code: str) -> None:
    """A Matrix-shaped 404 with Kaari's stable code."""
    assert r.status_code == 404, r.text
    assert (r.json()["errcode"], r.json()["code"]) == ("M_NOT_FOUND", code)


def joined(client: Any, d: MxDevice, room: str) -> set[UUID]:
    r = client.get(path(room, "joined_members"), headers=d.headers)
    assert r.status_code == 200, r.text
    return {UUID(u[1:].partition(":")[0]) for u in r.json()["joined"]}


def test_who_is_in_the_homework_room(client: TestClient[Any], world: World) -> None:
    child = pair_child(client, world)
    granted = new_caregiver(client, world, ["homework"])
    school = new_caregiver(client, world, ["schedule"], "school@example.fi")
    t = MxDevice(world.therapist)
    room = homework(world)
    assert room in sync(client, MxDevice(granted))["rooms"]["join"]
    assert room not in sync(client, MxDevice(school))["rooms"]["join"]
    assert joined(client, t, room) == {
        world.therapist.user_id,
        world.guardian.user_id,
        world.guardian2.user_id,
        child.user_id,
        granted.user_id,
    }
    # the family and child rooms stay without caregivers
    family = room_id(thread_id_of(world.case_id, "family"))
    assert granted.user_id not in joined(client, t, family)
    for who in (school,):
        assert client.get(path(room, "joined_members"), headers=who.headers).status_code == 404
        assert client.get(path(room, "messages"), headers=who.headers).status_code == 404
    # the thread directory lists the chat threads only; the homework room is not one
    r = client.get(f"/cases/{world.case_id}/threads", headers=world.therapist.headers)
    assert {t["kind"] for t in r.json()} == {"family", "child"}


def test_a_grant_given_or_taken_is_a_join_or_a_leave(client: TestClient[Any], world: World) -> None:
    caregiver = new_caregiver(client, world, ["schedule"])
    c, t = MxDevice(caregiver), MxDevice(world.therapist)
    c.upload(client, 1)
    room = homework(world)
    c_since = sync(client, c)["next_batch"]
    t_since = sync(client, t)["next_batch"]
    set_scopes(client, world, caregiver, ["schedule", "homework"])
    got = sync(client, t, t_since)
    events = got["rooms"]["join"][room]["timeline"]["events"]
    assert [(e["type"], e["state_key"], e["content"]) for e in events] == [
        ("m.room.member", mxid(caregiver.user_id), {"membership": "join"})
    ]
    ep = epoch(client, t, room)
    event_id = send(client, t, room, "granted", megolm(1), ep).json()["event_id"]
    got = sync(client, c, c_since)
    assert event_id in [e["event_id"] for e in got["rooms"]["join"][room]["timeline"]["events"]]
    # taken back: a leave, and nothing of the room after it
    set_scopes(client, world, caregiver, ["schedule"])
    left = sync(client, c, got["next_batch"])
    assert room in left["rooms"]["leave"]
    assert left["rooms"]["leave"][room]["timeline"]["events"][-1]["content"] == {
        "membership": "leave"
    }
    assert epoch(client, t, room) != ep  # the caregiver's device left the device set
    r = client.get(path(room, f"event/{event_id}"), headers=c.headers)
    not_found(r, "room_not_found")


def test_one_event_for_a_current_member(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    t, g = MxDevice(world.therapist), MxDevice(world.guardian)
    granted = new_caregiver(client, world, ["homework"])
    school = new_caregiver(client, world, ["schedule"], "school@example.fi")
    room = homework(world)
    event_id = send(client, t, room, "one", megolm(7), epoch(client, t, room)).json()["event_id"]
    for who in (t, g, MxDevice(granted)):
        r = client.get(path(room, f"event/{event_id}"), headers=who.headers)
        assert r.status_code == 200, r.text
        event = r.json()
        assert (event["event_id"], event["type"], event["room_id"]) == (
            event_id,
            "m.room.encrypted",
            room,
        )
        assert event["sender"] == mxid(world.therapist.user_id)
        assert event["content"] == megolm(7)
    # the sender's own copy names its transaction id (as the spec's unsigned does)
    r = client.get(path(room, f"event/{event_id}"), headers=t.headers)
    assert r.json()["unsigned"] == {"transaction_id": "one"}
    # outside the room: 404, as for a room that does not exist
    for who in (school, other_world.therapist, other_world.guardian):
        r = client.get(path(room, f"event/{event_id}"), headers=who.headers)
        not_found(r, "room_not_found")
    # an event of another room, or none, is not found in this one
    family = room_id(thread_id_of(world.case_id, "family"))
    other = send(client, t, family, "f", megolm(8), epoch(client, t, family)).json()["event_id"]
    for missing in (other, "$nothing", "$" + "x" * 300):
        r = client.get(path(room, f"event/{missing}"), headers=t.headers)
        not_found(r, "event_not_found")
    assert client.get(path(room, f"event/{event_id}")).status_code == 401
