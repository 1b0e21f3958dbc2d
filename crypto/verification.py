"""The invite QR code shown by the therapist's app at the first home visit.

Scanning it joins the case *and* pins the therapist's master key, so the family
never has to trust the server for the first key. Compact binary, then
base64url (no padding)::

    magic  "KQR"        3 bytes
    version             1 byte   (currently 1)
    invite secret      32 bytes
    therapist master   32 bytes  (Ed25519 public key)
    expected scanner   32 bytes  (the key the scanner is expected to hold;
                                  all zeros = not bound to a key yet)
    nonce              16 bytes
    expires at          8 bytes  (Unix seconds, big-endian)

Each failure has its own error: :class:`QrFormatError`, :class:`QrVersionError`,
:class:`QrExpiredError`, :class:`QrNonceMismatchError`,
:class:`QrKeyMismatchError`.
"""

from __future__ import annotations

import hmac
import secrets
import struct

import msgspec

from crypto.canonical import b64encode, b64url_decode, b64url_encode, decode_key
from crypto.errors import (
    EncodingError,
    QrExpiredError,
    QrFormatError,
    QrKeyMismatchError,
    QrNonceMismatchError,
    QrVersionError,
)

QR_MAGIC = b"KQR"
QR_VERSION = 1
_LAYOUT = struct.Struct(">3sB32s32s32s16sQ")
UNBOUND_KEY = bytes(32)


class InviteQr(msgspec.Struct, frozen=True):
    """The decoded invite payload (keys and secrets as raw bytes)."""

    invite_secret: bytes
    therapist_master_key: bytes
    expected_scanner_key: bytes
    nonce: bytes
    expires_at: int
    version: int = QR_VERSION

    @property
    def therapist_master_key_b64(self) -> str:
        return b64encode(self.therapist_master_key)


def new_invite_qr(
    therapist_master_key_b64: str,
    expires_at: int,
    *,
    expected_scanner_key_b64: str | None = None,
    invite_secret: bytes | None = None,
    nonce: bytes | None = None,
) -> InviteQr:
    """Create an invite payload with a fresh secret and nonce."""
    return InviteQr(
        invite_secret=invite_secret or secrets.token_bytes(32),
        therapist_master_key=decode_key(therapist_master_key_b64),
        expected_scanner_key=(
            decode_key(expected_scanner_key_b64) if expected_scanner_key_b64 else UNBOUND_KEY
        ),
        nonce=nonce or secrets.token_bytes(16),
        expires_at=expires_at,
    )


def encode_invite_qr(qr: InviteQr) -> str:
    """The string to put in the QR code (base64url of the compact binary)."""
    if len(qr.invite_secret) != 32 or len(qr.nonce) != 16:
        raise EncodingError("invite secret is 32 bytes and nonce 16 bytes")
    raw = _LAYOUT.pack(
        QR_MAGIC,
        qr.version,
        qr.invite_secret,
        qr.therapist_master_key,
        qr.expected_scanner_key,
        qr.nonce,
        qr.expires_at,
    )
    return b64url_encode(raw)


def decode_invite_qr(text: str) -> InviteQr:
    """Parse a scanned QR string (format and version only; no policy checks)."""
    try:
        raw = b64url_decode(text.strip())
    except EncodingError as exc:
        raise QrFormatError("QR payload is not base64url") from exc
    if len(raw) < 4 or raw[:3] != QR_MAGIC:
        raise QrFormatError("not a Kaari invite QR code")
    if raw[3] != QR_VERSION:
        raise QrVersionError(f"unsupported invite QR version {raw[3]}")
    if len(raw) != _LAYOUT.size:
        raise QrFormatError("invite QR payload has the wrong length")
    _, version, secret, master, scanner, nonce, expires = _LAYOUT.unpack(raw)
    return InviteQr(secret, master, scanner, nonce, expires, version)


def verify_invite_qr(
    text: str,
    *,
    now: int,
    expected_nonce: bytes,
    scanner_key_b64: str | None,
    served_master_key_b64: str | None = None,
) -> InviteQr:
    """Decode and check a scanned invite; return it if everything matches.

    * ``now``: current Unix time (seconds); at or after ``expires_at`` -> expired.
    * ``expected_nonce``: the nonce of the invite this device is accepting.
    * ``scanner_key_b64``: the scanning user's own master key; must equal the key
      the therapist expects, unless the QR is not bound to a key.
    * ``served_master_key_b64``: the therapist master key the server serves, if
      already fetched; must equal the one in the QR (this is the MITM check).
    """
    qr = decode_invite_qr(text)
    if now >= qr.expires_at:
        raise QrExpiredError("invite QR code has expired")
    if not hmac.compare_digest(qr.nonce, expected_nonce):
        raise QrNonceMismatchError("invite QR nonce does not match the invite")
    scanner_ok = scanner_key_b64 is not None and hmac.compare_digest(
        qr.expected_scanner_key, decode_key(scanner_key_b64)
    )
    if qr.expected_scanner_key != UNBOUND_KEY and not scanner_ok:
        raise QrKeyMismatchError("the QR code expects another key for this device's user")
    if served_master_key_b64 is not None and not hmac.compare_digest(
        qr.therapist_master_key, decode_key(served_master_key_b64)
    ):
        raise QrKeyMismatchError("the server serves another master key than the QR code shows")
    return qr
