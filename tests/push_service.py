"""A stand-in for a Web Push service (RFC 8030) on 127.0.0.1, for tests.

It is strict, like a real one: a message is accepted (201) only if its
``Authorization: vapid t=…, k=…`` carries an ES256 JWT that verifies against ``k`` (and
``k`` is the key the server publishes, when one is expected), names this service's
origin as ``aud``, expires within 24 hours and has a ``mailto:``/``https:`` ``sub``; and
only if its body decrypts (RFC 8291 + RFC 8188 aes128gcm: ECDH with the subscription's
private key, HKDF, AES-128-GCM) with the subscription's keys. The decryption here is
written independently of app/notifications/webpush.py. What it accepts it records;
what it refuses it records with the reason. Tests may script answers (410, 429, 503).
"""

from __future__ import annotations

import base64
import json
import secrets
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hmac import HMAC


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hmac(key: bytes, data: bytes) -> bytes:
    h = HMAC(key, hashes.SHA256())
    h.update(data)
    return h.finalize()


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 written out (extract, one expand block): independent of the app's."""
    prk = _hmac(salt, ikm)
    return _hmac(prk, info + b"\x01")[:length]


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def decrypt(body: bytes, ua_private: ec.EllipticCurvePrivateKey, auth_secret: bytes) -> bytes:
    """The user agent's side of RFC 8291 for one aes128gcm record."""
    if len(body) < 21 + 65 + 17:
        raise Refused(400, "too_short")
    salt = body[:16]
    rs, idlen = struct.unpack("!IB", body[16:21])
    if idlen != 65 or rs < 18:
        raise Refused(400, "bad_header")
    as_public = body[21 : 21 + idlen]
    record = body[21 + idlen :]
    if len(record) > rs:
        raise Refused(400, "record_too_long")
    ua_public = ua_private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    try:
        as_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), as_public)
    except ValueError:
        raise Refused(400, "bad_key") from None
    shared = ua_private.exchange(ec.ECDH(), as_key)
    ikm = _hkdf(auth_secret, shared, b"WebPush: info\x00" + ua_public + as_public, 32)
    cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    try:
        padded = AESGCM(cek).decrypt(nonce, record, None)
    except InvalidTag:
        raise Refused(400, "decryption_failed") from None
    end = padded.rstrip(b"\x00")
    if not end.endswith(b"\x02"):
        raise Refused(400, "bad_padding")
    return end[:-1]


def verify_vapid(header: str, origin: str, expected_key: str | None) -> dict[str, Any]:
    """The JWT's claims if the header is a valid VAPID authorization for ``origin``."""
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "vapid":
        raise Refused(401, "not_vapid")
    params = dict(p.strip().split("=", 1) for p in rest.split(",") if "=" in p)
    token, key = params.get("t", ""), params.get("k", "")
    if expected_key is not None and key != expected_key:
        raise Refused(403, "unexpected_key")
    parts = token.split(".")
    if len(parts) != 3:
        raise Refused(401, "bad_jwt")
    try:
        head = json.loads(unb64u(parts[0]))
        claims = json.loads(unb64u(parts[1]))
        signature = unb64u(parts[2])
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64u(key))
    except ValueError:
        raise Refused(401, "bad_jwt") from None
    if head.get("alg") != "ES256" or len(signature) != 64:
        raise Refused(401, "bad_alg")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public.verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Refused(401, "bad_signature") from None
    now = time.time()
    if claims.get("aud") != origin:
        raise Refused(401, "bad_aud")
    exp = claims.get("exp")
    if not isinstance(exp, int) or not now < exp <= now + 24 * 3600:
        raise Refused(401, "bad_exp")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise Refused(401, "bad_sub")
    return dict(claims)


@dataclass
class Subscription:
    id: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    @property
    def p256dh(self) -> str:
        return b64u(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def as_json(self) -> dict[str, Any]:
        """What a browser's ``PushSubscription.toJSON()`` gives the app."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": b64u(self.auth)}}


@dataclass
class Received:
    subscription: str
    payload: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass
class PushService:
    expected_key: str | None = None
    """the VAPID public key the server publishes; anything signed by another is refused"""
    received: list[Received] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    scripted: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status, _reason = service.handle(self)
                self.send_response(status)
                self.send_header("content-length", "0")
                if status == 201:
                    self.send_header("location", f"/message/{secrets.token_hex(8)}")
                if status == 429:
                    self.send_header("retry-after", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def subscribe(self) -> Subscription:
        sub_id = secrets.token_hex(8)
        sub = Subscription(
            id=sub_id,
            endpoint=f"{self.origin}/push/{sub_id}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=secrets.token_bytes(16),
        )
        with self.lock:
            self.subscriptions[sub_id] = sub
        return sub

    def script(self, sub: Subscription, *statuses: int) -> None:
        """Answer the next messages for ``sub`` with these statuses (after checking them)."""
        with self.lock:
            self.scripted.setdefault(sub.id, []).extend(statuses)

    def for_subscription(self, sub: Subscription) -> list[dict[str, Any]]:
        with self.lock:
            return [r.payload for r in self.received if r.subscription == sub.id]

    def handle(self, request: BaseHTTPRequestHandler) -> tuple[int, str]:
        sub_id = request.path.rsplit("/", 1)[-1]
        length = int(request.headers.get("content-length", "0"))
        body = request.rfile.read(length) if length else b""
        try:
            with self.lock:
                sub = self.subscriptions.get(sub_id)
            if sub is None or not request.path.startswith("/push/"):
                raise Refused(404, "unknown_subscription")
            verify_vapid(request.headers.get("authorization", ""), self.origin, self.expected_key)
            if request.headers.get("content-encoding") != "aes128gcm":
                raise Refused(415, "not_aes128gcm")
            if not request.headers.get("ttl", "").isdigit():
                raise Refused(400, "no_ttl")
            payload = json.loads(decrypt(body, sub.private_key, sub.auth))
        except Refused as refused:
            with self.lock:
                self.refused.append((sub_id, refused.reason))
            return refused.status, refused.reason
        with self.lock:
            queue = self.scripted.get(sub_id) or []
            status = queue.pop(0) if queue else 201
            if status == 201:
                headers = {k.lower(): v for k, v in request.headers.items()}
                self.received.append(Received(sub_id, payload, headers, time.monotonic()))
            else:
                self.refused.append((sub_id, f"scripted_{status}"))
        return status, "ok"
