"""Canonical JSON, signed JSON, device keys and signed one-time keys."""

from __future__ import annotations

import copy

import pytest

from crypto.matrix.account import DeviceAccount
from crypto.matrix.canonical import b64decode, b64encode, canonical_json
from crypto.matrix.device_keys import parse_claimed_key, parse_device_keys, parse_signed_key
from crypto.matrix.errors import EncodingError, KeyFormatError, SignatureError
from crypto.matrix.signing import Ed25519SigningKey, sign_json, verify_json

# The specification's appendix "Cryptographic test vectors".
SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
SIG_EMPTY = "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
SIG_ONE_TWO = (
    "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
)
USER = "@alice:kaari.test"


@pytest.mark.parametrize(
    ("obj", "expected"), [({}, SIG_EMPTY), ({"one": 1, "two": "Two"}, SIG_ONE_TWO)]
)
def test_spec_signing_vectors(obj: dict[str, object], expected: str) -> None:
    key = Ed25519SigningKey(b64decode(SEED))
    signed = sign_json(obj, "domain", "ed25519:1", key.sign)
    assert signed["signatures"] == {"domain": {"ed25519:1": expected}}
    verify_json(signed, "domain", "ed25519:1", key.public_key)


def test_canonical_json() -> None:
    assert canonical_json({"b": "2", "a": "1"}) == b'{"a":"1","b":"2"}'
    assert canonical_json({"本": 2, "日": 1}) == '{"日":1,"本":2}'.encode()
    assert canonical_json({"a": "\u0001"}) == b'{"a":"\\u0001"}'
    for bad in ({"a": 1.5}, {"a": 2**53}, {1: "x"}):
        with pytest.raises(EncodingError):
            canonical_json(bad)


def test_unsigned_and_other_signatures_are_not_covered_but_everything_else_is() -> None:
    key = Ed25519SigningKey.generate()
    signed = sign_json({"a": 1, "b": [1, 2]}, USER, key.key_id, key.sign)
    signed["unsigned"] = {"age": 5}
    signed["signatures"]["@other:kaari.test"] = {"ed25519:X": "AAAA"}
    verify_json(signed, USER, key.key_id, key.public_key)
    for mutate in (
        lambda o: o.update(a=2),
        lambda o: o["b"].append(3),
        lambda o: o.update(c=None),
        lambda o: o.pop("a"),
    ):
        tampered = copy.deepcopy(signed)
        mutate(tampered)
        with pytest.raises(SignatureError):
            verify_json(tampered, USER, key.key_id, key.public_key)
    with pytest.raises(SignatureError):
        verify_json(signed, USER, key.key_id, Ed25519SigningKey.generate().public_key)
    with pytest.raises(SignatureError):
        verify_json(signed, "@bob:kaari.test", key.key_id, key.public_key)
    bad_sig = copy.deepcopy(signed)
    bad_sig["signatures"][USER][key.key_id] = "not base64!"
    with pytest.raises(SignatureError):
        verify_json(bad_sig, USER, key.key_id, key.public_key)


def test_device_keys_are_self_signed_and_bound_to_their_ids() -> None:
    account = DeviceAccount(USER, "PHONE")
    keys = account.device_keys_json()
    parsed = parse_device_keys(keys, USER, "PHONE")
    assert parsed.curve25519 == account.curve25519
    assert parsed.ed25519 == account.ed25519
    assert keys["algorithms"] == ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"]
    with pytest.raises(KeyFormatError):
        parse_device_keys(keys, USER, "OTHER")  # filed under another device id
    with pytest.raises(KeyFormatError):
        parse_device_keys(keys, "@bob:kaari.test")
    swapped = copy.deepcopy(keys)
    swapped["keys"]["curve25519:PHONE"] = DeviceAccount(USER, "X").curve25519
    with pytest.raises(KeyFormatError) as exc:
        parse_device_keys(swapped)
    assert exc.value.code == "bad_signature"
    unsigned = {k: v for k, v in keys.items() if k != "signatures"}
    with pytest.raises(KeyFormatError):
        parse_device_keys(unsigned)


def test_one_time_and_fallback_keys_are_signed_by_their_device() -> None:
    account = DeviceAccount(USER, "PHONE")
    body = account.keys_upload_body()
    assert body is not None
    device = account.device_keys()
    otks = body["one_time_keys"]
    assert len(otks) == 50
    key_id, obj = next(iter(otks.items()))
    assert key_id.startswith("signed_curve25519:")
    assert set(obj) == {"key", "signatures"}
    assert not parse_signed_key(key_id, obj, device).fallback
    ((fb_id, fb),) = body["fallback_keys"].items()
    assert fb["fallback"] is True
    assert parse_signed_key(fb_id, fb, device).fallback
    assert parse_claimed_key({key_id: obj}, device).curve25519 == obj["key"]

    # The fallback flag is covered by the signature; a key signed by another device is not ok.
    flipped = {**fb, "fallback": False}
    with pytest.raises(KeyFormatError):
        parse_signed_key(fb_id, flipped, device)
    other = DeviceAccount(USER, "LAPTOP").device_keys()
    with pytest.raises(KeyFormatError):
        parse_signed_key(key_id, obj, other)
    with pytest.raises(KeyFormatError):
        parse_signed_key("curve25519:AAAA", obj, device)  # unsigned algorithm refused
    with pytest.raises(KeyFormatError):
        parse_claimed_key({key_id: obj, fb_id: fb}, device)
    assert b64encode(b64decode(obj["key"])) == obj["key"]
