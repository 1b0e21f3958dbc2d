"""Pairwise Olm sessions on vodozemac."""

from __future__ import annotations

import pytest

from crypto.errors import DecryptionError, SessionError
from crypto.olm import NORMAL, PRE_KEY, OlmAccount, OlmSession


def _otk(account: OlmAccount) -> str:
    account.generate_one_time_keys(1)
    (obj,) = account.unpublished_one_time_keys().values()
    account.mark_keys_as_published()
    key: str = obj["key"]
    return key


def _pair() -> tuple[OlmAccount, OlmAccount, OlmSession, OlmSession]:
    alice, bob = OlmAccount.create("@a:k", "A"), OlmAccount.create("@b:k", "B")
    out = alice.create_outbound_session(bob.curve25519, _otk(bob))
    mtype, body = out.encrypt(b"hello")
    assert mtype == PRE_KEY
    inbound, plaintext = bob.create_inbound_session(alice.curve25519, body)
    assert plaintext == b"hello"
    return alice, bob, out, inbound


def test_round_trip_both_ways_and_pre_key_then_normal() -> None:
    _, _, a2b, b2a = _pair()
    mtype, body = a2b.encrypt(b"still pre-key until bob replies")
    assert mtype == PRE_KEY
    assert b2a.decrypt(mtype, body) == b"still pre-key until bob replies"
    mtype, body = b2a.encrypt(b"reply")
    assert mtype == NORMAL
    assert a2b.decrypt(mtype, body) == b"reply"
    mtype, body = a2b.encrypt(b"now normal")
    assert mtype == NORMAL
    assert b2a.decrypt(mtype, body) == b"now normal"
    assert a2b.session_id == b2a.session_id


def test_out_of_order_and_duplicate() -> None:
    _, _, a2b, b2a = _pair()
    b2a.decrypt(*a2b.encrypt(b"x"))
    a2b.decrypt(*b2a.encrypt(b"ack"))
    msgs = [a2b.encrypt(f"m{i}".encode()) for i in range(5)]
    for i in (3, 0, 4, 1, 2):
        assert b2a.decrypt(*msgs[i]) == f"m{i}".encode()
    with pytest.raises(DecryptionError):
        b2a.decrypt(*msgs[2])


def test_reused_one_time_key_rejected() -> None:
    alice, bob, carol = (OlmAccount.create(f"@{n}:k", n) for n in "abc")
    otk = _otk(bob)
    _, body1 = alice.create_outbound_session(bob.curve25519, otk).encrypt(b"1")
    _, body2 = carol.create_outbound_session(bob.curve25519, otk).encrypt(b"2")
    bob.create_inbound_session(alice.curve25519, body1)
    with pytest.raises(SessionError):
        bob.create_inbound_session(carol.curve25519, body2)


def test_fallback_key_serves_two_senders() -> None:
    alice, bob, carol = (OlmAccount.create(f"@{n}:k", n) for n in "abc")
    bob.generate_fallback_key()
    (fb,) = bob.unpublished_fallback_key().values()
    bob.mark_keys_as_published()
    _, b1 = alice.create_outbound_session(bob.curve25519, fb["key"]).encrypt(b"from alice")
    _, b2 = carol.create_outbound_session(bob.curve25519, fb["key"]).encrypt(b"from carol")
    assert bob.create_inbound_session(alice.curve25519, b1)[1] == b"from alice"
    assert bob.create_inbound_session(carol.curve25519, b2)[1] == b"from carol"


def test_pre_key_from_wrong_identity_rejected() -> None:
    alice, bob, carol = (OlmAccount.create(f"@{n}:k", n) for n in "abc")
    _, body = alice.create_outbound_session(bob.curve25519, _otk(bob)).encrypt(b"1")
    with pytest.raises(SessionError):
        bob.create_inbound_session(carol.curve25519, body)


def test_tampered_ciphertext_rejected() -> None:
    _, _, a2b, b2a = _pair()
    a2b.decrypt(*b2a.encrypt(b"ack"))
    mtype, body = a2b.encrypt(b"secret")
    flipped = bytearray(body)
    flipped[len(flipped) // 2] ^= 1
    with pytest.raises(DecryptionError):
        b2a.decrypt(mtype, bytes(flipped))
    with pytest.raises(DecryptionError):
        b2a.decrypt(mtype, b"\x03garbage")
    assert b2a.decrypt(mtype, body) == b"secret"  # failures did not break the session


def test_session_and_account_pickles() -> None:
    key = bytes(range(32))
    alice, bob, a2b, b2a = _pair()
    a2b = OlmSession.from_pickle(a2b.pickle(key), key, bob.curve25519)
    b2a = OlmSession.from_pickle(b2a.pickle(key), key, alice.curve25519)
    assert b2a.decrypt(*a2b.encrypt(b"after restore")) == b"after restore"
    restored = OlmAccount.from_pickle(alice.pickle(key), key, "@a:k", "A")
    assert restored.ed25519 == alice.ed25519
    assert restored.curve25519 == alice.curve25519
