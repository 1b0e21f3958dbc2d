"""Megolm case sessions: sharing, history import, first-known-index refusal."""

from __future__ import annotations

import msgspec
import nacl.signing
import pytest

from crypto.canonical import b64decode, b64encode
from crypto.errors import (
    BindingError,
    DecryptionError,
    SessionError,
    UnknownMessageIndexError,
    UntrustedKeyShareError,
)
from crypto.megolm import (
    InboundCaseSession,
    OutboundCaseSession,
    check_key_share,
    sign_session,
)
from crypto.payloads import PartyKeys, RoomKeyShare
from crypto.signing import Signer, nacl_signer

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


def _device_keys(user: str, device: str) -> tuple[PartyKeys, Signer]:
    signing = nacl.signing.SigningKey.generate()
    curve = b64encode(
        nacl.signing.SigningKey.generate().to_curve25519_private_key().public_key.encode()
    )
    keys = PartyKeys(user, device, curve, b64encode(signing.verify_key.encode()))
    return keys, nacl_signer(signing)


def _share(
    out: OutboundCaseSession, origin: PartyKeys, sign: Signer, *, exported: bool
) -> RoomKeyShare:
    direct = InboundCaseSession.from_session_key("case-1", out.session_key(), origin)
    return RoomKeyShare(
        case_id="case-1",
        session_id=out.session_id,
        session_key=direct.export_at() if exported else out.session_key(),
        exported=exported,
        first_index=out.message_index,
        origin=origin,
        origin_signature=sign_session("case-1", out.session_id, origin, sign),
    )


def test_key_share_trust_rule() -> None:
    therapist, t_sign = _device_keys("@t:k", "LAPTOP")
    therapist2, _ = _device_keys("@t:k", "PHONE")
    guardian, g_sign = _device_keys("@g:k", "PHONE")
    out = OutboundCaseSession.create("case-1", 0)
    direct = _share(out, therapist, t_sign, exported=False)
    history = _share(out, therapist, t_sign, exported=True)
    # accepted: the origin's direct share, its history, history via a sibling device
    check_key_share(direct, therapist)
    check_key_share(history, therapist)
    check_key_share(history, therapist2)
    inbound = InboundCaseSession.from_share(history, therapist2)
    assert inbound.origin == therapist
    assert inbound.forwarded
    assert inbound.decrypt(out.encrypt(b"x"))[0] == b"x"
    # refused: direct share via anyone else, history via another user
    for sender in (therapist2, guardian):
        with pytest.raises(UntrustedKeyShareError, match="direct room key"):
            InboundCaseSession.from_share(direct, sender)
    with pytest.raises(UntrustedKeyShareError, match="same user"):
        InboundCaseSession.from_share(history, guardian)
    # refused: the guardian's own session labelled as the therapist's (its signature, or none)
    mine = OutboundCaseSession.create("case-1", 0)
    forged = _share(mine, therapist, g_sign, exported=True)
    with pytest.raises(UntrustedKeyShareError, match="not signed by its claimed origin"):
        check_key_share(forged, therapist)
    # refused: the therapist's signature moved onto another session id, case or origin keys
    moved = msgspec.structs.replace(forged, origin_signature=history.origin_signature)
    with pytest.raises(UntrustedKeyShareError):
        check_key_share(moved, therapist)
    with pytest.raises(UntrustedKeyShareError):
        check_key_share(msgspec.structs.replace(history, case_id="case-2"), therapist)
    other_keys = msgspec.structs.replace(therapist, ed25519=guardian.ed25519)
    with pytest.raises(UntrustedKeyShareError):
        check_key_share(msgspec.structs.replace(history, origin=other_keys), therapist2)
    # refused: a signed session id that the key does not match, or a lying first index
    swapped = msgspec.structs.replace(
        history, session_key=_share(mine, therapist, t_sign, exported=True).session_key
    )
    with pytest.raises(BindingError, match="session id"):
        InboundCaseSession.from_share(swapped, therapist)
    with pytest.raises(BindingError, match="first index"):
        InboundCaseSession.from_share(msgspec.structs.replace(history, first_index=5), therapist)
