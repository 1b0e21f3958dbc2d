"""User master signing key (Ed25519, pynacl) and the master -> device chain.

Master key object (uploaded once per user, self-signed)::

    {"user_id": "...", "usage": ["master"],
     "keys": {"ed25519:<pub>": "<pub>"},
     "signatures": {"<user_id>": {"ed25519:<pub>": "<sig>"}}}

The master key signs each device bundle: the signature is added to the
bundle's ``signatures[<user_id>]["ed25519:<master pub>"]``; the device's own
self-signature stays valid because signatures are not covered.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import msgspec
import nacl.signing

from crypto.canonical import b64encode, decode_key
from crypto.errors import BundleError, EncodingError, SignatureError
from crypto.identity import DeviceKeys, check_identifier, verify_device_bundle
from crypto.signing import nacl_signer, sign_json, signable_bytes, verify_signed_json


class MasterKey(msgspec.Struct, frozen=True):
    """A verified user master key."""

    user_id: str
    ed25519: str


class UserMasterKey:
    """The private master signing key of one user."""

    def __init__(self, user_id: str, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("master key seed must be 32 bytes")
        self.user_id = check_identifier(user_id, "user_id")
        self._key = nacl.signing.SigningKey(seed)
        self._seed = seed

    @classmethod
    def generate(cls, user_id: str) -> UserMasterKey:
        return cls(user_id, secrets.token_bytes(32))

    @property
    def seed(self) -> bytes:
        """The 32-byte secret seed (store it only inside the encrypted store)."""
        return self._seed

    @property
    def public_key(self) -> str:
        return b64encode(bytes(self._key.verify_key))

    @property
    def key_id(self) -> str:
        return f"ed25519:{self.public_key}"

    def sign_bytes(self, message: bytes) -> str:
        return nacl_signer(self._key)(message)

    def master_key_object(self) -> dict[str, Any]:
        """The self-signed master key object to upload."""
        obj = {
            "user_id": self.user_id,
            "usage": ["master"],
            "keys": {self.key_id: self.public_key},
        }
        return sign_json(obj, self.user_id, self.key_id, nacl_signer(self._key))

    def sign_device(self, bundle: Mapping[str, Any]) -> dict[str, Any]:
        """Cross-sign a (self-signed, verified) device bundle of this user."""
        keys = verify_device_bundle(bundle)
        if keys.user_id != self.user_id:
            raise BundleError("cannot cross-sign another user's device")
        return sign_json(bundle, self.user_id, self.key_id, nacl_signer(self._key))

    def device_signature(self, bundle: Mapping[str, Any]) -> str:
        """Just the master signature over ``bundle`` (for a separate upload)."""
        return self.sign_bytes(signable_bytes(bundle))


def verify_master_key(obj: Mapping[str, Any]) -> MasterKey:
    """Verify a self-signed master key object. Pure (pynacl). Raises :class:`BundleError`."""
    if not isinstance(obj, Mapping):
        raise BundleError("master key must be a JSON object")
    if set(obj) - {"user_id", "usage", "keys", "signatures", "unsigned"}:
        raise BundleError("unexpected fields in master key")
    user_id = check_identifier(obj.get("user_id"), "user_id")
    if obj.get("usage") != ["master"]:
        raise BundleError("usage must be ['master']")
    keys = obj.get("keys")
    if not isinstance(keys, Mapping) or len(keys) != 1:
        raise BundleError("a master key object holds exactly one key")
    ((key_id, pub),) = keys.items()
    if not isinstance(pub, str) or key_id != f"ed25519:{pub}":
        raise BundleError("master key id must be ed25519:<public key>")
    try:
        decode_key(pub)
        verify_signed_json(obj, user_id, key_id, pub)
    except (EncodingError, SignatureError) as exc:
        raise BundleError(f"master key invalid: {exc}") from exc
    return MasterKey(user_id, pub)


def verify_cross_signed_device(bundle: Mapping[str, Any], master_key_b64: str) -> DeviceKeys:
    """Verify a device bundle's self-signature and its user's master signature.

    Pure (pynacl). Raises :class:`SignatureError` (or :class:`BundleError`).
    """
    keys = verify_device_bundle(bundle)
    verify_signed_json(bundle, keys.user_id, f"ed25519:{master_key_b64}", master_key_b64)
    return keys
