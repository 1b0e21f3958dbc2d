"""Call offers and answers authenticated by the Matrix device (Olm ``org.kaari.call.sdp``):
the DTLS fingerprints are bound to the peer device, the call, the kind and the recipient."""

from __future__ import annotations

from typing import Any

import pytest
from matrix_support import deliver, device, meet, query_answer

from crypto.matrix import MatrixDevice
from crypto.matrix.call import (
    CALL_SDP,
    CallAuthError,
    authenticate_call_sdp,
    call_sdp_content,
    check_call_sdp,
    dtls_fingerprints,
    encrypt_call_sdp,
)
from crypto.matrix.trust import DeviceTrust

FP_THERAPIST = "sha-256 " + ":".join(f"{i:02X}" for i in range(32))
FP_MALLORY = "sha-256 " + ":".join(f"{255 - i:02X}" for i in range(32))
CALL = "0b8f2c0e-5a3e-4a43-9d55-1f0b0c6f1d2e"


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


def _cross_signed(user: str, device_id: str) -> MatrixDevice:
    dev = device(user, device_id)
    dev.bootstrap_cross_signing()
    return dev


@pytest.fixture
def devs() -> dict[str, MatrixDevice]:
    therapist = _cross_signed("therapist", "LAPTOP")
    parent = _cross_signed("parent", "PHONE")
    father = _cross_signed("father", "TABLET")
    meet(therapist, parent, father)
    meet(parent, therapist)
    meet(father, therapist)
    return {"therapist": therapist, "parent": parent, "father": father}


def _receive(
    to: MatrixDevice, sender: MatrixDevice, encrypted: Any, sdp: str, **kwargs: Any
) -> None:
    args: dict[str, Any] = {"call_id": CALL, "kind": "offer", "sdp": sdp} | kwargs
    authenticate_call_sdp(to, sender.user_id, sender.device_id, encrypted, **args)


def _offer(sender: MatrixDevice, to: MatrixDevice, sdp: str, **kwargs: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"call_id": CALL, "kind": "offer", "sdp": sdp} | kwargs
    return encrypt_call_sdp(sender, to.user_id, to.device_id, **args)


def test_fingerprints_parsed_in_order() -> None:
    assert dtls_fingerprints(_sdp(FP_THERAPIST, second=FP_MALLORY)) == [FP_THERAPIST, FP_MALLORY]
    assert dtls_fingerprints("v=0\r\n") == []


def test_an_offer_and_its_answer_authenticate(devs: dict[str, MatrixDevice]) -> None:
    t, p = devs["therapist"], devs["parent"]
    offer = _sdp(FP_THERAPIST)
    encrypted = _offer(t, p, offer)
    assert encrypted["algorithm"] == "m.olm.v1.curve25519-aes-sha2"
    assert FP_THERAPIST not in str(encrypted)  # the server sees ciphertext only
    _receive(p, t, encrypted, offer)
    answer = _sdp(FP_MALLORY)
    _receive(t, p, _offer(p, t, answer, kind="answer"), answer, kind="answer")


def test_no_fingerprint_no_authentication() -> None:
    with pytest.raises(CallAuthError) as refused:
        call_sdp_content(CALL, "offer", "v=0\r\ns=-\r\n")
    assert refused.value.code == "no_fingerprint"
    with pytest.raises(CallAuthError):
        call_sdp_content(CALL, "candidate", _sdp(FP_THERAPIST))


def _code(to: MatrixDevice, sender: MatrixDevice, encrypted: Any, sdp: str, **kw: Any) -> str:
    with pytest.raises(CallAuthError) as refused:
        _receive(to, sender, encrypted, sdp, **kw)
    return refused.value.code


def test_a_fingerprint_swapped_by_the_relay_is_refused(devs: dict[str, MatrixDevice]) -> None:
    t, p = devs["therapist"], devs["parent"]
    sdp = _sdp(FP_THERAPIST)
    mitm = sdp.replace(f"a=fingerprint:{FP_THERAPIST}", f"a=fingerprint:{FP_MALLORY}", 1)
    assert mitm != sdp
    assert _code(p, t, _offer(t, p, sdp), mitm) == "sdp_changed"


def test_the_ciphertext_cannot_be_changed_or_replayed(devs: dict[str, MatrixDevice]) -> None:
    t, p = devs["therapist"], devs["parent"]
    sdp = _sdp(FP_THERAPIST)
    encrypted = _offer(t, p, sdp)
    (part,) = encrypted["ciphertext"].values()
    body = part["body"]
    part["body"] = body[:40] + ("A" if body[40] != "A" else "B") + body[41:]
    assert _code(p, t, encrypted, sdp) == "not_decrypted"
    part["body"] = body
    _receive(p, t, encrypted, sdp)
    assert _code(p, t, encrypted, sdp) == "not_decrypted"  # the same message again
    assert _code(p, t, None, sdp) == "missing_auth"  # an SDP without it


def test_another_device_or_a_device_not_cross_signed_is_refused(
    devs: dict[str, MatrixDevice],
) -> None:
    t, p, f = devs["therapist"], devs["parent"], devs["father"]
    sdp = _sdp(FP_MALLORY)
    # the father's device authenticates an offer where the parent expects the therapist's
    meet(f, p)
    meet(p, f)
    assert _code(p, t, _offer(f, p, sdp), sdp) == "not_decrypted"  # forged_sender in Olm
    # a second device of the therapist's user that the therapist never cross-signed
    # (a compromised server can add devices to an account)
    rogue = device("therapist", "ROGUE")
    p.directory.mark_changed([t.user_id])
    p.keys_query_body()
    answer = query_answer(t)
    answer["device_keys"][t.user_id]["ROGUE"] = rogue.account.device_keys_json()
    p.on_keys_query_response(answer)
    meet(rogue, p)
    assert _code(p, t, _offer(rogue, p, sdp), sdp) == "wrong_device"
    # ... and when the call is with that device, it is still not trusted
    with pytest.raises(CallAuthError) as refused:
        authenticate_call_sdp(
            p, t.user_id, "ROGUE", _offer(rogue, p, sdp), call_id=CALL, kind="offer", sdp=sdp
        )
    assert refused.value.code == "untrusted_device"
    # a cross-signed device is not enough when verification is required
    assert _code(p, t, _offer(t, p, sdp), sdp, require_verified=True) == "untrusted_device"


def test_it_cannot_be_replayed_into_another_call_kind_or_peer(
    devs: dict[str, MatrixDevice],
) -> None:
    t, p, f = devs["therapist"], devs["parent"], devs["father"]
    sdp = _sdp(FP_THERAPIST)
    assert _code(p, t, _offer(t, p, sdp), sdp, call_id="another-call") == "wrong_call"
    assert _code(p, t, _offer(t, p, sdp), sdp, kind="answer") == "wrong_kind"
    # the parent forwards the therapist's offer to the father: it is not for his device
    assert _code(f, t, _offer(t, p, sdp), sdp) == "not_decrypted"
    # reflected back to its sender as if it were the parent's answer
    assert _code(t, p, _offer(t, p, sdp), sdp) == "not_decrypted"


def test_a_plain_event_of_the_type_is_not_authentication(devs: dict[str, MatrixDevice]) -> None:
    t, p = devs["therapist"], devs["parent"]
    sdp = _sdp(FP_THERAPIST)
    plain = {"type": CALL_SDP, "content": call_sdp_content(CALL, "offer", sdp)}
    assert _code(p, t, plain, sdp) == "not_decrypted"


def test_trust_is_judged_on_the_signatures_known_now(devs: dict[str, MatrixDevice]) -> None:
    """The owner cross-signs a device after the session began: the event decrypted with
    the old copy of its keys, the query after it brought the signature, and that counts."""
    p = devs["parent"]
    late = device("therapist2", "TABLET")
    meet(p, late)  # not cross-signed yet
    meet(late, p)
    sdp = _sdp(FP_THERAPIST)
    request = late.to_device_request(
        [(p.user_id, p.device_id)], CALL_SDP, call_sdp_content(CALL, "offer", sdp)
    )
    (result,) = deliver(request, late, p)
    late.bootstrap_cross_signing()
    assert result.olm is not None
    assert result.olm.sender_device is not None
    assert p.trust(result.olm.sender_device) is DeviceTrust.UNTRUSTED
    meet(p, late)  # the device list changed: queried again, now cross-signed
    trust = p.trust(result.olm.sender_device)
    assert trust is DeviceTrust.CROSS_SIGNED
    check_call_sdp(
        result,
        trust,
        call_id=CALL,
        kind="offer",
        sdp=sdp,
        peer_user=late.user_id,
        peer_device="TABLET",
    )
