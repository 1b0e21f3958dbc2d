"""Matrix-style signed JSON with Ed25519, verified with pynacl only.

An object is signed over the canonical JSON of the object without its
``signatures`` and ``unsigned`` members; the unpadded-base64 signature is stored
at ``signatures[<entity>][<key id>]`` (key id = ``ed25519:<name>``).

The server imports :func:`verify_signed_json`; it needs no vodozemac.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import nacl.exceptions
import nacl.signing

from crypto.canonical import b64decode, b64encode, canonical_json, decode_key
from crypto.errors import EncodingError, SignatureError

#: A function that signs bytes and returns the unpadded-base64 Ed25519 signature.
Signer = Callable[[bytes], str]


def signable_bytes(obj: Mapping[str, Any]) -> bytes:
    """Canonical JSON of ``obj`` without ``signatures`` and ``unsigned``."""
    if not isinstance(obj, Mapping):
        raise EncodingError("a signed object must be a JSON object")
    stripped = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    return canonical_json(stripped)


def add_signature(
    obj: Mapping[str, Any], entity: str, key_id: str, signature_b64: str
) -> dict[str, Any]:
    """Return a deep copy of ``obj`` with one more signature merged in."""
    out = copy.deepcopy(dict(obj))
    sigs = out.setdefault("signatures", {})
    if not isinstance(sigs, dict):
        raise EncodingError("signatures must be an object")
    sigs.setdefault(entity, {})[key_id] = signature_b64
    return out


def sign_json(obj: Mapping[str, Any], entity: str, key_id: str, signer: Signer) -> dict[str, Any]:
    """Sign ``obj`` as ``entity`` with ``key_id`` and return the signed copy."""
    return add_signature(obj, entity, key_id, signer(signable_bytes(obj)))


def nacl_signer(signing_key: nacl.signing.SigningKey) -> Signer:
    """A :data:`Signer` backed by a pynacl signing key."""

    def sign(message: bytes) -> str:
        return b64encode(signing_key.sign(message).signature)

    return sign


def verify_signature(message: bytes, signature_b64: str, ed25519_key_b64: str) -> None:
    """Verify a detached Ed25519 signature; raise :class:`SignatureError`."""
    try:
        key = nacl.signing.VerifyKey(decode_key(ed25519_key_b64))
        sig = b64decode(signature_b64)
    except (EncodingError, TypeError, ValueError) as exc:
        raise SignatureError(f"malformed key or signature: {exc}") from exc
    if len(sig) != 64:
        raise SignatureError("an Ed25519 signature is 64 bytes")
    try:
        key.verify(message, sig)
    except nacl.exceptions.BadSignatureError as exc:
        raise SignatureError("signature does not verify") from exc


def verify_signed_json(
    obj: Mapping[str, Any], user_id: str, key_id: str, ed25519_key_b64: str
) -> None:
    """Check that ``obj`` carries a valid signature by ``user_id``/``key_id``.

    ``key_id`` is the full signing key identifier, e.g. ``"ed25519:DEVICEID"``.
    Pure function: no I/O, no vodozemac. Raises :class:`SignatureError` when the
    signature is missing, malformed, or does not match the canonical JSON of
    ``obj`` without ``signatures`` and ``unsigned``.
    """
    if not isinstance(obj, Mapping):
        raise SignatureError("a signed object must be a JSON object")
    sigs = obj.get("signatures")
    if not isinstance(sigs, Mapping):
        raise SignatureError("no signatures")
    by_entity = sigs.get(user_id)
    if not isinstance(by_entity, Mapping):
        raise SignatureError(f"no signature by {user_id!r}")
    signature = by_entity.get(key_id)
    if not isinstance(signature, str):
        raise SignatureError(f"no signature with key {key_id!r}")
    try:
        message = signable_bytes(obj)
    except EncodingError as exc:
        raise SignatureError(f"object is not canonical-JSON encodable: {exc}") from exc
    verify_signature(message, signature, ed25519_key_b64)
