"""Megolm room events between the Rust machine and the Python device, and late devices."""

from __future__ import annotations

import pytest
from interop_homeserver import Homeserver
from interop_peers import NodeDriver, PyDevice, RustDevice

from crypto.matrix.errors import MegolmDecryptionError, ReplayError

ALICE = "@alice:kaari.test"
BOB = "@bob:kaari.test"
ROOM = "!thread:kaari.test"


def _setup(node_driver: NodeDriver, hs: Homeserver) -> tuple[RustDevice, PyDevice]:
    rust = RustDevice(node_driver, hs, ALICE, "ALICEWEB")
    rust.flush()
    py = PyDevice(hs, BOB, "BOBPY")
    hs.create_room(ROOM, {ALICE, BOB})
    return rust, py


def _last(hs: Homeserver) -> dict:
    return hs.rooms[ROOM].timeline[-1]


def test_python_to_rust_room_message(node_driver: NodeDriver, hs: Homeserver) -> None:
    rust, py = _setup(node_driver, hs)
    py.send_room(ROOM, "m.room.message", {"msgtype": "m.text", "body": "Hei terapeutti"})
    event = _last(hs)
    assert set(event["content"]) == {
        "algorithm",
        "sender_key",
        "ciphertext",
        "session_id",
        "device_id",
    }
    rust.sync()  # the m.room_key arrives over Olm
    out = rust.decrypt(event, ROOM)
    assert "error" not in out, out
    assert out["event"]["content"] == {"msgtype": "m.text", "body": "Hei terapeutti"}
    assert out["event"]["type"] == "m.room.message"
    assert out["sender"] == BOB
    assert out["senderDevice"] == "BOBPY"
    assert out["senderCurve25519Key"] == py.dev.account.curve25519

    # A second message of the same session needs no new key.
    py.send_room(ROOM, "m.room.message", {"body": "toinen"})
    assert hs.devices[ALICE]["ALICEWEB"].inbox == []
    assert rust.decrypt(_last(hs), ROOM)["event"]["content"] == {"body": "toinen"}


def test_rust_to_python_room_message(node_driver: NodeDriver, hs: Homeserver) -> None:
    rust, py = _setup(node_driver, hs)
    rust.send_room(ROOM, "m.room.message", {"msgtype": "m.text", "body": "Hello family"})
    results = py.sync()
    assert [r.type for r in results if r.kind == "decrypted"] == ["m.room_key"]
    event = _last(hs)
    decrypted = py.decrypt(event, ROOM)
    assert decrypted.event.content == {"msgtype": "m.text", "body": "Hello family"}
    assert decrypted.event.sender == ALICE
    assert decrypted.authenticated
    assert decrypted.sender_device is not None
    assert decrypted.sender_device.device_id == "ALICEWEB"

    # Decrypting the same event twice is fine; the same index under another id is a replay.
    assert py.decrypt(event, ROOM).event.message_index == 0
    replay = {**event, "event_id": "$forged", "origin_server_ts": event["origin_server_ts"] + 5}
    with pytest.raises(ReplayError):
        py.decrypt(replay, ROOM)
    # The room id inside the ciphertext is checked against the room it arrived in.
    other_room = "!other:kaari.test"
    with pytest.raises(MegolmDecryptionError) as exc:
        py.decrypt(event, other_room)
    assert exc.value.code == "unknown_session"


def test_rust_reshares_to_a_python_device_that_appears_late(
    node_driver: NodeDriver, hs: Homeserver
) -> None:
    rust, py = _setup(node_driver, hs)
    rust.send_room(ROOM, "m.room.message", {"body": "before"})
    before = _last(hs)
    py.sync()
    session_id = before["content"]["session_id"]

    late = PyDevice(hs, BOB, "BOBTABLET")  # uploads keys: Bob's device list changed
    rust.sync()  # device_lists.changed -> keys/query
    shares = rust.prepare_room(ROOM)
    recipients = {d for s in shares for d in s["body"]["messages"].get(BOB, {})}
    assert recipients == {"BOBTABLET"}  # only the new device gets the key
    rust.send_room(ROOM, "m.room.message", {"body": "after"})
    after = _last(hs)
    assert after["content"]["session_id"] == session_id  # shared, not rotated

    late.sync()
    assert late.decrypt(after, ROOM).event.content == {"body": "after"}
    with pytest.raises(MegolmDecryptionError) as exc:
        late.decrypt(before, ROOM)  # the key was shared from a later index
    assert exc.value.code == "unknown_index"


def test_python_shares_its_session_with_a_rust_device_that_appears_late(
    node_driver: NodeDriver, hs: Homeserver
) -> None:
    rust, py = _setup(node_driver, hs)
    py.send_room(ROOM, "m.room.message", {"body": "first"})
    rust.sync()
    session_id = _last(hs)["content"]["session_id"]

    phone = RustDevice(node_driver, hs, ALICE, "ALICEPHONE")
    phone.flush()
    py.sync()  # device_lists.changed for Alice -> keys/query finds the phone
    reqs = py.share_room_key(ROOM)
    assert [set(r.messages.get(ALICE, {})) for r in reqs] == [{"ALICEPHONE"}]
    py.send_room(ROOM, "m.room.message", {"body": "second"})
    second = _last(hs)
    assert second["content"]["session_id"] == session_id
    phone.sync()
    out = phone.decrypt(second, ROOM)
    assert out["event"]["content"] == {"body": "second"}
    assert rust.decrypt(second, ROOM)["event"]["content"] == {"body": "second"}


def test_python_rotates_when_a_device_leaves_and_rust_follows(
    node_driver: NodeDriver, hs: Homeserver
) -> None:
    rust, py = _setup(node_driver, hs)
    phone = RustDevice(node_driver, hs, ALICE, "ALICEPHONE")
    phone.flush()
    py.send_room(ROOM, "m.room.message", {"body": "both"})
    first = _last(hs)["content"]["session_id"]
    hs.delete_device(ALICE, "ALICEPHONE")
    py.sync()
    py.send_room(ROOM, "m.room.message", {"body": "web only"})
    second = _last(hs)["content"]["session_id"]
    assert second != first
    rust.sync()
    assert rust.decrypt(_last(hs), ROOM)["event"]["content"] == {"body": "web only"}
