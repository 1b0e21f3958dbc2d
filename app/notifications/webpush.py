"""Web Push: VAPID (RFC 8292) and message encryption (RFC 8291, aes128gcm of RFC 8188).

A push message carries no content: only ``{"type": kind, "ids": {...}}``, encrypted for
the browser's subscription keys, so the push service (Google, Mozilla, Apple) sees
neither that nor anything else but its size and time. The device fetches what the ids
point at over the API.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.config import ConfigError, Settings
from app.core.time import unix_seconds

RECORD_SIZE = 4096
JWT_LIFETIME_SECONDS = 12 * 3600  # RFC 8292: at most 24 hours
DEV_SUBJECT = "mailto:development@kaari.invalid"
KEY_FILE = "vapid_private_key"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    """The uncompressed point (65 bytes), as Web Push sends keys."""
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def derive(
    shared: bytes, auth_secret: bytes, ua_public: bytes, as_public: bytes, salt: bytes
) -> tuple[bytes, bytes]:
    """RFC 8291 section 3.4: the content-encryption key and nonce of one message."""
    ikm = _hkdf(auth_secret, shared, b"WebPush: info\x00" + ua_public + as_public, 32)
    cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    return cek, nonce


def encrypt(plaintext: bytes, p256dh: str, auth: str) -> bytes:
    """One aes128gcm record (RFC 8188) for the subscription's keys (RFC 8291)."""
    return encrypt_with(
        plaintext, p256dh, auth, ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
    )


def encrypt_with(
    plaintext: bytes, p256dh: str, auth: str, ephemeral: ec.EllipticCurvePrivateKey, salt: bytes
) -> bytes:
    """``encrypt`` with a given key pair and salt (each message needs fresh ones; the
    RFC 8291 example fixes them)."""
    ua_public = b64url_decode(p256dh)
    auth_secret = b64url_decode(auth)
    ua_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ua_public)
    as_public = public_bytes(ephemeral.public_key())
    shared = ephemeral.exchange(ec.ECDH(), ua_key)
    cek, nonce = derive(shared, auth_secret, ua_public, as_public, salt)
    if len(plaintext) + 17 > RECORD_SIZE:
        raise ValueError("a push payload fits one record")
    record = AESGCM(cek).encrypt(nonce, plaintext + b"\x02", None)  # 0x02: the last record
    header = salt + struct.pack("!IB", RECORD_SIZE, len(as_public)) + as_public
    return header + record


def valid_subscription_keys(p256dh: str, auth: str) -> bool:
    try:
        point = b64url_decode(p256dh)
        secret = b64url_decode(auth)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except (ValueError, TypeError):
        return False
    return len(point) == 65 and len(secret) == 16


@dataclass(frozen=True, slots=True)
class Vapid:
    """The server's VAPID identity: it signs a short JWT for each push service origin."""

    key: ec.EllipticCurvePrivateKey
    subject: str

    @property
    def public_key(self) -> str:
        """base64url of the uncompressed public key: the browser's applicationServerKey."""
        return b64url(public_bytes(self.key.public_key()))

    def authorization(self, endpoint: str, now: float | None = None) -> str:
        parts = urlsplit(endpoint)
        claims = {
            "aud": f"{parts.scheme}://{parts.netloc}",
            "exp": int((now if now is not None else unix_seconds()) + JWT_LIFETIME_SECONDS),
            "sub": self.subject,
        }
        signing_input = (
            b64url(json.dumps({"typ": "JWT", "alg": "ES256"}, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        token = signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        return f"vapid t={token}, k={self.public_key}"


def load_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ConfigError("KAARI_VAPID_PRIVATE_KEY must be a P-256 key")
        return key
    try:
        raw = b64url_decode(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ConfigError("KAARI_VAPID_PRIVATE_KEY must be base64url of 32 bytes, or PEM")
    try:
        return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except ValueError:
        raise ConfigError("KAARI_VAPID_PRIVATE_KEY is not a valid P-256 key") from None


def raw_private_key(key: ec.EllipticCurvePrivateKey) -> str:
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def load_vapid(settings: Settings) -> Vapid:
    """The configured key; in development one generated once into the data directory."""
    subject = settings.vapid_subject or DEV_SUBJECT
    if settings.vapid_private_key:
        return Vapid(load_private_key(settings.vapid_private_key), subject)
    if settings.is_production:
        raise ConfigError("KAARI_VAPID_PRIVATE_KEY must be set in production")
    path = Path(settings.data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of this data directory made it first
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(raw_private_key(key) + "\n")
    return Vapid(load_private_key(path.read_text()), subject)
