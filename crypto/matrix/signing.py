"""Signing JSON the Matrix way, and an Ed25519 signing key for cross-signing.

An object is signed over the canonical JSON of the object without its ``signatures``
and ``unsigned`` members; the unpadded-base64 signature is stored at
``signatures[<entity>][<key id>]`` with ``<key id> = ed25519:<name>``. Verification uses
pynacl only, so the server can check uploads without vodozemac.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import nacl.exceptions
import nacl.signing

from crypto.matrix.canonical import b64decode, b64encode, canonical_json, decode_key
from crypto.matrix.errors import EncodingError, SignatureError

#: Signs bytes and returns the unpadded-base64 Ed25519 signature.
Signer = Callable[[bytes], str]


def signable_bytes(obj: Mapping[str, Any]) -> bytes:
    """Canonical JSON of ``obj`` without ``signatures`` and ``unsigned``."""
    if not isinstance(obj, Mapping):
        raise EncodingError("a signed object must be a JSON object")
    return canonical_json({k: v for k, v in obj.items() if k not in ("signatures", "unsigned")})


def add_signature(
    obj: Mapping[str, Any], entity: str, key_id: str, signature: str
) -> dict[str, Any]:
    """A deep copy of ``obj`` with one more signature merged into ``signatures``."""
    out = copy.deepcopy(dict(obj))
    sigs = out.setdefault("signatures", {})
    if not isinstance(sigs, dict):
        raise EncodingError("signatures must be an object")
    by_entity = sigs.setdefault(entity, {})
    if not isinstance(by_entity, dict):
        raise EncodingError("signatures of an entity must be an object")
    by_entity[key_id] = signature
    return out


def sign_json(obj: Mapping[str, Any], entity: str, key_id: str, signer: Signer) -> dict[str, Any]:
    """Sign ``obj`` as ``entity`` with ``key_id``; the signed copy keeps other signatures."""
    return add_signature(obj, entity, key_id, signer(signable_bytes(obj)))


def verify_ed25519(message: bytes, signature: object, public_key: object) -> None:
    """Verify a detached Ed25519 signature (both unpadded base64); raise :class:`SignatureError`."""
    try:
        key = nacl.signing.VerifyKey(decode_key(public_key))
        sig = b64decode(signature) if isinstance(signature, str) else b""
    except (EncodingError, TypeError, ValueError) as exc:
        raise SignatureError(f"malformed key or signature: {exc}") from exc
    if len(sig) != 64:
        raise SignatureError("an Ed25519 signature is 64 bytes")
    try:
        key.verify(message, sig)
    except nacl.exceptions.BadSignatureError as exc:
        raise SignatureError("signature does not verify") from exc


def signature_of(obj: Mapping[str, Any], entity: str, key_id: str) -> str:
    """The signature ``signatures[entity][key_id]``; raise :class:`SignatureError` if absent."""
    sigs = obj.get("signatures") if isinstance(obj, Mapping) else None
    by_entity = sigs.get(entity) if isinstance(sigs, Mapping) else None
    signature = by_entity.get(key_id) if isinstance(by_entity, Mapping) else None
    if not isinstance(signature, str):
        raise SignatureError(f"no signature by {entity} with {key_id}")
    return signature


def verify_json(obj: Mapping[str, Any], entity: str, key_id: str, public_key: str) -> None:
    """Check that ``obj`` carries a valid signature by ``entity``/``key_id`` with ``public_key``.

    ``key_id`` is the whole signing key identifier, e.g. ``ed25519:DEVICEID`` or
    ``ed25519:<master public key>``. Raises :class:`SignatureError`.
    """
    signature = signature_of(obj, entity, key_id)
    try:
        message = signable_bytes(obj)
    except EncodingError as exc:
        raise SignatureError(f"object is not canonical JSON: {exc}") from exc
    verify_ed25519(message, signature, public_key)


def has_valid_signature(obj: Mapping[str, Any], entity: str, key_id: str, public_key: str) -> bool:
    """Whether :func:`verify_json` passes."""
    try:
        verify_json(obj, entity, key_id, public_key)
    except SignatureError:
        return False
    return True


class Ed25519SigningKey:
    """A standalone Ed25519 private key (pynacl), used for the cross-signing keys."""

    __slots__ = ("_key",)

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise EncodingError("an Ed25519 seed is 32 bytes")
        self._key = nacl.signing.SigningKey(seed)

    @classmethod
    def generate(cls) -> Ed25519SigningKey:
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_base64(cls, seed: str) -> Ed25519SigningKey:
        return cls(decode_key(seed))

    @property
    def seed(self) -> bytes:
        """The 32-byte private seed (keep it only in an encrypted store)."""
        return bytes(self._key)

    def seed_base64(self) -> str:
        """The seed as unpadded base64 (the form ``m.cross_signing.*`` secrets use)."""
        return b64encode(self.seed)

    @property
    def public_key(self) -> str:
        """The public key, unpadded base64."""
        return b64encode(bytes(self._key.verify_key))

    @property
    def key_id(self) -> str:
        """``ed25519:<public key>``, the id of a cross-signing key."""
        return f"ed25519:{self.public_key}"

    def sign(self, message: bytes) -> str:
        """Sign ``message``; the unpadded-base64 signature."""
        return b64encode(self._key.sign(message).signature)
