"""The Matrix reference client against a real app: Megolm messages both ways in the family
room, a late device through the device-set check (409), exactly once to the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import World
from litestar.testing import TestClient
from mx_client_support import Devices, family_room
from support import run

from app.config import Settings
from app.storage.engine import Database
from app.storage.schema_matrix import room_events
from client.matrix import DeviceSetChanged, MatrixClient, MatrixError, receipts
from client.matrix.receipts import READ_EVENT


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


def test_read_receipts_are_encrypted_room_events(
    client: TestClient[Any], settings: Settings, world: World, other_world: World, tmp_path: Path
) -> None:
    devices = Devices(client, tmp_path)
    terhi, anna = devices.open(world.therapist, "terhi"), devices.open(world.guardian, "anna")
    room = family_room(world.case_id)
    for c in (terhi, anna):
        c.sync()
    first = terhi.send_text(room, "Luitko?")
    second = terhi.send_text(room, "Entä tämän?")
    anna.sync()
    assert terhi.sync().receipts == {}
    receipt_id = anna.send_read_receipt(room, first)
    got = terhi.sync()
    assert list(got.receipts) == [room]
    assert got.receipts[room][anna.user_id]["event_id"] == first
    assert isinstance(got.receipts[room][anna.user_id]["ts"], int)
    # an ordinary room event to the app, never a text of the thread
    (record,) = [m for m in got.messages if m["event_id"] == receipt_id]
    assert record["type"] == READ_EVENT
    assert record["content"] == {"event_id": first}
    assert terhi.texts(room) == ["Luitko?", "Entä tämän?"]
    # it covers the earlier events: the first message was sent before the second
    assert (
        got.receipts[room][anna.user_id]["at"] < terhi.room_event(room, second)["origin_server_ts"]
    )  # type: ignore[index]
    anna.send_read_receipt(room, second)
    anna.send_read_receipt(room, first)  # never back: the older one is ignored
    assert terhi.sync().receipts[room][anna.user_id]["event_id"] == second
    assert terhi.read_receipts(room)[anna.user_id]["event_id"] == second
    assert terhi.sync().receipts == {}
    # kept in the store: a reopened client still knows where the others have read to
    terhi.close()
    terhi = devices.open(world.therapist, "terhi")
    assert terhi.read_receipts(room)[anna.user_id]["event_id"] == second
    # anna's own receipts reach her own sync too (her other devices learn them)
    assert anna.sync().receipts[room][anna.user_id]["event_id"] == second
    # one naming an event the room does not have moves nothing
    anna.send_read_receipt(room, "$nope")
    assert terhi.sync().receipts == {}
    assert terhi.read_receipts(room)[anna.user_id]["event_id"] == second
    # a device that is not in the room cannot send one (the server refuses it), and a
    # decrypted receipt whose session matches no device of its sender does not count
    stranger = devices.open(other_world.guardian, "stranger")
    stranger.sync()
    with pytest.raises(MatrixError) as refused:
        stranger.send_read_receipt(room, second)
    assert refused.value.status == 404  # not even told the room exists
    assert terhi.sync().receipts == {}
    forged = {**record, "sender_device": None}
    assert receipts.target(record) == first
    assert receipts.target(forged) is None
    assert receipts.target({**record, "content": {"event_id": 5}}) is None
    # the server holds only ciphertext: no receipt's event id in any event it stored
    stored = stored_events(settings)
    assert stored[receipt_id][0] == "m.room.encrypted"
    everything = "".join(content for _, content in stored.values())
    assert first not in everything
    assert second not in everything
    assert READ_EVENT not in everything
    assert "event_id" not in stored[receipt_id][1]


def stored_events(settings: Settings) -> dict[str, tuple[str, str]]:
    """Every room event the server keeps, by event id: its type and content as stored."""

    async def go() -> dict[str, tuple[str, str]]:
        db = Database(settings.effective_database_url)
        try:
            async with db.read() as conn:
                rows = await conn.execute(
                    sa.select(room_events.c.event_id, room_events.c.type, room_events.c.content)
                )
                return {str(e): (str(t), str(c)) for e, t, c in rows.all()}
        finally:
            await db.dispose()

    out: dict[str, tuple[str, str]] = run(go())
    return out
