"""Megolm rooms between Python devices: rotation, replay, forged senders, key events."""

from __future__ import annotations

import pytest
from matrix_support import deliver, device, meet, room_event

from crypto.matrix import MatrixDevice
from crypto.matrix.errors import EventRefused, KeyFormatError, MegolmDecryptionError, ReplayError
from crypto.matrix.megolm import InboundRoomSession, OutboundRoomSession, RotationPolicy
from crypto.matrix.room_keys import (
    ForwardedRoomKey,
    RoomKey,
    RoomKeyRequest,
    RoomKeyWithheld,
    SessionExport,
)

ROOM = "!r:kaari.test"


def _share(sender: MatrixDevice, *to: MatrixDevice) -> None:
    meet(sender, *to)
    members = {sender.user_id, *(t.user_id for t in to)}
    for req in sender.share_room_key(ROOM, members):
        for t in to:
            deliver(req, sender, t)


def test_room_message_round_trip_and_format() -> None:
    alice, bob = device("alice", "A1"), device("bob", "B1")
    _share(alice, bob)
    content = alice.encrypt_room_event(ROOM, "m.room.message", {"body": "hei"})
    assert set(content) == {"algorithm", "sender_key", "ciphertext", "session_id", "device_id"}
    assert content["device_id"] == "A1"
    out = bob.decrypt_room_event(room_event(content, alice), ROOM)
    assert (out.event.type, out.event.content, out.event.message_index) == (
        "m.room.message",
        {"body": "hei"},
        0,
    )
    assert out.authenticated
    # The sender reads its own message too.
    assert alice.decrypt_room_event(room_event(content, alice), ROOM).event.content == {
        "body": "hei"
    }


def test_replay_is_refused_but_the_same_event_twice_is_not() -> None:
    alice, bob = device("alice", "A1"), device("bob", "B1")
    _share(alice, bob)
    content = alice.encrypt_room_event(ROOM, "m.room.message", {"body": "once"})
    event = room_event(content, alice, n=1)
    bob.decrypt_room_event(event, ROOM)
    bob.decrypt_room_event(event, ROOM)
    with pytest.raises(ReplayError):
        bob.decrypt_room_event(room_event(content, alice, n=2), ROOM)
    with pytest.raises(ReplayError):
        bob.decrypt_room_event({**event, "origin_server_ts": 1}, ROOM)


def test_forged_sender_and_wrong_room_are_refused() -> None:
    alice, bob = device("alice", "A1"), device("bob", "B1")
    _share(alice, bob)
    content = alice.encrypt_room_event(ROOM, "m.room.message", {"body": "mine"})
    forged = {**room_event(content, alice), "sender": "@mallory:kaari.test"}
    with pytest.raises(EventRefused) as exc:
        bob.decrypt_room_event(forged, ROOM)
    assert exc.value.code == "forged_sender"
    # The same session registered under another room (a lying server) is refused.
    session = bob.inbound.get(ROOM, content["session_id"])
    assert session is not None
    moved = InboundRoomSession(
        "!other:kaari.test",
        session.inner,
        session.sender_key,
        session.signing_key,
        session.sender_user,
    )
    bob.inbound.add(moved)
    with pytest.raises(EventRefused) as wrong:
        bob.decrypt_room_event(room_event(content, alice), "!other:kaari.test")
    assert wrong.value.code == "wrong_room"


def test_rotation_by_count_age_and_leaving_device() -> None:
    alice = MatrixDevice.create("@alice:kaari.test", "A1", policy=RotationPolicy(max_messages=2))
    alice.on_keys_upload_response({"one_time_key_counts": {"signed_curve25519": 50}})
    bob, bob2 = device("bob", "B1"), device("bob", "B2")
    meet(alice, bob, bob2)
    members = {alice.user_id, bob.user_id}
    alice.share_room_key(ROOM, members)
    first = alice.outbound[ROOM].session_id
    alice.encrypt_room_event(ROOM, "x", {})
    alice.encrypt_room_event(ROOM, "x", {})
    with pytest.raises(Exception, match="share a room key"):
        alice.encrypt_room_event(ROOM, "x", {})
    alice.share_room_key(ROOM, members)
    second = alice.outbound[ROOM].session_id
    assert second != first

    # Bob's second device disappears from the device list: rotate.
    answer = {"device_keys": {bob.user_id: {"B1": bob.account.device_keys_json()}}}
    alice.directory.mark_changed([bob.user_id])
    alice.keys_query_body()
    changes = alice.on_keys_query_response(answer)
    assert [d.device_id for d in changes.removed_devices] == ["B2"]
    alice.share_room_key(ROOM, members)
    third = alice.outbound[ROOM].session_id
    assert third != second

    # A member leaving the room (not in the members any more) rotates too.
    alice.share_room_key(ROOM, {alice.user_id})
    assert alice.outbound[ROOM].session_id != third

    old = OutboundRoomSession(ROOM, created_ms=0)
    assert old.expired(RotationPolicy(max_age_ms=1000), at_ms=1000)
    assert not old.expired(RotationPolicy(max_age_ms=1000), at_ms=999)


def test_late_device_gets_the_current_session_from_the_current_index() -> None:
    alice, bob = device("alice", "A1"), device("bob", "B1")
    _share(alice, bob)
    early = alice.encrypt_room_event(ROOM, "m.room.message", {"n": 0})
    late = device("bob", "B2")
    meet(alice, bob, late)
    reqs = alice.share_room_key(ROOM, {alice.user_id, bob.user_id})
    assert [set(r.messages[bob.user_id]) for r in reqs] == [{"B2"}]
    deliver(reqs[0], alice, late)
    now = alice.encrypt_room_event(ROOM, "m.room.message", {"n": 1})
    assert now["session_id"] == early["session_id"]
    assert late.decrypt_room_event(room_event(now, alice, 2), ROOM).event.content == {"n": 1}
    with pytest.raises(MegolmDecryptionError) as exc:
        late.decrypt_room_event(room_event(early, alice, 1), ROOM)
    assert exc.value.code == "unknown_index"


def test_room_key_extra_fields_are_ignored_and_session_id_must_match() -> None:
    session = OutboundRoomSession(ROOM)
    content = {**session.room_key().content(), "m.shared_history": True, "shared_history": True}
    key = RoomKey.parse(content)
    assert key.session_id == session.session_id
    with pytest.raises(KeyFormatError):
        InboundRoomSession.from_room_key(
            RoomKey(ROOM, "not-the-id", key.session_key), "@a:kaari.test", "k", "e"
        )
    with pytest.raises(KeyFormatError):
        RoomKey.parse({**content, "algorithm": "m.megolm.v2"})


def test_export_import_and_better_session_rules() -> None:
    alice, bob = device("alice", "A1"), device("bob", "B1")
    _share(alice, bob)
    first = alice.encrypt_room_event(ROOM, "m.room.message", {"n": 0})
    authentic = bob.inbound.get(ROOM, first["session_id"])
    assert authentic is not None
    exported = authentic.export()
    assert SessionExport.parse(exported.export_json()) == exported
    assert set(exported.backup_json()) == {
        "algorithm",
        "forwarding_curve25519_key_chain",
        "sender_key",
        "sender_claimed_keys",
        "session_key",
    }
    # A forwarded copy from a later index does not replace the authenticated one.
    later = alice.encrypt_room_event(ROOM, "m.room.message", {"n": 1})
    forwarded = InboundRoomSession.from_export(authentic.export(1))
    assert not bob.inbound.add(forwarded)
    assert bob.inbound.get(ROOM, first["session_id"]) is authentic

    # A fresh device imports the export and reads both messages, unauthenticated.
    carol = device("alice", "A2")
    assert carol.inbound.add(InboundRoomSession.from_export(exported))
    out = carol.decrypt_room_event(room_event(later, alice, 2), ROOM)
    assert out.event.content == {"n": 1}
    assert not out.authenticated


def test_forwarded_room_key_only_from_own_verified_device() -> None:
    alice, bob = device("alice", "A1"), device("bob", "B1")
    _share(alice, bob)
    content = alice.encrypt_room_event(ROOM, "m.room.message", {"n": 0})
    bob_phone = device("bob", "B2")
    bob.bootstrap_cross_signing()
    bob_phone.cross_signing = bob.cross_signing  # the phone got the keys by gossip
    bob.directory.track([bob.user_id])
    bob.keys_query_body()
    bob.on_keys_query_response(
        {
            "device_keys": {
                bob.user_id: {
                    "B2": bob.cross_signing.sign_own_device(bob_phone.account.device_keys())
                }
            }
        }
    )
    meet(bob_phone, bob)
    bob_phone.directory.mark_changed([bob.user_id])
    bob_phone.keys_query_body()
    bob_phone.on_keys_query_response(
        {
            "device_keys": {
                bob.user_id: {"B1": bob.cross_signing.sign_own_device(bob.account.device_keys())}
            }
        }
    )
    meet(bob, bob_phone)
    forwarded = bob.forward_room_key(bob.user_id, "B2", ROOM, content["session_id"])
    event = {"type": "m.room.encrypted", "sender": bob.user_id, "content": forwarded}
    (result,) = bob_phone.receive_sync([event])
    assert (result.kind, result.type) == ("decrypted", "m.forwarded_room_key")
    parsed = ForwardedRoomKey.parse(result.content)
    assert parsed.sender_claimed_ed25519_key == alice.account.ed25519
    out = bob_phone.decrypt_room_event(room_event(content, alice), ROOM)
    assert out.event.content == {"n": 0}
    assert out.event.session.forwarding_chain == (bob.account.curve25519,)

    # Forwarded by someone else's device: refused.
    mallory = device("mallory", "M1")
    meet(mallory, bob_phone)
    mallory.inbound.add(InboundRoomSession.from_export(out.event.session.export()))
    mallory.directory.track([bob.user_id])
    with pytest.raises(EventRefused):
        mallory.forward_room_key(bob.user_id, "B2", ROOM, content["session_id"])
    sneaky = mallory.olm.encrypt(
        mallory.account,
        bob_phone.account.device_keys(),
        "m.forwarded_room_key",
        parsed.content(),
    )
    (refused,) = bob_phone.receive_sync(
        [{"type": "m.room.encrypted", "sender": mallory.user_id, "content": sneaky}]
    )
    assert refused.error.code == "untrusted_forwarder"


def test_withheld_and_key_request_formats() -> None:
    no_olm = RoomKeyWithheld.parse(
        {
            "algorithm": "m.megolm.v1.aes-sha2",
            "code": "m.no_olm",
            "sender_key": "RF3s+E7RkTQTGF2d8Deol0FkQvgII2aJDf3/Jp5mxVU",
            "reason": "no olm",
        }
    )
    assert (no_olm.room_id, no_olm.session_id, no_olm.known_code) == (None, None, True)
    unverified = RoomKeyWithheld("m.unverified", no_olm.sender_key, ROOM, "s1")
    content = unverified.content()
    assert content["reason"]
    assert RoomKeyWithheld.parse(content) == RoomKeyWithheld(
        "m.unverified", no_olm.sender_key, ROOM, "s1", content["reason"]
    )
    with pytest.raises(KeyFormatError):
        RoomKeyWithheld.parse({**content, "room_id": None, "session_id": None, "code": "m.x"})
    custom = RoomKeyWithheld.parse({**content, "code": "org.kaari.left_case"})
    assert not custom.known_code

    request = RoomKeyRequest("request", "B2", "req1", ROOM, "s1", no_olm.sender_key)
    assert RoomKeyRequest.parse(request.content()) == request
    cancel = RoomKeyRequest("request_cancellation", "B2", "req1")
    assert set(cancel.content()) == {"action", "requesting_device_id", "request_id"}
    with pytest.raises(KeyFormatError):
        RoomKeyRequest.parse({"action": "request", "requesting_device_id": "B", "request_id": "1"})


def test_withheld_notice_explains_the_missing_key() -> None:
    alice, bob = device("alice", "A1"), device("bob", "B1")
    alice.bootstrap_cross_signing()
    meet(alice, bob)
    reqs = alice.share_room_key(ROOM, {alice.user_id, bob.user_id}, only_verified=True)
    assert [r.event_type for r in reqs] == ["m.room_key.withheld"]
    (notice,) = deliver(reqs[0], alice, bob)
    assert notice.kind == "plain"
    content = alice.encrypt_room_event(ROOM, "m.room.message", {"n": 0})
    with pytest.raises(MegolmDecryptionError) as exc:
        bob.decrypt_room_event(room_event(content, alice), ROOM)
    assert exc.value.code == "withheld"
    # Sent once per session and device.
    assert alice.share_room_key(ROOM, {alice.user_id, bob.user_id}, only_verified=True) == []


def test_a_strict_share_rotates_a_session_an_unverified_device_holds() -> None:
    alice, bob = device("alice", "A1"), device("bob", "B1")
    alice.bootstrap_cross_signing()
    _share(alice, bob)  # the ordinary policy: Bob's unverified device has the session
    first = alice.outbound[ROOM].session_id
    reqs = alice.share_room_key(ROOM, {alice.user_id, bob.user_id}, only_verified=True)
    assert [r.event_type for r in reqs] == ["m.room_key.withheld"]
    content = alice.encrypt_room_event(ROOM, "m.room.message", {"body": "verified only"})
    assert content["session_id"] != first  # not under the key Bob already holds
    with pytest.raises(MegolmDecryptionError):
        bob.decrypt_room_event(room_event(content, alice), ROOM)


def test_inbound_sessions_pickle_keeps_replay_records() -> None:
    alice, bob = device("alice", "A1"), device("bob", "B1")
    _share(alice, bob)
    content = alice.encrypt_room_event(ROOM, "m.room.message", {"n": 0})
    bob.decrypt_room_event(room_event(content, alice, 1), ROOM)
    key = b"q" * 32
    restored = type(bob.inbound).from_pickle(bob.inbound.pickle(key), key)
    bob.inbound = restored
    with pytest.raises(ReplayError):
        bob.decrypt_room_event(room_event(content, alice, 9), ROOM)
    outbound = OutboundRoomSession.from_pickle(alice.outbound[ROOM].pickle(key), key)
    assert outbound.session_id == content["session_id"]
    assert outbound.message_count == 1
