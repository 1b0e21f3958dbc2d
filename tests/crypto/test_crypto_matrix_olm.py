"""Olm to-device messages between two Python devices, and every refusal."""

from __future__ import annotations

from typing import Any

import pytest
from matrix_support import deliver, device, meet

from crypto.matrix import MatrixDevice
from crypto.matrix.canonical import b64encode, dumps
from crypto.matrix.olm import OlmSessions


def _pair() -> tuple[MatrixDevice, MatrixDevice]:
    alice, bob = device("alice", "A1"), device("bob", "B1")
    meet(alice, bob)
    bob.track_users([alice.user_id])
    assert bob.keys_query_body() == {"device_keys": {alice.user_id: []}}
    bob.on_keys_query_response(
        {"device_keys": {alice.user_id: {"A1": alice.account.device_keys_json()}}}
    )
    return alice, bob


def _forge(alice: MatrixDevice, bob: MatrixDevice, **changes: Any) -> dict[str, Any]:
    """An Olm message from alice to bob whose plaintext has ``changes``."""
    plaintext = {
        "type": "org.kaari.test",
        "content": {},
        "sender": alice.user_id,
        "recipient": bob.user_id,
        "recipient_keys": {"ed25519": bob.account.ed25519},
        "keys": {"ed25519": alice.account.ed25519},
        "sender_device_keys": alice.account.device_keys_json(),
        **changes,
    }
    plaintext = {k: v for k, v in plaintext.items() if v is not None}
    entry = alice.olm._best(bob.account.curve25519)
    assert entry is not None
    kind, body = entry.session.encrypt(dumps(plaintext)).to_parts()
    return {
        "type": "m.room.encrypted",
        "sender": alice.user_id,
        "content": {
            "algorithm": "m.olm.v1.curve25519-aes-sha2",
            "sender_key": alice.account.curve25519,
            "ciphertext": {bob.account.curve25519: {"type": kind, "body": b64encode(body)}},
        },
    }


def test_round_trip_reuses_the_session_and_checks_the_plaintext_format() -> None:
    alice, bob = _pair()
    req = alice.to_device_request([(bob.user_id, "B1")], "org.kaari.ping", {"n": 1})
    content = req.messages[bob.user_id]["B1"]
    assert content["sender_key"] == alice.account.curve25519
    assert content["ciphertext"][bob.account.curve25519]["type"] == 0
    (result,) = deliver(req, alice, bob)
    assert result.kind == "decrypted"
    assert result.olm.new_session
    assert set(result.olm.plaintext) == {
        "type",
        "content",
        "sender",
        "recipient",
        "recipient_keys",
        "keys",
        "sender_device_keys",
    }
    meet(bob, alice)  # bob already has a session: no claim, no second session
    reply = bob.to_device_request([(alice.user_id, "A1")], "org.kaari.pong", {"n": 2})
    assert reply.messages[alice.user_id]["A1"]["ciphertext"][alice.account.curve25519]["type"] == 1
    (back,) = deliver(reply, bob, alice)
    assert back.content == {"n": 2}
    assert not back.olm.new_session
    assert alice.olm.session_ids(bob.account.curve25519) == bob.olm.session_ids(
        alice.account.curve25519
    )


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"sender": "@mallory:kaari.test"}, "forged_sender"),
        ({"recipient": "@carol:kaari.test"}, "wrong_recipient"),
        ({"recipient_keys": {"ed25519": b64encode(b"\1" * 32)}}, "wrong_recipient_keys"),
        ({"keys": None}, "missing_keys"),
        ({"keys": {"ed25519": b64encode(b"\2" * 32)}}, "bad_sender_keys"),
        ({"sender_device_keys": {"user_id": "@alice:kaari.test"}}, "bad_sender_keys"),
        ({"type": None}, "bad_plaintext"),
    ],
)
def test_plaintext_checks_refuse(changes: dict[str, Any], code: str) -> None:
    alice, bob = _pair()
    (result,) = bob.receive_sync([_forge(alice, bob, **changes)])
    assert result.kind == "refused"
    assert result.error.code == code
    assert not bob.olm.has_session(alice.account.curve25519)  # no session kept from it


def test_known_device_keys_must_match_the_plaintext() -> None:
    alice, bob = _pair()
    impostor = device("alice", "A2")
    # The directory says A1's keys; the plaintext claims another Ed25519 key without
    # sender_device_keys.
    event = _forge(alice, bob, sender_device_keys=None, keys={"ed25519": impostor.account.ed25519})
    (result,) = bob.receive_sync([event])
    assert result.error.code == "wrong_keys"


def test_an_unknown_device_without_sender_device_keys_is_refused() -> None:
    _alice, bob = _pair()
    stranger = device("carol", "C1")
    meet(stranger, bob)
    (result,) = bob.receive_sync([_forge(stranger, bob, sender_device_keys=None)])
    assert result.error.code == "unknown_sender_device"


def test_not_for_us_replay_and_plain_room_keys() -> None:
    alice, bob = _pair()
    carol = device("carol", "C1")
    event = _forge(alice, bob)
    (result,) = carol.receive_sync([event])
    assert (result.kind, result.error.code) == ("undecryptable", "not_for_us")
    assert bob.receive_sync([event])[0].kind == "decrypted"
    (again,) = bob.receive_sync([event])
    assert (again.kind, again.error.code) == ("undecryptable", "replayed")
    plain_key = {"type": "m.room_key", "sender": alice.user_id, "content": {}}
    (refused,) = bob.receive_sync([plain_key])
    assert refused.error.code == "unencrypted_room_key"


def test_wedged_session_is_replaced_with_a_dummy() -> None:
    alice, bob = _pair()
    deliver(alice.to_device_request([(bob.user_id, "B1")], "x", {}), alice, bob)
    bob.olm = OlmSessions()  # bob lost his sessions (e.g. restored an old store)
    (result,) = deliver(alice.to_device_request([(bob.user_id, "B1")], "x", {}), alice, bob)
    assert result.kind == "undecryptable"
    assert result.error.code == "wedged"
    bob._wedged[alice.account.curve25519] = -(10**12)  # past the one-hour rate limit
    meet(bob, alice)
    dummy = bob.take_dummies()
    assert dummy is not None
    (got,) = deliver(dummy, bob, alice)
    assert (got.kind, got.type) == ("decrypted", "m.dummy")
    # The new session is the one both sides use now.
    (ok,) = deliver(alice.to_device_request([(bob.user_id, "B1")], "y", {"z": 1}), alice, bob)
    assert ok.content == {"z": 1}


def test_sessions_pickle() -> None:
    alice, bob = _pair()
    deliver(alice.to_device_request([(bob.user_id, "B1")], "x", {}), alice, bob)
    key = b"p" * 32
    bob.olm = OlmSessions.from_pickle(bob.olm.pickle(key), key)
    (ok,) = deliver(alice.to_device_request([(bob.user_id, "B1")], "y", {"n": 2}), alice, bob)
    assert ok.content == {"n": 2}
    assert not ok.olm.new_session
