"""The case's documents room at the Matrix paths: therapists, guardians and the caregivers
a guardian granted ``documents`` (never the child); a grant given or taken shows as a join
or a leave; the room takes the documents' encrypted files, for its members only; reading
it is a ``documents`` read in the family's access log."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from conftest import World
from litestar.testing import TestClient
from mx_support import MxDevice, mxid, room_id
from support import Session
from test_matrix_homework_room import joined, new_caregiver, not_found, pair_child, set_scopes
from test_matrix_rooms import epoch, megolm, path, send
from test_matrix_sync import sync

from app.messaging.service import thread_id_of


def documents_thread(world: World) -> UUID:
    return thread_id_of(world.case_id, "documents")


def documents(world: World) -> str:
    return room_id(documents_thread(world))


def upload(client: Any, who: Session, thread: UUID, data: bytes = b"ciphertext") -> Any:
    return client.post(f"/threads/{thread}/attachments", content=data, headers=who.headers)


def test_who_is_in_the_documents_room(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    child = pair_child(client, world)
    granted = new_caregiver(client, world, ["documents"])
    school = new_caregiver(client, world, ["schedule", "homework"], "school@example.fi")
    t = MxDevice(world.therapist)
    room = documents(world)
    assert room in sync(client, MxDevice(granted))["rooms"]["join"]
    for outside in (school, child):
        assert room not in sync(client, MxDevice(outside))["rooms"]["join"]
    assert joined(client, t, room) == {
        world.therapist.user_id,
        world.guardian.user_id,
        world.guardian2.user_id,
        granted.user_id,
    }
    for who in (school, child, other_world.therapist, other_world.guardian):
        not_found(client.get(path(room, "joined_members"), headers=who.headers), "room_not_found")
        not_found(client.get(path(room, "messages"), headers=who.headers), "room_not_found")
    # the thread directory lists the chat threads only
    r = client.get(f"/cases/{world.case_id}/threads", headers=world.therapist.headers)
    assert {t["kind"] for t in r.json()} == {"family", "child"}


def test_the_room_takes_files_for_its_members_only(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    granted = new_caregiver(client, world, ["documents"])
    school = new_caregiver(client, world, ["homework"], "school@example.fi")
    child = pair_child(client, world)
    thread = documents_thread(world)
    # the first upload makes the room (nothing was sent to it yet)
    r = upload(client, world.therapist, thread, b"encrypted plan")
    assert r.status_code == 201, r.text
    blob = r.json()["id"]
    assert r.json()["threadId"] == str(thread)
    assert upload(client, world.guardian, thread).status_code == 201
    assert upload(client, granted, thread).status_code == 201
    for who in (school, child, other_world.therapist):
        r = upload(client, who, thread)
        assert (r.status_code, r.json()["code"]) == (404, "thread_not_found")
        r = client.get(f"/attachments/{blob}", headers=who.headers)
        assert (r.status_code, r.json()["code"]) == (404, "attachment_not_found")
    for who in (world.guardian2, granted):
        r = client.get(f"/attachments/{blob}", headers=who.headers)
        assert (r.status_code, r.content) == (200, b"encrypted plan")
    # the homework room takes its tasks' media from its members only
    # (tests/app/homework/test_homework_media.py): not the documents-only caregiver
    homework = thread_id_of(world.case_id, "homework")
    assert upload(client, world.therapist, homework).status_code == 201
    r = upload(client, granted, homework)
    assert (r.status_code, r.json()["code"]) == (404, "thread_not_found")
    # the grant taken back: the file is no longer the caregiver's
    set_scopes(client, world, granted, [])
    r = client.get(f"/attachments/{blob}", headers=granted.headers)
    assert (r.status_code, r.json()["code"]) == (404, "attachment_not_found")
    assert upload(client, granted, thread).status_code == 404


def test_a_grant_given_or_taken_is_a_join_or_a_leave(client: TestClient[Any], world: World) -> None:
    caregiver = new_caregiver(client, world, ["schedule"])
    c, t = MxDevice(caregiver), MxDevice(world.therapist)
    c.upload(client, 1)
    room = documents(world)
    c_since = sync(client, c)["next_batch"]
    t_since = sync(client, t)["next_batch"]
    set_scopes(client, world, caregiver, ["schedule", "documents"])
    got = sync(client, t, t_since)
    events = got["rooms"]["join"][room]["timeline"]["events"]
    assert [(e["type"], e["state_key"], e["content"]) for e in events] == [
        ("m.room.member", mxid(caregiver.user_id), {"membership": "join"})
    ]
    ep = epoch(client, t, room)
    event_id = send(client, t, room, "granted", megolm(1), ep).json()["event_id"]
    got = sync(client, c, c_since)
    assert event_id in [e["event_id"] for e in got["rooms"]["join"][room]["timeline"]["events"]]
    # the homework grant is another room's: taking documents away is a leave of this one
    set_scopes(client, world, caregiver, ["schedule", "homework"])
    left = sync(client, c, got["next_batch"])
    assert room in left["rooms"]["leave"]
    assert left["rooms"]["leave"][room]["timeline"]["events"][-1]["content"] == {
        "membership": "leave"
    }
    assert room_id(thread_id_of(world.case_id, "homework")) in left["rooms"]["join"]
    assert epoch(client, t, room) != ep  # the caregiver's device left the device set
    not_found(client.get(path(room, f"event/{event_id}"), headers=c.headers), "room_not_found")


def test_reading_the_room_is_a_documents_read(client: TestClient[Any], world: World) -> None:
    t = MxDevice(world.therapist)
    room = documents(world)
    event_id = send(client, t, room, "one", megolm(3), epoch(client, t, room)).json()["event_id"]
    blob = upload(client, world.therapist, documents_thread(world)).json()["id"]
    g = world.guardian2
    assert client.get(path(room, f"event/{event_id}"), headers=g.headers).status_code == 200
    assert client.get(f"/attachments/{blob}", headers=g.headers).status_code == 200
    r = client.get(f"/cases/{world.case_id}/access-log", headers=world.guardian.headers)
    reads = {
        e["kind"]
        for e in r.json()["entries"]
        if e["verb"] == "read" and e["actor"] and e["actor"]["userId"] == str(g.user_id)
    }
    assert reads == {"documents"}
