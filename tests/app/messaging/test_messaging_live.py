"""Mailbox delivery over the WebSocket: sync, live pushes, ack, and the key events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import World
from messaging_support import counts, family, messenger
from support import login
from ws_support import close, connect, receive_until

from app.config import Settings


def is_messages(frame: dict[str, Any]) -> bool:
    return frame["type"] == "messages"


def test_sync_pushes_the_backlog_then_new_rows_live_and_ack_deletes(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    f.therapist.send_text(f.family_thread, "one")
    f.therapist.send_text(f.family_thread, "two")
    ws = connect(client, world.guardian2)
    try:
        ws.send_json({"type": "sync", "afterSeq": 0})
        frame = receive_until(ws, is_messages)
        items = frame["items"]
        if len(items) < 2:
            items += receive_until(ws, is_messages)["items"]
        assert [i["seq"] for i in items] == [1, 2]
        got = f.guardian2.receive(items)
        assert [m.payload.body for m in got] == ["one", "two"]  # type: ignore[union-attr]
        # a message sent now is pushed without asking
        f.therapist.send_text(f.family_thread, "three")
        frame = receive_until(ws, is_messages)
        assert [i["seq"] for i in frame["items"]] == [3]
        assert [m.payload.body for m in f.guardian2.receive(frame["items"])] == ["three"]  # type: ignore[union-attr]
        # a replayed frame is recognised by the client and not handed out again
        assert f.guardian2.receive(frame["items"]) == []
        ws.send_json({"type": "ack", "upToSeq": 3})
        acked = receive_until(ws, lambda fr: fr["type"] == "acked")
        assert acked == {"type": "acked", "upToSeq": 3, "removed": 3}
        # errors on the socket are frames with the HTTP API's codes
        ws.send_json({"type": "ack", "upToSeq": 99})
        error = receive_until(ws, lambda fr: fr["type"] == "error")
        assert error["code"] == "ack_ahead"
        ws.send_json({"type": "sync", "afterSeq": -1})
        error = receive_until(ws, lambda fr: fr["type"] == "error")
        assert error["code"] == "invalid_frame"
    finally:
        close(ws)
    assert f.guardian2.api.mailbox(0)["items"] == []
    assert counts(settings)["deliveries"] == 3


def test_the_sender_hears_of_delivery(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    ws = connect(client, world.therapist)
    try:
        result = f.therapist.send_text(f.family_thread, "hei")
        f.guardian2.sync()
        event = receive_until(ws, lambda fr: fr["type"] == "event")
        assert event["event"] == "message_delivered"
        assert event["ids"] == {
            "threadId": f.family_thread,
            "envelopeId": result["id"],
            "deviceId": f.guardian2.device.device_id,
        }
    finally:
        close(ws)


def test_a_socket_that_has_not_synced_gets_a_wake_frame(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    ws = connect(client, world.guardian2)
    try:
        f.therapist.send_text(f.family_thread, "hei")
        frame = receive_until(ws, lambda fr: fr["type"] == "wake")
        assert frame["upToSeq"] == 1
    finally:
        close(ws)


def test_co_members_hear_when_a_device_list_changes(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    ws = connect(client, world.therapist)
    try:
        tablet = login(client, world.guardian2.email or "", device="new tablet")
        messenger(client, tmp_path, tablet, "g2-tablet")  # uploads its keys
        event = receive_until(ws, lambda fr: fr["type"] == "event")
        assert event == {
            "type": "event",
            "event": "device_list_changed",
            "ids": {"userId": str(world.guardian2.user_id)},
        }
        r = client.delete(f"/devices/{tablet.device_id}", headers=world.guardian2.headers)
        assert r.status_code == 204
        event = receive_until(ws, lambda fr: fr["type"] == "event")
        assert event["event"] == "device_list_changed"
        assert event["ids"] == {"userId": str(world.guardian2.user_id)}
    finally:
        close(ws)
    assert f.therapist.send_text(f.family_thread, "x")["recipients"] == 3
