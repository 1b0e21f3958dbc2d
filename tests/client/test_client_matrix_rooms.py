"""The Matrix reference client against a real app: Megolm messages both ways in the family
room, a late device through the device-set check (409), exactly once to the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import World
from litestar.testing import TestClient
from mx_client_support import Devices, family_room

from client.matrix import DeviceSetChanged, MatrixClient


def test_messages_both_ways_between_therapist_and_guardian(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    devices = Devices(client, tmp_path)
    terhi, anna = devices.open(world.therapist, "terhi"), devices.open(world.guardian, "anna")
    room = family_room(world.case_id)
    for c in (terhi, anna):
        c.sync()
    first = terhi.send_text(room, "Hei Anna")
    got = anna.sync().messages
    assert [(m["event_id"], m["content"]["body"]) for m in got] == [(first, "Hei Anna")]
    assert got[0]["sender"] == terhi.user_id
    assert got[0]["sender_device"] == terhi.device_id
    assert got[0]["authenticated"] is True
    anna.send_text(room, "Hei Terhi")
    terhi.sync()
    assert terhi.texts(room) == ["Hei Anna", "Hei Terhi"]  # her own message too
    anna.sync()
    assert anna.texts(room) == ["Hei Anna", "Hei Terhi"]
    # nothing twice: the same events again (history paging) are not new to the app
    assert anna.load_history(room) == []
    assert anna.texts(room) == ["Hei Anna", "Hei Terhi"]
    # the second guardian's device joins later and reads what is sent from then on
    g2 = devices.open(world.guardian2, "g2")
    g2.sync()
    terhi.send_text(room, "Tervetuloa")
    assert [m["content"]["body"] for m in g2.sync().messages][-1:] == ["Tervetuloa"]


def test_a_late_device_makes_the_send_take_the_409_path(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    devices = Devices(client, tmp_path)
    terhi, anna = devices.open(world.therapist, "terhi"), devices.open(world.guardian, "anna")
    room = family_room(world.case_id)
    for c in (terhi, anna):
        c.sync()
    terhi.send_text(room, "Ensimmäinen")
    anna.sync()
    late: list[MatrixClient] = []
    refused: list[str] = []
    joined_members = terhi.http.joined_members
    send_room_event = terhi.http.send_room_event

    def members_then_a_new_device(room_id: str) -> tuple[list[str], str]:
        answer = joined_members(room_id)
        if not late:  # the guardian's tablet signs in after the therapist read the epoch
            late.append(devices.login("guardian1@example.fi", "tablet")[1])
            late[0].sync()
        return answer

    def send(
        room_id: str, txn_id: str, content: dict[str, Any], epoch: str, *, notify: bool = True
    ) -> str:
        try:
            return send_room_event(room_id, txn_id, content, epoch, notify=notify)
        except DeviceSetChanged as exc:
            refused.append(exc.epoch)
            raise

    terhi.http.joined_members = members_then_a_new_device  # type: ignore[method-assign]
    terhi.http.send_room_event = send  # type: ignore[method-assign]
    event_id = terhi.send_text(room, "Kotitehtävä")
    assert len(refused) == 1
    assert refused[0] == joined_members(room)[1]
    (tablet,) = late
    got = tablet.sync().messages
    assert [(m["event_id"], m["content"]["body"]) for m in got] == [(event_id, "Kotitehtävä")]
    anna.sync()
    assert anna.texts(room) == ["Ensimmäinen", "Kotitehtävä"]
    # the tablet got the session from its current index: not the message before it
    assert [p["reason"] for p in tablet.undecryptable()] == ["unknown_index"]


def test_a_limited_timeline_is_filled_from_messages(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    devices = Devices(client, tmp_path)
    terhi, anna = devices.open(world.therapist, "terhi"), devices.open(world.guardian, "anna")
    room = family_room(world.case_id)
    for c in (terhi, anna):
        c.sync()
    sent = [terhi.send_text(room, f"viesti {n}") for n in range(25)]  # sync shows 20
    got = anna.sync().messages
    assert [m["event_id"] for m in got] == sent
    assert anna.texts(room) == [f"viesti {n}" for n in range(25)]
