"""SAS emoji verification (``m.key.verification.*`` to-device) between the Python flow
(crypto/matrix/sas.py) and matrix-sdk-crypto-wasm, each side in either role: the same
seven emoji and numbers on both screens, MACs that each side accepts, then both verified;
a "they do not match" cancels the Rust side's flow and verifies nothing."""

from __future__ import annotations

from typing import Any

from interop_homeserver import Homeserver
from interop_peers import SIGNATURE_UPLOAD, NodeDriver, PyDevice, RustDevice
from test_interop_trust import PARENT, ROOM, THERAPIST, _py_cross_signed, _rust_cross_signed

from crypto.matrix.sas import ACCEPT, DONE, KEY, MAC, READY, REQUEST, START, SasFlow, SasParty
from crypto.matrix.trust import DeviceTrust

RUST_DEVICE, PY_DEVICE = "THERAPISTWEB", "PARENTPHONE"


def _pair(node_driver: NodeDriver, hs: Homeserver) -> tuple[RustDevice, PyDevice]:
    rust = _rust_cross_signed(node_driver, hs)
    py = _py_cross_signed(hs)
    hs.create_room(ROOM, {THERAPIST, PARENT})
    rust.call("update_tracked", users=[PARENT])
    rust.flush()
    py.dev.track_users([THERAPIST])
    py.sync()
    return rust, py


def _send(py: PyDevice, event_type: str, content: dict[str, Any]) -> None:
    py.hs.send_to_device(PARENT, event_type, {"messages": {THERAPIST: {RUST_DEVICE: content}}})


def _received(py: PyDevice, event_type: str) -> dict[str, Any]:
    events = [r for r in py.sync() if r.type == event_type]
    assert [(r.kind, r.sender) for r in events] == [("plain", THERAPIST)], events
    return dict(events[0].content)


def _same_codes(rust: RustDevice, flow: SasFlow, flow_id: str) -> None:
    sas = rust.call("verification", user=PARENT, flow=flow_id)["sas"]
    assert sas["canBePresented"] is True
    assert tuple(sas["emojiIndex"]) == flow.emoji_indices()
    assert [(e["symbol"], e["description"]) for e in sas["emoji"]] == flow.emoji()
    assert tuple(sas["decimals"]) == flow.decimals()


def _finish(rust: RustDevice, py: PyDevice, flow: SasFlow, flow_id: str) -> None:
    """Both people say the emoji match: MACs both ways, done, and the trust each gains."""
    for req in rust.call("sas_confirm", user=PARENT, flow=flow_id):
        rust.relay(req)
    therapist = py.dev.directory.device(THERAPIST, RUST_DEVICE)
    assert therapist is not None
    result = flow.on_mac(_received(py, MAC), therapist, py.dev.directory.identities[THERAPIST])
    master = next(iter(rust.call("identity", user=THERAPIST)["masterKey"]["keys"].values()))
    assert (result.device_id, result.master_key) == (RUST_DEVICE, master)
    assert py.dev.cross_signing is not None
    _send(py, MAC, flow.confirm(py.dev.account.ed25519, py.dev.cross_signing.master.public_key))
    _send(py, DONE, flow.done())
    rust.sync()
    state = rust.call("verification", user=PARENT, flow=flow_id)
    assert (state["done"], state["cancelled"]) == (True, False), state
    # The SDK trusts the Python device and, from the MACed master key, the Python user
    # (it uploaded its user-signing signature in that sync; the next one reads it back).
    assert rust.call("device_info", user=PARENT, device=PY_DEVICE)["isVerified"] is True
    assert [r["type"] for r in rust.requests[-3:]].count(SIGNATURE_UPLOAD) == 1
    rust.sync()
    assert rust.call("identity", user=PARENT)["isVerified"] is True
    # Python signs the therapist's MACed master key with its user-signing key.
    assert py.dev.trust(therapist) is DeviceTrust.CROSS_SIGNED
    body = py.dev.verify_user_from_qr(THERAPIST, result.master_key or "")
    assert py.hs.signatures_upload(PARENT, body) == {"failures": {}}
    py.sync()
    assert py.dev.trust(therapist) is DeviceTrust.VERIFIED


def test_rust_asks_and_starts_python_accepts(node_driver: NodeDriver, hs: Homeserver) -> None:
    rust, py = _pair(node_driver, hs)
    asked = rust.call("request_verification", user=PARENT, device=PY_DEVICE)
    rust.relay(asked["request"])
    flow = SasFlow.from_request(SasParty(PARENT, PY_DEVICE), THERAPIST, _received(py, REQUEST))
    assert (flow.them, flow.transaction_id) == (SasParty(THERAPIST, RUST_DEVICE), asked["flowId"])
    _send(py, READY, flow.ready())
    rust.sync()
    assert rust.call("verification", user=PARENT, flow=asked["flowId"])["ready"] is True
    rust.relay(rust.call("start_sas", user=PARENT, flow=asked["flowId"]))
    _send(py, ACCEPT, flow.on_start(_received(py, START)))
    rust.sync()  # the SDK answers the accept with its key
    answer = flow.on_key(_received(py, KEY))
    assert answer is not None
    _send(py, KEY, answer)
    rust.sync()
    _same_codes(rust, flow, asked["flowId"])
    _finish(rust, py, flow, asked["flowId"])


def test_python_asks_and_starts_rust_accepts(node_driver: NodeDriver, hs: Homeserver) -> None:
    rust, py = _pair(node_driver, hs)
    flow = SasFlow.request(SasParty(PARENT, PY_DEVICE), SasParty(THERAPIST, RUST_DEVICE), "sas1")
    _send(py, REQUEST, flow.request_content())
    rust.sync()
    rust.relay(rust.call("accept_verification", user=PARENT, flow="sas1"))
    _send(py, START, flow.on_ready(_received(py, READY)))
    rust.sync()
    rust.relay(rust.call("sas_accept", user=PARENT, flow="sas1"))
    _send(py, KEY, flow.on_accept(_received(py, ACCEPT)))
    rust.sync()  # the SDK checks our key against... nothing: it sent the commitment
    assert flow.on_key(_received(py, KEY)) is None  # we started: the commitment is checked
    _same_codes(rust, flow, "sas1")
    _finish(rust, py, flow, "sas1")


def test_emoji_that_do_not_match_cancel_and_verify_nothing(
    node_driver: NodeDriver, hs: Homeserver
) -> None:
    rust, py = _pair(node_driver, hs)
    flow = SasFlow.request(SasParty(PARENT, PY_DEVICE), SasParty(THERAPIST, RUST_DEVICE), "sas2")
    _send(py, REQUEST, flow.request_content())
    rust.sync()
    rust.relay(rust.call("accept_verification", user=PARENT, flow="sas2"))
    _send(py, START, flow.on_ready(_received(py, READY)))
    rust.sync()
    rust.relay(rust.call("sas_accept", user=PARENT, flow="sas2"))
    _send(py, KEY, flow.on_accept(_received(py, ACCEPT)))
    rust.sync()
    flow.on_key(_received(py, KEY))
    # the parent says the emoji on the therapist's screen are not hers
    _send(py, "m.key.verification.cancel", flow.cancel("m.mismatched_sas", "emoji differ"))
    rust.sync()
    state = rust.call("verification", user=PARENT, flow="sas2")
    assert state["cancelled"] is True
    assert state["cancelCode"] == "m.mismatched_sas"
    assert rust.call("device_info", user=PARENT, device=PY_DEVICE)["isVerified"] is False
    assert rust.call("identity", user=PARENT)["isVerified"] is False
