"""Olm to-device messages between the Rust machine and the Python device, both ways."""

from __future__ import annotations

from interop_homeserver import Homeserver
from interop_peers import NodeDriver, PyDevice, RustDevice

ALICE = "@alice:kaari.test"
BOB = "@bob:kaari.test"


def _pair(node_driver: NodeDriver, hs: Homeserver) -> tuple[RustDevice, PyDevice]:
    rust = RustDevice(node_driver, hs, ALICE, "ALICEWEB")
    rust.flush()  # uploads device keys and one-time keys
    py = PyDevice(hs, BOB, "BOBPY")
    hs.create_room("!room:kaari.test", {ALICE, BOB})
    return rust, py


def _decrypted(results: list, kind: str = "decrypted") -> list:
    return [r for r in results if r.kind == kind]


def test_rust_to_python_and_back_reuses_one_session(
    node_driver: NodeDriver, hs: Homeserver
) -> None:
    rust, py = _pair(node_driver, hs)

    rust.send_to_device(BOB, "BOBPY", "org.kaari.test", {"n": 1})
    first = _decrypted(py.sync())
    assert [(r.type, r.content, r.sender) for r in first] == [("org.kaari.test", {"n": 1}, ALICE)]
    assert first[0].olm is not None
    assert first[0].olm.new_session
    session_id = first[0].olm.session_id
    assert first[0].olm.sender_device is not None
    assert first[0].olm.sender_device.device_id == "ALICEWEB"

    # Python answers over the session Rust opened: no one-time key of Rust is claimed.
    claims_before = len(hs.claims)
    py.send_to_device(ALICE, "ALICEWEB", "org.kaari.test", {"n": 2})
    assert len(hs.claims) == claims_before
    events = rust.sync()
    assert [e["raw"]["content"] for e in events if e["kind"] == 0] == [{"n": 2}]
    assert events[0]["sender"] == ALICE.replace("alice", "bob")

    # The second message from Rust is a normal (type 1) message on the same session.
    rust.send_to_device(BOB, "BOBPY", "org.kaari.test", {"n": 3})
    inbox = hs.devices[BOB]["BOBPY"].inbox
    ciphertext = inbox[0]["content"]["ciphertext"][py.dev.account.curve25519]
    assert ciphertext["type"] == 1
    second = _decrypted(py.sync())
    assert [r.content for r in second] == [{"n": 3}]
    assert second[0].olm is not None
    assert second[0].olm.session_id == session_id
    assert not second[0].olm.new_session
    assert py.dev.olm.session_ids(rust.curve25519) == [session_id]


def test_python_to_rust_first_then_reply(node_driver: NodeDriver, hs: Homeserver) -> None:
    rust, py = _pair(node_driver, hs)

    py.send_to_device(ALICE, "ALICEWEB", "org.kaari.test", {"hello": "rust"})
    assert len(hs.claims) == 1  # Python claimed one of Rust's one-time keys
    events = rust.sync()
    decrypted = [e for e in events if e["kind"] == 0]
    assert [e["raw"]["content"] for e in decrypted] == [{"hello": "rust"}]
    assert decrypted[0]["senderDevice"] == "BOBPY"
    assert decrypted[0]["senderCurve25519Key"] == py.dev.account.curve25519

    # Rust replies over the session Python opened (no claim of Python's keys) ...
    rust.send_to_device(BOB, "BOBPY", "org.kaari.test", {"hello": "python"})
    assert len(hs.claims) == 1
    reply = _decrypted(py.sync())
    assert [r.content for r in reply] == [{"hello": "python"}]
    assert reply[0].olm is not None
    assert not reply[0].olm.new_session
    assert len(py.dev.olm.session_ids(rust.curve25519)) == 1

    # ... and Python's next message is a normal message on it, which Rust decrypts.
    py.send_to_device(ALICE, "ALICEWEB", "org.kaari.test", {"again": True})
    inbox = hs.devices[ALICE]["ALICEWEB"].inbox
    assert inbox[0]["content"]["ciphertext"][rust.curve25519]["type"] == 1
    assert [e["raw"]["content"] for e in rust.sync() if e["kind"] == 0] == [{"again": True}]


def test_forged_sender_from_rust_is_refused(node_driver: NodeDriver, hs: Homeserver) -> None:
    rust, py = _pair(node_driver, hs)
    rust.send_to_device(BOB, "BOBPY", "org.kaari.test", {"n": 1})
    # A malicious server claims the event came from someone else.
    hs.devices[BOB]["BOBPY"].inbox[0]["sender"] = "@mallory:kaari.test"
    results = py.sync()
    assert [(r.kind, r.error.code if r.error else None) for r in results] == [
        ("refused", "forged_sender")
    ]
