"""Cross-signing and QR trust between the two implementations, and withheld keys."""

from __future__ import annotations

import pytest
from interop_homeserver import Homeserver
from interop_peers import NodeDriver, PyDevice, RustDevice

from crypto.matrix.errors import KeyFormatError, KeyWithheldError
from crypto.matrix.trust import DeviceTrust

THERAPIST = "@therapist:kaari.test"
PARENT = "@parent:kaari.test"
ROOM = "!family:kaari.test"


def _rust_cross_signed(node_driver: NodeDriver, hs: Homeserver) -> RustDevice:
    rust = RustDevice(node_driver, hs, THERAPIST, "THERAPISTWEB")
    rust.flush()
    boot = rust.call("bootstrap_cross_signing")
    if boot["upload_keys"] is not None:
        rust.relay(boot["upload_keys"])
    hs.device_signing_upload(THERAPIST, boot["upload_signing_keys"])
    rust.relay(boot["upload_signatures"])
    rust.flush()
    return rust


def _py_cross_signed(hs: Homeserver) -> PyDevice:
    py = PyDevice(hs, PARENT, "PARENTPHONE")
    upload, signatures = py.dev.bootstrap_cross_signing()
    hs.device_signing_upload(PARENT, upload)
    assert hs.signatures_upload(PARENT, signatures) == {"failures": {}}
    return py


def test_rust_sees_the_python_cross_signing_and_both_verify_by_qr(
    node_driver: NodeDriver, hs: Homeserver
) -> None:
    rust = _rust_cross_signed(node_driver, hs)
    py = _py_cross_signed(hs)
    hs.create_room(ROOM, {THERAPIST, PARENT})
    assert py.dev.cross_signing is not None
    python_master = py.dev.cross_signing.master.public_key

    # Rust: the Python user's identity is valid and the Python device is cross-signed by it.
    rust.call("update_tracked", users=[PARENT])
    rust.flush()
    identity = rust.call("identity", user=PARENT)
    assert identity["own"] is False
    assert list(identity["masterKey"]["keys"].values()) == [python_master]
    assert not identity["isVerified"]
    device = rust.call("device_info", user=PARENT, device="PARENTPHONE")
    assert device["isCrossSignedByOwner"] is True
    assert device["isVerified"] is False

    # Python scans the therapist's invite QR: it shows the therapist's master key.
    qr_master = next(iter(rust.call("identity", user=THERAPIST)["masterKey"]["keys"].values()))
    py.sync()
    py.dev.track_users([THERAPIST])
    py.query()
    therapist_device = py.dev.directory.device(THERAPIST, "THERAPISTWEB")
    assert therapist_device is not None
    assert py.dev.trust(therapist_device) is DeviceTrust.CROSS_SIGNED
    with pytest.raises(KeyFormatError) as exc:
        py.dev.verify_user_from_qr(THERAPIST, python_master)  # not the key in the QR
    assert exc.value.code == "master_key_mismatch"
    body = py.dev.verify_user_from_qr(THERAPIST, qr_master)
    assert hs.signatures_upload(PARENT, body) == {"failures": {}}
    py.sync()  # our own signature upload changed the therapist's keys: re-query
    therapist_device = py.dev.directory.device(THERAPIST, "THERAPISTWEB")
    assert therapist_device is not None
    assert py.dev.trust(therapist_device) is DeviceTrust.VERIFIED

    # The therapist verifies the parent back; Rust then trusts the Python device.
    rust.relay(rust.call("verify_identity", user=PARENT))
    rust.sync()
    assert rust.call("identity", user=PARENT)["isVerified"] is True
    device = rust.call("device_info", user=PARENT, device="PARENTPHONE")
    assert device["isVerified"] is True
    assert device["isCrossSigningTrusted"] is True

    # And a room message from the Python device decrypts with a clean shield under the
    # strict trust requirement.
    py.send_room(ROOM, "m.room.message", {"body": "verified both ways"})
    rust.sync()
    out = rust.decrypt(hs.rooms[ROOM].timeline[-1], ROOM, trust="CrossSigned")
    assert "error" not in out, out
    assert out["event"]["content"] == {"body": "verified both ways"}
    assert out["shield"]["color"] == 2  # ShieldColor.None: nothing to warn about


def test_rust_strict_policy_withholds_from_an_unverified_python_device(
    node_driver: NodeDriver, hs: Homeserver
) -> None:
    rust = _rust_cross_signed(node_driver, hs)
    py = PyDevice(hs, PARENT, "PARENTPHONE")  # no cross-signing: not verifiable
    hs.create_room(ROOM, {THERAPIST, PARENT})

    shares = rust.prepare_room(ROOM, strategy="identity")
    assert [s["event_type"] for s in shares] == ["m.room_key.withheld"]
    rust.send_room(ROOM, "m.room.message", {"body": "for verified devices only"}, "identity")
    results = py.sync()
    plain = [r for r in results if r.kind == "plain"]
    assert [r.type for r in plain] == ["m.room_key.withheld"]
    assert plain[0].content["code"] == "m.unverified"
    with pytest.raises(KeyWithheldError) as exc:
        py.decrypt(hs.rooms[ROOM].timeline[-1], ROOM)
    assert exc.value.withheld_code == "m.unverified"


def test_python_strict_policy_withholds_from_an_unverified_rust_device(
    node_driver: NodeDriver, hs: Homeserver
) -> None:
    rust = RustDevice(node_driver, hs, THERAPIST, "THERAPISTWEB")
    rust.flush()
    py = _py_cross_signed(hs)
    hs.create_room(ROOM, {THERAPIST, PARENT})

    reqs = py.share_room_key(ROOM, only_verified=True)
    assert [r.event_type for r in reqs] == ["m.room_key.withheld"]
    event_id = py.send_room_strict(ROOM, {"body": "not for unverified devices"})
    rust.sync()
    withheld = rust.call("withheld")
    assert [(w["roomId"], w["code"], w["sender"]) for w in withheld] == [
        (ROOM, "m.unverified", PARENT)
    ]
    event = next(e for e in hs.rooms[ROOM].timeline if e["event_id"] == event_id)
    out = rust.decrypt(event, ROOM)
    assert out["error"]["withheld"] == "m.unverified", out


def test_rust_forwards_a_room_key_to_our_own_verified_python_device(
    node_driver: NodeDriver, hs: Homeserver
) -> None:
    web = _rust_cross_signed(node_driver, hs)  # the therapist's laptop holds the keys
    assert web.call("set_forwarding", enabled=True) is True
    parent = PyDevice(hs, PARENT, "PARENTPHONE")
    hs.create_room(ROOM, {THERAPIST, PARENT})
    parent.send_room(ROOM, "m.room.message", {"body": "sent before the tablet existed"})
    event = hs.rooms[ROOM].timeline[-1]
    web.sync()

    tablet = PyDevice(hs, THERAPIST, "THERAPISTTABLET")
    web.sync()  # the new device shows up in Rust's device list; the laptop verifies it
    assert web.relay(web.call("verify_device", user=THERAPIST, device="THERAPISTTABLET")) == {
        "failures": {}
    }
    web.sync()
    assert web.call("device_info", user=THERAPIST, device="THERAPISTTABLET")["isVerified"]
    # The tablet trusts its user's master key shown by the laptop (own-device QR).
    master = next(iter(web.call("identity", user=THERAPIST)["masterKey"]["keys"].values()))
    tablet.dev.trust_own_master_key(master)
    tablet.ensure_sessions([THERAPIST])
    laptop_keys = tablet.dev.directory.device(THERAPIST, "THERAPISTWEB")
    assert laptop_keys is not None
    assert tablet.dev.trust(laptop_keys) is DeviceTrust.VERIFIED

    request = tablet.dev.room_key_request(ROOM, event["content"]["session_id"])
    hs.send_to_device(
        THERAPIST,
        "m.room_key_request",
        {"messages": {THERAPIST: {"THERAPISTWEB": request.content()}}},
    )
    web.sync()
    web.sync()  # a key claim for the tablet may come first
    results = tablet.sync()
    forwarded = [r for r in results if r.type == "m.forwarded_room_key"]
    assert [r.kind for r in forwarded] == ["decrypted"], results
    out = tablet.decrypt(event, ROOM)
    assert out.event.content == {"body": "sent before the tablet existed"}
    assert out.event.session.forwarding_chain[-1] == web.curve25519
    assert not out.authenticated
