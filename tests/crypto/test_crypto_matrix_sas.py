"""The SAS flow between two Python sides: the same codes on both, MACs that prove the
device and master keys, and each way of going wrong refused with the spec's cancel code."""

from __future__ import annotations

from typing import Any

import pytest
from matrix_support import device, meet

from crypto.matrix import MatrixDevice
from crypto.matrix.sas import EMOJI, SasError, SasFlow, SasParty


def _party(d: MatrixDevice) -> SasParty:
    return SasParty(d.user_id, d.device_id)


def _to_shown(alice: MatrixDevice, bob: MatrixDevice) -> tuple[SasFlow, SasFlow]:
    """Alice asks and starts, Bob accepts; both reach the codes."""
    a = SasFlow.request(_party(alice), _party(bob), "t1")
    b = SasFlow.from_request(_party(bob), alice.user_id, a.request_content())
    start = a.on_ready(b.ready())
    a_key = a.on_accept(b.on_start(start))
    b_key = b.on_key(a_key)
    assert b_key is not None
    assert a.on_key(b_key) is None
    return a, b


def _macs(
    alice: MatrixDevice, bob: MatrixDevice, a: SasFlow, b: SasFlow
) -> tuple[dict[str, Any], dict[str, Any]]:
    assert alice.cross_signing is not None
    assert bob.cross_signing is not None
    a_mac = a.confirm(alice.account.ed25519, alice.cross_signing.master.public_key)
    b_mac = b.confirm(bob.account.ed25519, bob.cross_signing.master.public_key)
    return a_mac, b_mac


def _pair() -> tuple[MatrixDevice, MatrixDevice]:
    alice, bob = device("alice", "A1"), device("bob", "B1")
    alice.bootstrap_cross_signing()
    bob.bootstrap_cross_signing()
    meet(alice, bob)
    meet(bob, alice)
    return alice, bob


def test_both_sides_show_the_same_codes_and_prove_their_keys() -> None:
    alice, bob = _pair()
    a, b = _to_shown(alice, bob)
    assert a.emoji_indices() == b.emoji_indices()
    assert len(a.emoji_indices()) == 7
    assert all(0 <= i < 64 for i in a.emoji_indices())
    assert a.emoji() == [EMOJI[i] for i in b.emoji_indices()]
    assert a.decimals() == b.decimals()
    assert all(1000 <= n <= 9191 for n in a.decimals())
    a_mac, b_mac = _macs(alice, bob, a, b)
    bob_keys, alice_keys = (
        alice.directory.device(bob.user_id, "B1"),
        bob.directory.device(alice.user_id, "A1"),
    )
    assert bob_keys is not None
    assert alice_keys is not None
    got = a.on_mac(b_mac, bob_keys, alice.directory.identities.get(bob.user_id))
    assert bob.cross_signing is not None
    assert (got.device_id, got.master_key) == ("B1", bob.cross_signing.master.public_key)
    assert b.on_mac(a_mac, alice_keys, bob.directory.identities.get(alice.user_id)).device_id == (
        "A1"
    )
    assert a.done() == {"transaction_id": "t1"}
    assert b.done() == {"transaction_id": "t1"}


def test_a_key_that_breaks_the_commitment_is_refused() -> None:
    alice, bob = _pair()
    a = SasFlow.request(_party(alice), _party(bob), "t1")
    b = SasFlow.from_request(_party(bob), alice.user_id, a.request_content())
    a.on_accept(b.on_start(a.on_ready(b.ready())))
    mallory = SasFlow.request(_party(bob), _party(alice), "t1")  # another ephemeral key
    with pytest.raises(SasError) as exc:
        a.on_key(mallory._key_content())
    assert exc.value.code == "m.mismatched_commitment"


def test_a_mac_over_other_keys_is_refused() -> None:
    alice, bob = _pair()
    a, b = _to_shown(alice, bob)
    _, b_mac = _macs(alice, bob, a, b)
    eve = device("bob", "B2")  # a device the server could have slipped in
    meet(alice, bob, eve)
    eve_keys = alice.directory.device(bob.user_id, "B2")
    bob_keys = alice.directory.device(bob.user_id, "B1")
    assert eve_keys is not None
    assert bob_keys is not None
    with pytest.raises(SasError) as exc:
        a.on_mac(b_mac, eve_keys, None)
    assert exc.value.code == "m.key_mismatch"
    tampered = {**b_mac, "mac": {k: v[::-1] for k, v in b_mac["mac"].items()}}
    with pytest.raises(SasError) as exc:
        a.on_mac(tampered, bob_keys, None)
    assert exc.value.code == "m.key_mismatch"
    dropped = {**b_mac, "mac": {k: v for k, v in b_mac["mac"].items() if "B1" not in k}}
    with pytest.raises(SasError) as exc:
        a.on_mac(dropped, bob_keys, None)  # the key-id list MAC no longer matches
    assert exc.value.code == "m.key_mismatch"


def test_out_of_order_foreign_and_unsupported_events_are_refused() -> None:
    alice, bob = _pair()
    a = SasFlow.request(_party(alice), _party(bob), "t1")
    request = a.request_content()
    with pytest.raises(SasError) as exc:
        SasFlow.from_request(_party(bob), alice.user_id, {**request, "methods": ["m.qr_code"]})
    assert exc.value.code == "m.unknown_method"
    b = SasFlow.from_request(_party(bob), alice.user_id, request)
    ready = b.ready()
    with pytest.raises(SasError) as exc:
        a.on_accept({"transaction_id": "t1"})  # nothing was started
    assert exc.value.code == "m.unexpected_message"
    with pytest.raises(SasError) as exc:
        a.on_ready({**ready, "transaction_id": "other"})
    assert exc.value.code == "m.unknown_transaction"
    start = a.on_ready(ready)
    with pytest.raises(SasError) as exc:
        b.on_start({**start, "message_authentication_codes": ["hkdf-hmac-sha256"]})
    assert exc.value.code == "m.unknown_method"
    with pytest.raises(SasError) as exc:
        a.emoji()  # no key agreement yet
    assert exc.value.code == "m.unexpected_message"
    with pytest.raises(SasError):
        a.done()
    assert a.cancel("m.user", "no") == {"code": "m.user", "reason": "no", "transaction_id": "t1"}
