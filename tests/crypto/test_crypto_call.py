"""Signed SDP for video calls: the DTLS fingerprints are bound to device, call and peer."""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from crypto.call import dtls_fingerprints, sign_sdp, verify_sdp
from crypto.canonical import b64encode
from crypto.envelope import decode, encode
from crypto.errors import EncodingError, SignatureError
from crypto.olm import OlmAccount
from crypto.payloads import CallSdpSignature, PartyKeys, Payload

FP_THERAPIST = "sha-256 " + ":".join(f"{i:02X}" for i in range(32))
FP_MALLORY = "sha-256 " + ":".join(f"{255 - i:02X}" for i in range(32))


def _sdp(fingerprint: str, *, second: str | None = None) -> str:
    lines = [
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "c=IN IP4 0.0.0.0",
        f"a=fingerprint:{fingerprint}",
        "a=setup:actpass",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        f"a=fingerprint:{second or fingerprint}",
        "a=setup:actpass",
    ]
    return "\r\n".join(lines) + "\r\n"


def _account(user: str, device: str) -> tuple[OlmAccount, PartyKeys]:
    account = OlmAccount.create(user, device)
    return account, PartyKeys(user, device, account.curve25519, account.ed25519)


@pytest.fixture
def parties() -> dict[str, tuple[OlmAccount, PartyKeys]]:
    return {
        "therapist": _account("@therapist:kaari", "LAPTOP"),
        "parent": _account("@parent:kaari", "PHONE"),
        "father": _account("@father:kaari", "TABLET"),
        "mallory": _account("@mallory:kaari", "PHONE"),
    }


def test_fingerprints_parsed_in_order() -> None:
    assert dtls_fingerprints(_sdp(FP_THERAPIST, second=FP_MALLORY)) == [FP_THERAPIST, FP_MALLORY]
    assert dtls_fingerprints("v=0\r\n") == []


def test_valid_signature_verifies_and_survives_the_wire(
    parties: dict[str, tuple[OlmAccount, PartyKeys]],
) -> None:
    t_acc, therapist = parties["therapist"]
    _, parent = parties["parent"]
    sdp = _sdp(FP_THERAPIST)
    signed = sign_sdp("call-1", sdp, therapist, parent, t_acc.sign)
    assert signed.fingerprints == [FP_THERAPIST, FP_THERAPIST]
    wire: Payload = decode(encode(signed), Payload)  # type: ignore[arg-type]
    assert wire == signed
    assert isinstance(wire, CallSdpSignature)
    verify_sdp(wire, sdp, "call-1", therapist, parent)


def test_no_fingerprint_no_signature(parties: dict[str, tuple[OlmAccount, PartyKeys]]) -> None:
    t_acc, therapist = parties["therapist"]
    with pytest.raises(SignatureError, match="no DTLS fingerprint"):
        sign_sdp("call-1", "v=0\r\ns=-\r\n", therapist, parties["parent"][1], t_acc.sign)


def test_swapped_fingerprint_line_refused(
    parties: dict[str, tuple[OlmAccount, PartyKeys]],
) -> None:
    t_acc, therapist = parties["therapist"]
    _, parent = parties["parent"]
    sdp = _sdp(FP_THERAPIST)
    signed = sign_sdp("call-1", sdp, therapist, parent, t_acc.sign)
    # the server swaps one a=fingerprint: line for its own certificate's
    mitm = sdp.replace(f"a=fingerprint:{FP_THERAPIST}", f"a=fingerprint:{FP_MALLORY}", 1)
    assert mitm != sdp
    with pytest.raises(SignatureError, match="signed hash"):
        verify_sdp(signed, mitm, "call-1", therapist, parent)
    # ... and also rewrites the hash and fingerprint list in the signed object
    rewritten = msgspec.structs.replace(
        signed,
        sdp_sha256=b64encode(hashlib.sha256(mitm.encode()).digest()),
        fingerprints=dtls_fingerprints(mitm),
    )
    with pytest.raises(SignatureError, match="does not verify"):
        verify_sdp(rewritten, mitm, "call-1", therapist, parent)
    # a hash that matches but a fingerprint list that does not
    listed = msgspec.structs.replace(signed, fingerprints=[FP_THERAPIST])
    with pytest.raises(SignatureError, match="fingerprints differ"):
        verify_sdp(listed, sdp, "call-1", therapist, parent)


def test_signature_by_another_device_refused(
    parties: dict[str, tuple[OlmAccount, PartyKeys]],
) -> None:
    _, therapist = parties["therapist"]
    _, parent = parties["parent"]
    m_acc, mallory = parties["mallory"]
    sdp = _sdp(FP_MALLORY)
    # Mallory signs with her own key but claims to be the therapist's device
    claimed = sign_sdp("call-1", sdp, therapist, parent, m_acc.sign)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_sdp(claimed, sdp, "call-1", therapist, parent)
    # ... or signs honestly as herself, where the parent expects the therapist
    honest = sign_sdp("call-1", sdp, mallory, parent, m_acc.sign)
    with pytest.raises(SignatureError, match="another device than expected"):
        verify_sdp(honest, sdp, "call-1", therapist, parent)
    # the therapist's second device (same user, other key) is not the expected device
    other_acc, other = _account("@therapist:kaari", "PHONE")
    sibling = sign_sdp("call-1", sdp, other, parent, other_acc.sign)
    with pytest.raises(SignatureError):
        verify_sdp(sibling, sdp, "call-1", therapist, parent)


def test_signature_cannot_be_replayed_into_another_call_or_to_another_peer(
    parties: dict[str, tuple[OlmAccount, PartyKeys]],
) -> None:
    t_acc, therapist = parties["therapist"]
    p_acc, parent = parties["parent"]
    _, father = parties["father"]
    sdp = _sdp(FP_THERAPIST)
    signed = sign_sdp("call-1", sdp, therapist, parent, t_acc.sign)
    with pytest.raises(SignatureError, match="another call"):
        verify_sdp(signed, sdp, "call-2", therapist, parent)
    relabelled = msgspec.structs.replace(signed, call_id="call-2")
    with pytest.raises(SignatureError, match="does not verify"):
        verify_sdp(relabelled, sdp, "call-2", therapist, parent)
    # the parent replays the therapist's offer to the father in the same call
    with pytest.raises(SignatureError, match="another device"):
        verify_sdp(signed, sdp, "call-1", therapist, father)
    readdressed = msgspec.structs.replace(signed, recipient=father)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_sdp(readdressed, sdp, "call-1", therapist, father)
    # reflected back to its sender as if it were the parent's answer
    with pytest.raises(SignatureError):
        verify_sdp(signed, sdp, "call-1", parent, therapist)
    answer = sign_sdp("call-1", _sdp(FP_MALLORY), parent, therapist, p_acc.sign)
    verify_sdp(answer, _sdp(FP_MALLORY), "call-1", parent, therapist)


def test_malformed_signature_refused(parties: dict[str, tuple[OlmAccount, PartyKeys]]) -> None:
    t_acc, therapist = parties["therapist"]
    _, parent = parties["parent"]
    sdp = _sdp(FP_THERAPIST)
    signed = sign_sdp("call-1", sdp, therapist, parent, t_acc.sign)
    flipped = ("B" if signed.signature[0] == "A" else "A") + signed.signature[1:]
    with pytest.raises(SignatureError):
        verify_sdp(
            msgspec.structs.replace(signed, signature=flipped), sdp, "call-1", therapist, parent
        )
    raw = msgspec.json.decode(encode(signed))
    raw["signature"] = "short"
    with pytest.raises(EncodingError):
        decode(msgspec.json.encode(raw), Payload)  # type: ignore[arg-type]
