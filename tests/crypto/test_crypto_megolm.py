"""Megolm case sessions: sharing, history import, first-known-index refusal."""

from __future__ import annotations

import pytest

from crypto.canonical import b64decode, b64encode
from crypto.errors import DecryptionError, SessionError, UnknownMessageIndexError
from crypto.megolm import InboundCaseSession, OutboundCaseSession
from crypto.payloads import PartyKeys

ORIGIN = PartyKeys("@t:k", "LAPTOP", "A" * 43, "B" * 43)


def test_share_then_decrypt_from_current_index() -> None:
    out = OutboundCaseSession.create("case-1", 0)
    early = out.encrypt(b"before share")
    inbound = InboundCaseSession.from_session_key("case-1", out.session_key(), ORIGIN)
    assert inbound.first_known_index == 1
    assert inbound.session_id == out.session_id
    assert inbound.decrypt(out.encrypt(b"after share")) == (b"after share", 1)
    with pytest.raises(UnknownMessageIndexError, match="precedes the first known index 1"):
        inbound.decrypt(early)


def test_history_import_from_index_zero() -> None:
    out = OutboundCaseSession.create("case-1", 0)
    own = InboundCaseSession.from_session_key("case-1", out.session_key(), ORIGIN)
    history = [out.encrypt(f"task {i}".encode()) for i in range(3)]
    exported = own.export_at(0)
    newcomer = InboundCaseSession.from_export("case-1", exported, ORIGIN)
    assert newcomer.first_known_index == 0
    assert newcomer.forwarded
    assert [newcomer.decrypt(m)[0] for m in history] == [b"task 0", b"task 1", b"task 2"]
    partial = InboundCaseSession.from_export("case-1", own.export_at(2), ORIGIN)
    with pytest.raises(UnknownMessageIndexError):
        partial.decrypt(history[0])
    with pytest.raises(UnknownMessageIndexError):
        partial.export_at(0)


def test_tampered_megolm_message_rejected() -> None:
    out = OutboundCaseSession.create("c", 0)
    inbound = InboundCaseSession.from_session_key("c", out.session_key(), ORIGIN)
    raw = bytearray(b64decode(out.encrypt(b"homework")))
    raw[-70] ^= 1  # inside the MAC / signature area
    with pytest.raises(DecryptionError):
        inbound.decrypt(b64encode(bytes(raw)))
    raw2 = bytearray(b64decode(out.encrypt(b"homework")))
    raw2[-1] ^= 1  # the Ed25519 signature
    with pytest.raises(DecryptionError):
        inbound.decrypt(b64encode(bytes(raw2)))


def test_forged_session_with_same_id_is_not_possible() -> None:
    out = OutboundCaseSession.create("c", 0)
    other = OutboundCaseSession.create("c", 0)
    inbound = InboundCaseSession.from_session_key("c", out.session_key(), ORIGIN)
    with pytest.raises(DecryptionError):
        inbound.decrypt(other.encrypt(b"forged"))
    with pytest.raises(SessionError):
        InboundCaseSession.from_session_key("c", "not a key", ORIGIN)


def test_rotation_policy_and_pickle() -> None:
    out = OutboundCaseSession.create("c", 0)
    assert not out.needs_rotation(1000)
    assert out.needs_rotation(8 * 24 * 3600 * 1000)
    key = bytes(32)
    restored = OutboundCaseSession.from_pickle(out.pickle(key), key, "c", 0)
    assert restored.session_id == out.session_id
    inbound = InboundCaseSession.from_session_key("c", restored.session_key(), ORIGIN)
    inbound = InboundCaseSession.from_pickle(inbound.pickle(key), key, "c", ORIGIN, forwarded=False)
    assert inbound.decrypt(restored.encrypt(b"x"))[0] == b"x"
