"""Invite QR, SAS and safety numbers."""

from __future__ import annotations

import secrets

import pytest

from crypto.canonical import b64encode, b64url_decode, b64url_encode
from crypto.cross_signing import UserMasterKey
from crypto.errors import (
    QrExpiredError,
    QrFormatError,
    QrKeyMismatchError,
    QrNonceMismatchError,
    QrVersionError,
    SasError,
)
from crypto.safety_number import numeric_fingerprint, safety_number
from crypto.sas import SasParty, SasVerification
from crypto.verification import encode_invite_qr, new_invite_qr, verify_invite_qr

NOW = 1_750_000_000
THERAPIST = UserMasterKey.generate("@therapist:kaari")
FAMILY = UserMasterKey.generate("@parent:kaari")


def _qr(**kw: object) -> tuple[str, bytes]:
    nonce = secrets.token_bytes(16)
    qr = new_invite_qr(
        THERAPIST.public_key,
        NOW + 600,
        expected_scanner_key_b64=FAMILY.public_key,
        nonce=nonce,
        **kw,  # type: ignore[arg-type]
    )
    return encode_invite_qr(qr), nonce


def test_qr_success() -> None:
    text, nonce = _qr()
    assert len(text) < 200  # fits a small QR code
    qr = verify_invite_qr(
        text,
        now=NOW,
        expected_nonce=nonce,
        scanner_key_b64=FAMILY.public_key,
        served_master_key_b64=THERAPIST.public_key,
    )
    assert qr.therapist_master_key_b64 == THERAPIST.public_key


def test_qr_wrong_scanner_key() -> None:
    text, nonce = _qr()
    with pytest.raises(QrKeyMismatchError):
        verify_invite_qr(
            text,
            now=NOW,
            expected_nonce=nonce,
            scanner_key_b64=UserMasterKey.generate("@x:k").public_key,
        )


def test_qr_server_serves_other_master_key() -> None:
    text, nonce = _qr()
    with pytest.raises(QrKeyMismatchError):
        verify_invite_qr(
            text,
            now=NOW,
            expected_nonce=nonce,
            scanner_key_b64=FAMILY.public_key,
            served_master_key_b64=UserMasterKey.generate("@mallory:k").public_key,
        )


def test_qr_wrong_nonce() -> None:
    text, _ = _qr()
    with pytest.raises(QrNonceMismatchError):
        verify_invite_qr(
            text, now=NOW, expected_nonce=secrets.token_bytes(16), scanner_key_b64=FAMILY.public_key
        )


def test_qr_expired() -> None:
    text, nonce = _qr()
    with pytest.raises(QrExpiredError):
        verify_invite_qr(
            text, now=NOW + 600, expected_nonce=nonce, scanner_key_b64=FAMILY.public_key
        )


def test_qr_bad_version_and_format() -> None:
    text, nonce = _qr()
    raw = bytearray(b64url_decode(text))
    raw[3] = 9
    with pytest.raises(QrVersionError):
        verify_invite_qr(
            b64url_encode(bytes(raw)), now=NOW, expected_nonce=nonce, scanner_key_b64=None
        )
    with pytest.raises(QrFormatError):
        verify_invite_qr(
            "https://example.org/?x", now=NOW, expected_nonce=nonce, scanner_key_b64=None
        )
    with pytest.raises(QrFormatError):
        verify_invite_qr(text[:-8], now=NOW, expected_nonce=nonce, scanner_key_b64=None)


def _sas_pair() -> tuple[SasVerification, SasVerification]:
    alice = SasVerification(SasParty("@a:k", "A"), SasParty("@b:k", "B"), "txn1", we_started=True)
    bob = SasVerification(SasParty("@b:k", "B"), SasParty("@a:k", "A"), "txn1", we_started=False)
    return alice, bob


def test_sas_matches_on_both_sides_and_macs_verify() -> None:
    alice, bob = _sas_pair()
    codes_a = alice.receive_key(bob.public_key)
    codes_b = bob.receive_key(alice.public_key)
    assert codes_a == codes_b
    assert len(codes_a.emoji_indices) == 7
    assert all(0 <= i < 64 for i in codes_a.emoji_indices)
    assert all(1000 <= d <= 9191 for d in codes_a.decimals)
    alice_keys = {"ed25519:A": "a" * 43}
    bob.verify_keys(alice_keys, alice.mac_keys(alice_keys))
    with pytest.raises(SasError):
        bob.verify_keys({"ed25519:A": "m" * 43}, alice.mac_keys(alice_keys))


def test_sas_mitm_gives_different_codes() -> None:
    alice, bob = _sas_pair()
    mallory_to_alice = SasVerification(
        SasParty("@b:k", "B"), SasParty("@a:k", "A"), "txn1", we_started=False
    )
    mallory_to_bob = SasVerification(
        SasParty("@a:k", "A"), SasParty("@b:k", "B"), "txn1", we_started=True
    )
    codes_a = alice.receive_key(mallory_to_alice.public_key)
    codes_b = bob.receive_key(mallory_to_bob.public_key)
    assert codes_a != codes_b
    assert (
        mallory_to_alice.receive_key(alice.public_key) == codes_a
    )  # Mallory sees both, cannot align them


# libsignal NumericFingerprintGeneratorTest / test_fingerprint.c vectors (5200 iterations).
ALICE_IDENTITY = bytes.fromhex("0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868")
BOB_IDENTITY = bytes.fromhex("05f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b")
DISPLAYABLE = "300354477692869396892869876765458257569162576843440918079131"


def test_numeric_fingerprint_known_answer() -> None:
    alice = numeric_fingerprint(b"+14152222222", ALICE_IDENTITY, b"+14153333333", BOB_IDENTITY)
    bob = numeric_fingerprint(b"+14153333333", BOB_IDENTITY, b"+14152222222", ALICE_IDENTITY)
    assert alice == bob == DISPLAYABLE


def test_safety_number_symmetric_and_key_sensitive() -> None:
    a = UserMasterKey.generate("@a:k")
    b = UserMasterKey.generate("@b:k")
    n = safety_number("@a:k", a.public_key, "@b:k", b.public_key)
    assert n == safety_number("@b:k", b.public_key, "@a:k", a.public_key)
    assert len(n.replace(" ", "")) == 60
    assert n != safety_number("@a:k", a.public_key, "@b:k", b64encode(secrets.token_bytes(32)))
