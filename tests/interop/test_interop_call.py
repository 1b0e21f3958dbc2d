"""Call offers and answers authenticated by the device between the two implementations:
an ``org.kaari.call.sdp`` to-device event over Olm, built and checked by the Rust machine's
app (``node/machine.mjs``: ``encryptToDeviceEvent``, ``receiveSyncChanges`` under
``TrustRequirement.CrossSigned``, ``isCrossSignedByOwner()``) and by the Python device
(:mod:`crypto.matrix.call`). Each side checks sender device, trust, call, kind, hash and
fingerprints; a fingerprint swapped on the way is refused on both sides."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from interop_homeserver import Homeserver
from interop_peers import NodeDriver, PyDevice, RustDevice

from crypto.matrix.call import CALL_SDP, CallAuthError, call_sdp_content, check_call_sdp
from crypto.matrix.device import ToDeviceResult
from crypto.matrix.trust import DeviceTrust

THERAPIST = "@therapist:kaari.test"
PARENT = "@parent:kaari.test"
ROOM = "!family:kaari.test"
CALL = "8a1f3c52-6d0e-4b7a-9c14-2e5f8d7b0a61"
FP_RUST = "sha-256 " + ":".join(f"{i:02X}" for i in range(32))
FP_PYTHON = "sha-256 " + ":".join(f"{(5 * i + 3) % 256:02X}" for i in range(32))
FP_MALLORY = "sha-256 " + ":".join(f"{255 - i:02X}" for i in range(32))
DECRYPTED = 0  # ProcessedToDeviceEventType.Decrypted


def _sdp(fingerprint: str) -> str:
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
        f"a=fingerprint:{fingerprint}",
        "a=setup:actpass",
    ]
    return "\r\n".join(lines) + "\r\n"


def _swapped(sdp: str) -> str:
    mitm = sdp.replace(FP_RUST, FP_MALLORY).replace(FP_PYTHON, FP_MALLORY)
    assert mitm != sdp
    return mitm


def _rust(node_driver: NodeDriver, hs: Homeserver, *, cross_signed: bool = True) -> RustDevice:
    rust = RustDevice(node_driver, hs, THERAPIST, "THERAPISTWEB")
    rust.flush()
    if cross_signed:
        boot = rust.call("bootstrap_cross_signing")
        if boot["upload_keys"] is not None:
            rust.relay(boot["upload_keys"])
        hs.device_signing_upload(THERAPIST, boot["upload_signing_keys"])
        rust.relay(boot["upload_signatures"])
        rust.flush()
    return rust


def _python(hs: Homeserver, *, cross_signed: bool = True) -> PyDevice:
    py = PyDevice(hs, PARENT, "PARENTPHONE")
    if cross_signed:
        upload, signatures = py.dev.bootstrap_cross_signing()
        hs.device_signing_upload(PARENT, upload)
        assert hs.signatures_upload(PARENT, signatures) == {"failures": {}}
    return py


def _met(rust: RustDevice, py: PyDevice) -> None:
    """Both in the family room, each with the other's keys and cross-signing identity."""
    rust.call("update_tracked", users=[PARENT])
    rust.flush()
    py.dev.track_users([THERAPIST])
    py.query()


def _python_receives(py: PyDevice) -> ToDeviceResult:
    results = py.sync()
    found = [r for r in results if r.type in (CALL_SDP, "m.room.encrypted")]
    assert len(found) == 1, results
    return found[0]


def _python_check(
    py: PyDevice, result: ToDeviceResult, kind: str, sdp: str, call_id: str = CALL
) -> None:
    sender = result.olm.sender_device if result.olm is not None else None
    check_call_sdp(
        result,
        py.dev.trust(sender) if sender is not None else DeviceTrust.UNTRUSTED,
        call_id=call_id,
        kind=kind,
        sdp=sdp,
        peer_user=THERAPIST,
        peer_device="THERAPISTWEB",
    )


def _python_refuses(
    py: PyDevice, result: ToDeviceResult, kind: str, sdp: str, call_id: str = CALL
) -> str:
    with pytest.raises(CallAuthError) as refused:
        _python_check(py, result, kind, sdp, call_id)
    return refused.value.code


def _rust_receives(rust: RustDevice, trust: str = "CrossSigned") -> dict[str, Any]:
    events = rust.sync(trust=trust)
    found = [e for e in events if e["raw"].get("type") in (CALL_SDP, "m.room.encrypted")]
    assert len(found) == 1, events
    return found[0]


def _rust_check(rust: RustDevice, event: dict[str, Any], kind: str, sdp: str, **kw: Any) -> Any:
    args = {
        "peer_user": PARENT,
        "peer_device": "PARENTPHONE",
        "call_id": CALL,
        "kind": kind,
        "sdp": sdp,
    } | kw
    return rust.call("check_call_sdp", event=event, **args)["code"]


def test_rust_offers_python_answers_and_both_authenticate(
    node_driver: NodeDriver, hs: Homeserver
) -> None:
    rust, py = _rust(node_driver, hs), _python(hs)
    hs.create_room(ROOM, {THERAPIST, PARENT})
    _met(rust, py)

    offer = _sdp(FP_RUST)
    content = rust.call("call_sdp_content", call_id=CALL, kind="offer", sdp=offer)
    assert content == call_sdp_content(CALL, "offer", offer)  # the same hash and list
    rust.send_to_device(PARENT, "PARENTPHONE", CALL_SDP, content)
    inbox = hs.devices[PARENT]["PARENTPHONE"].inbox
    assert [e["type"] for e in inbox] == ["m.room.encrypted"]
    assert FP_RUST not in str(inbox)  # the server sees ciphertext only
    sent = copy.deepcopy(inbox[0]["content"])
    received = _python_receives(py)
    assert received.kind == "decrypted"
    _python_check(py, received, "offer", offer)
    assert _python_refuses(py, received, "offer", _swapped(offer)) == "sdp_changed"
    # a server that replays the offer's authentication: Olm does not decrypt it twice
    hs.send_to_device(THERAPIST, "m.room.encrypted", {"messages": {PARENT: {"PARENTPHONE": sent}}})
    replayed = _python_receives(py)
    assert replayed.error is not None
    assert replayed.error.code == "replayed"
    assert _python_refuses(py, replayed, "offer", offer) == "not_decrypted"
    # ... or reflects it back to the Rust device as the parent's answer: not for its key
    hs.send_to_device(PARENT, "m.room.encrypted", {"messages": {THERAPIST: {"THERAPISTWEB": sent}}})
    reflected = _rust_receives(rust)
    assert _rust_check(rust, reflected, "answer", offer) == "not_decrypted"

    answer = _sdp(FP_PYTHON)
    py.send_to_device(THERAPIST, "THERAPISTWEB", CALL_SDP, call_sdp_content(CALL, "answer", answer))
    event = _rust_receives(rust)
    assert event["kind"] == DECRYPTED, event
    assert event["isSenderVerified"] is False  # cross-signed by its owner, owner not verified
    assert _rust_check(rust, event, "answer", answer) is None
    assert _rust_check(rust, event, "answer", _swapped(answer)) == "sdp_changed"
    assert _rust_check(rust, event, "offer", answer) == "wrong_kind"
    assert _rust_check(rust, event, "answer", answer, call_id="another") == "wrong_call"
    assert _rust_check(rust, event, "answer", answer, peer_device="PARENTTABLET") == (
        "wrong_device"
    )
    assert _rust_check(rust, event, "answer", answer, verified=True) == "untrusted_device"


def test_python_offers_rust_answers_and_both_authenticate(
    node_driver: NodeDriver, hs: Homeserver
) -> None:
    rust, py = _rust(node_driver, hs), _python(hs)
    hs.create_room(ROOM, {THERAPIST, PARENT})
    _met(rust, py)

    offer = _sdp(FP_PYTHON)
    py.send_to_device(THERAPIST, "THERAPISTWEB", CALL_SDP, call_sdp_content(CALL, "offer", offer))
    event = _rust_receives(rust)
    assert _rust_check(rust, event, "offer", offer) is None
    assert _rust_check(rust, event, "offer", _swapped(offer)) == "sdp_changed"
    # the hash is right but the list is not the SDP's: each side reads the list the same way
    listed = call_sdp_content(CALL, "offer", offer) | {"fingerprints": [FP_PYTHON]}
    py.send_to_device(THERAPIST, "THERAPISTWEB", CALL_SDP, listed)
    assert _rust_check(rust, _rust_receives(rust), "offer", offer) == "fingerprints_changed"

    answer = _sdp(FP_RUST)
    content = rust.call("call_sdp_content", call_id=CALL, kind="answer", sdp=answer)
    rust.send_to_device(PARENT, "PARENTPHONE", CALL_SDP, content)
    received = _python_receives(py)
    _python_check(py, received, "answer", answer)
    assert _python_refuses(py, received, "answer", _swapped(answer)) == "sdp_changed"
    assert _python_refuses(py, received, "offer", answer) == "wrong_kind"
    assert _python_refuses(py, received, "answer", answer, call_id="another") == "wrong_call"
    content["fingerprints"] = [FP_RUST]  # the SDP lists it twice
    rust.send_to_device(PARENT, "PARENTPHONE", CALL_SDP, content)
    assert _python_refuses(py, _python_receives(py), "answer", answer) == "fingerprints_changed"


def test_a_device_not_cross_signed_is_refused_on_both_sides(
    node_driver: NodeDriver, hs: Homeserver
) -> None:
    rust, py = _rust(node_driver, hs, cross_signed=False), _python(hs, cross_signed=False)
    hs.create_room(ROOM, {THERAPIST, PARENT})
    _met(rust, py)

    offer = _sdp(FP_PYTHON)
    py.send_to_device(THERAPIST, "THERAPISTWEB", CALL_SDP, call_sdp_content(CALL, "offer", offer))
    event = _rust_receives(rust)  # CrossSigned: the machine itself refuses to decrypt it
    assert event["kind"] != DECRYPTED, event
    assert _rust_check(rust, event, "offer", offer) == "not_decrypted"
    py.send_to_device(THERAPIST, "THERAPISTWEB", CALL_SDP, call_sdp_content(CALL, "offer", offer))
    event = _rust_receives(rust, trust="Untrusted")  # decrypted, but the app checks trust
    assert event["kind"] == DECRYPTED, event
    assert _rust_check(rust, event, "offer", offer) == "untrusted_device"

    answer = _sdp(FP_RUST)
    content = rust.call("call_sdp_content", call_id=CALL, kind="answer", sdp=answer)
    rust.send_to_device(PARENT, "PARENTPHONE", CALL_SDP, content)
    received = _python_receives(py)
    assert received.kind == "decrypted"
    assert _python_refuses(py, received, "answer", answer) == "untrusted_device"
