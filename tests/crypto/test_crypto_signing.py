"""Signed JSON, device bundles, one-time keys and cross-signing."""

from __future__ import annotations

import copy

import nacl.signing
import pytest

from crypto.canonical import b64decode, b64encode, canonical_json
from crypto.errors import BundleError, EncodingError, SignatureError
from crypto.identity import verify_device_bundle, verify_one_time_key
from crypto.olm import OlmAccount
from crypto.signing import nacl_signer, sign_json, verify_signed_json

# Matrix specification, appendix "Signing JSON" / cryptographic test vectors
# (the same values are used by Synapse's and matrix-java-sdk's test suites).
SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
SIG_EMPTY = "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
SIG_ONE_TWO = (
    "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
)


def _spec_key() -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(b64decode(SEED))


@pytest.mark.parametrize(
    ("obj", "expected"),
    [({}, SIG_EMPTY), ({"one": 1, "two": "Two"}, SIG_ONE_TWO)],
)
def test_matrix_signing_known_answers(obj: dict[str, object], expected: str) -> None:
    key = _spec_key()
    signed = sign_json(obj, "domain", "ed25519:1", nacl_signer(key))
    assert signed["signatures"] == {"domain": {"ed25519:1": expected}}
    verify_signed_json(signed, "domain", "ed25519:1", b64encode(bytes(key.verify_key)))


def test_signature_ignores_unsigned_and_other_signatures() -> None:
    key = _spec_key()
    signed = sign_json({"one": 1, "two": "Two"}, "domain", "ed25519:1", nacl_signer(key))
    signed["unsigned"] = {"age_ts": 5}
    signed["signatures"]["other"] = {"ed25519:x": "AAAA"}
    assert signed["signatures"]["domain"]["ed25519:1"] == SIG_ONE_TWO
    verify_signed_json(signed, "domain", "ed25519:1", b64encode(bytes(key.verify_key)))


def test_canonical_json_spec_examples() -> None:
    assert canonical_json({"b": "2", "a": "1"}) == b'{"a":"1","b":"2"}'
    assert canonical_json({"本": 2, "日": 1}) == '{"日":1,"本":2}'.encode()
    assert canonical_json({"a": "\u65e5"}) == '{"a":"日"}'.encode()
    assert canonical_json({"a": None}) == b'{"a":null}'
    with pytest.raises(EncodingError):
        canonical_json({"a": 1.5})
    with pytest.raises(EncodingError):
        canonical_json({"a": 2**53})


def test_tampered_signed_json_rejected() -> None:
    key = _spec_key()
    pub = b64encode(bytes(key.verify_key))
    signed = sign_json({"one": 1, "two": "Two"}, "domain", "ed25519:1", nacl_signer(key))
    tampered = copy.deepcopy(signed)
    tampered["one"] = 2
    with pytest.raises(SignatureError):
        verify_signed_json(tampered, "domain", "ed25519:1", pub)
    with pytest.raises(SignatureError):
        verify_signed_json(signed, "other", "ed25519:1", pub)
    with pytest.raises(SignatureError):
        verify_signed_json(signed, "domain", "ed25519:2", pub)
    other = b64encode(bytes(nacl.signing.SigningKey.generate().verify_key))
    with pytest.raises(SignatureError):
        verify_signed_json(signed, "domain", "ed25519:1", other)
    bad_sig = copy.deepcopy(signed)
    bad_sig["signatures"]["domain"]["ed25519:1"] = SIG_EMPTY
    with pytest.raises(SignatureError):
        verify_signed_json(bad_sig, "domain", "ed25519:1", pub)


def test_device_bundle_verifies_with_pynacl() -> None:
    account = OlmAccount.create("@parent:kaari", "PHONE1")
    bundle = account.signed_device_bundle()
    keys = verify_device_bundle(bundle)
    assert keys.curve25519 == account.curve25519
    assert keys.ed25519 == account.ed25519
    assert (keys.user_id, keys.device_id) == ("@parent:kaari", "PHONE1")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b["keys"].__setitem__(
            "curve25519:PHONE1", OlmAccount.create("u", "d").curve25519
        ),
        lambda b: b.__setitem__("user_id", "@mallory:kaari"),
        lambda b: b.__setitem__("device_id", "PHONE2"),
        lambda b: b.pop("signatures"),
        lambda b: b.__setitem__("extra", 1),
        lambda b: b["keys"].__setitem__("ed25519:PHONE1", OlmAccount.create("u", "d").ed25519),
    ],
)
def test_tampered_device_bundle_rejected(mutate: object) -> None:
    bundle = OlmAccount.create("@parent:kaari", "PHONE1").signed_device_bundle()
    mutate(bundle)  # type: ignore[operator]
    with pytest.raises(BundleError):
        verify_device_bundle(bundle)


def test_one_time_and_fallback_keys_are_signed() -> None:
    account = OlmAccount.create("@t:kaari", "LAPTOP")
    account.generate_one_time_keys(3)
    account.generate_fallback_key()
    otks = account.unpublished_one_time_keys()
    fallback = account.unpublished_fallback_key()
    assert len(otks) == 3
    assert len(fallback) == 1
    for obj in otks.values():
        verify_one_time_key(obj, "@t:kaari", "LAPTOP", account.ed25519, fallback=False)
    (fb,) = fallback.values()
    assert verify_one_time_key(fb, "@t:kaari", "LAPTOP", account.ed25519) == fb["key"]
    with pytest.raises(BundleError):
        verify_one_time_key(fb, "@t:kaari", "LAPTOP", account.ed25519, fallback=False)
    tampered = dict(next(iter(otks.values())))
    tampered["key"] = fb["key"]
    with pytest.raises(BundleError):
        verify_one_time_key(tampered, "@t:kaari", "LAPTOP", account.ed25519)
    other = OlmAccount.create("@t:kaari", "LAPTOP")
    with pytest.raises(BundleError):
        verify_one_time_key(fb, "@t:kaari", "LAPTOP", other.ed25519)
