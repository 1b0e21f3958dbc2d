"""A new event in a case's family or child room is a content-free ``message`` notice to
the room's other members (app/messaging/rooms.py): once per member and room in
``message_notice_minutes``, never for an event its sender marks ``?kaari_notify=0``, and
never for the homework room (its own notices announce it)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from conftest import World
from litestar.testing import TestClient
from notifications_support import of_type, outbox, push, settings, subscribe, wait_until
from push_service import PushService
from support import Session

from app.messaging.service import thread_id_of

from appointments_support import pair_child  # isort: skip

__all__ = ["push", "settings"]  # fixtures
V3 = "/_matrix/client/v3"


def room_of(world: World, kind: str) -> str:
    return f"!{thread_id_of(world.case_id, kind)}:localhost"


def send(
    client: TestClient[Any], who: Session, room: str, txn: str, notify: str | None = None
) -> Any:
    base = f"{V3}/rooms/{quote(room)}"
    r = client.get(f"{base}/joined_members", headers=who.headers)
    assert r.status_code == 200, r.text
    params = {"kaari_device_epoch": r.json()["kaari.device_epoch"]}
    if notify is not None:
        params["kaari_notify"] = notify
    content = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": f"AwgAEn{txn}",
        "session_id": "sess",
        "sender_key": "k",
        "device_id": "d",
    }
    return client.put(
        f"{base}/send/m.room.encrypted/{txn}", json=content, params=params, headers=who.headers
    )


def settle(client: TestClient[Any]) -> None:
    """Until the outbox holds nothing undelivered (every notice recorded was pushed)."""
    settings = client.app.state.runtime.settings
    assert wait_until(lambda: all(r.delivered_at for r in outbox(settings)))


def test_a_message_is_a_notice_to_the_others_once_in_the_interval(
    client: TestClient[Any], world: World, push: PushService
) -> None:
    subs = {
        "therapist": subscribe(client, world.therapist, push),
        "guardian": subscribe(client, world.guardian, push),
        "guardian2": subscribe(client, world.guardian2, push),
    }
    family = room_of(world, "family")
    assert send(client, world.therapist, family, "t1").status_code == 200
    want = {"type": "message", "ids": {"caseId": str(world.case_id), "room": "family"}}
    for name in ("guardian", "guardian2"):
        assert wait_until(lambda n=name: of_type(push, subs[n], "message")) == [want], name
    # a second message within the interval: no second notice to the same people
    assert send(client, world.therapist, family, "t2").status_code == 200
    # the guardian's reply is one to the therapist (and to the other guardian, who got
    # the therapist's already: nothing more)
    assert send(client, world.guardian, family, "g1").status_code == 200
    assert wait_until(lambda: of_type(push, subs["therapist"], "message")) == [want]
    settle(client)
    assert len(of_type(push, subs["guardian"], "message")) == 1
    assert len(of_type(push, subs["guardian2"], "message")) == 1
    assert push.refused == []


def test_no_notice_when_the_sender_says_so_or_for_the_homework_room(
    client: TestClient[Any], world: World, push: PushService
) -> None:
    sub = subscribe(client, world.guardian, push)
    family = room_of(world, "family")
    assert send(client, world.therapist, family, "details", notify="0").status_code == 200
    assert send(client, world.therapist, room_of(world, "homework"), "task").status_code == 200
    settle(client)
    time.sleep(0.2)
    assert of_type(push, sub, "message") == []
    # the hint is "0" or "1", nothing else, and a refused send stores nothing
    r = send(client, world.therapist, family, "bad", notify="no")
    assert (r.status_code, r.json()["code"]) == (422, "validation_error"), r.text
    # then a plain one is
    assert send(client, world.therapist, family, "text").status_code == 200
    assert wait_until(lambda: of_type(push, sub, "message"))


def test_the_child_rooms_notice_reaches_the_child_and_not_other_cases(
    client: TestClient[Any], world: World, other_world: World, push: PushService
) -> None:
    child = pair_child(client, world)
    child_sub = subscribe(client, child, push)
    foreign = subscribe(client, other_world.guardian, push)
    assert send(client, world.therapist, room_of(world, "child"), "c1").status_code == 200
    want = {"type": "message", "ids": {"caseId": str(world.case_id), "room": "child"}}
    assert wait_until(lambda: of_type(push, child_sub, "message")) == [want]
    # a member of another case cannot send into this room, and hears nothing of it
    r = send_foreign(client, other_world.guardian, room_of(world, "child"))
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND"), r.text
    settle(client)
    assert of_type(push, foreign, "message") == []


def send_foreign(client: TestClient[Any], who: Session, room: str) -> Any:
    return client.put(
        f"{V3}/rooms/{quote(room)}/send/m.room.encrypted/x",
        json={
            "algorithm": "m.megolm.v1.aes-sha2",
            "ciphertext": "AwgA",
            "session_id": "s",
            "sender_key": "k",
            "device_id": "d",
        },
        params={"kaari_device_epoch": "whatever"},
        headers=who.headers,
    )
