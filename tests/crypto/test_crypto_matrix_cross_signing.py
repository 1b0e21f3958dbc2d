"""Cross-signing keys, identities from keys/query, trust chains and QR verification."""

from __future__ import annotations

import copy

import pytest
from matrix_support import device, query_answer

from crypto.matrix.cross_signing import CrossSigningKeys, identity_from_query
from crypto.matrix.device_keys import parse_device_keys
from crypto.matrix.errors import EncodingError, KeyFormatError
from crypto.matrix.signing import has_valid_signature
from crypto.matrix.trust import DeviceTrust, device_trust, sign_own_device_body


def test_upload_body_shapes_and_signatures() -> None:
    keys = CrossSigningKeys.generate("@alice:kaari.test")
    body = keys.upload_body()
    assert set(body) == {"master_key", "self_signing_key", "user_signing_key"}
    master = body["master_key"]
    assert master["usage"] == ["master"]
    assert master["keys"] == {keys.master.key_id: keys.master.public_key}
    for name in ("self_signing_key", "user_signing_key"):
        assert has_valid_signature(
            body[name], keys.user_id, keys.master.key_id, keys.master.public_key
        )


def test_identity_from_query_refuses_keys_the_master_did_not_sign() -> None:
    alice = device("alice", "A1")
    alice.bootstrap_cross_signing()
    answer = query_answer(alice)
    identity = identity_from_query(answer, alice.user_id)
    assert identity is not None
    assert alice.cross_signing is not None
    assert identity.master.public_key == alice.cross_signing.master.public_key
    assert identity.user_signing is None  # only shown to its owner
    assert identity_from_query(answer, "@nobody:kaari.test") is None
    forged = copy.deepcopy(answer)
    other = CrossSigningKeys.generate(alice.user_id)
    forged["self_signing_keys"][alice.user_id] = other.self_signing_key_json()
    with pytest.raises(KeyFormatError):
        identity_from_query(forged, alice.user_id)
    wrong_usage = copy.deepcopy(answer)
    wrong_usage["master_keys"][alice.user_id]["usage"] = ["self_signing"]
    with pytest.raises(KeyFormatError):
        identity_from_query(wrong_usage, alice.user_id)


def test_trust_chain_through_the_user_signing_key() -> None:
    alice, bob = device("alice", "A1"), device("bob", "B1")
    alice.bootstrap_cross_signing()
    bob.bootstrap_cross_signing()
    assert alice.cross_signing is not None
    assert bob.cross_signing is not None
    answer = query_answer(bob)
    bob_identity = identity_from_query(answer, bob.user_id)
    assert bob_identity is not None
    bob_device = bob.account.device_keys()
    signed_device = bob.cross_signing.sign_own_device(bob_device)
    bob_device = parse_device_keys(signed_device)
    own = alice.own_identity()
    assert device_trust(own, bob_identity, bob_device) is DeviceTrust.CROSS_SIGNED
    assert device_trust(own, None, bob_device) is DeviceTrust.UNTRUSTED
    # Unsigned by bob's self-signing key: untrusted even when bob is verified.
    assert device_trust(own, bob_identity, bob.account.device_keys()) is DeviceTrust.UNTRUSTED

    alice.track_users([bob.user_id])
    alice.keys_query_body()
    alice.on_keys_query_response(answer)
    with pytest.raises(KeyFormatError) as exc:
        alice.verify_user_from_qr(bob.user_id, alice.cross_signing.master.public_key)
    assert exc.value.code == "master_key_mismatch"
    body = alice.verify_user_from_qr(bob.user_id, bob.cross_signing.master.public_key)
    signed_master = body[bob.user_id][bob.cross_signing.master.public_key]
    assert has_valid_signature(
        signed_master,
        alice.user_id,
        alice.cross_signing.user_signing.key_id,
        alice.cross_signing.user_signing.public_key,
    )
    # What the server returns to alice after the upload: bob's master with her signature.
    answer["master_keys"][bob.user_id] = signed_master
    verified = identity_from_query(answer, bob.user_id)
    assert device_trust(own, verified, bob_device) is DeviceTrust.VERIFIED

    # Our own devices are verified through our self-signing key.
    alice_device = parse_device_keys(
        sign_own_device_body(alice.cross_signing, alice.account.device_keys())[alice.user_id]["A1"]
    )
    assert device_trust(own, own, alice_device) is DeviceTrust.VERIFIED
    with pytest.raises(KeyFormatError):
        alice.cross_signing.sign_own_device(bob_device)


def test_cross_signing_pickle() -> None:
    keys = CrossSigningKeys.generate("@alice:kaari.test")
    data = keys.pickle(b"c" * 32)
    assert keys.master.seed_base64() not in data
    restored = CrossSigningKeys.from_pickle(data, b"c" * 32)
    assert restored.master.public_key == keys.master.public_key
    assert restored.user_signing.public_key == keys.user_signing.public_key
    with pytest.raises(EncodingError):
        CrossSigningKeys.from_pickle(data, b"d" * 32)
