"""Cross-signing: master, self-signing and user-signing keys, and the chains they make.

Private side (:class:`CrossSigningKeys`, pynacl): the three keys of one user, the
``keys/device_signing/upload`` body, signatures of own devices (self-signing key) and of
other users' master keys (user-signing key) for ``keys/signatures/upload``.

Public side (:class:`UserIdentity`, pure): the cross-signing keys of a user as a
``keys/query`` answer returns them, each checked against the master key, and the trust
checks built on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import nacl.exceptions
import nacl.secret

from crypto.matrix import ids
from crypto.matrix.canonical import b64decode, b64encode, decode_key, dumps, loads_object
from crypto.matrix.device_keys import DeviceKeys
from crypto.matrix.errors import EncodingError, KeyFormatError
from crypto.matrix.signing import Ed25519SigningKey, Signer, has_valid_signature, sign_json

MASTER = "master"
SELF_SIGNING = "self_signing"
USER_SIGNING = "user_signing"


@dataclass(frozen=True)
class CrossSigningKey:
    """A checked public cross-signing key object."""

    user_id: str
    usage: str
    public_key: str
    raw: Mapping[str, Any]

    @property
    def key_id(self) -> str:
        return f"ed25519:{self.public_key}"

    def signed_by(self, entity: str, key_id: str, public_key: str) -> bool:
        return has_valid_signature(self.raw, entity, key_id, public_key)


def parse_cross_signing_key(
    obj: object, user_id: str, usage: str, master_key: str | None = None
) -> CrossSigningKey:
    """Check a cross-signing key object; ``master_key`` must have signed it when given."""
    if not isinstance(obj, Mapping):
        raise KeyFormatError("a cross-signing key must be an object")
    if obj.get("user_id") != user_id:
        raise KeyFormatError("cross-signing key of another user")
    if obj.get("usage") != [usage]:
        raise KeyFormatError(f"usage must be [{usage!r}]")
    keys = obj.get("keys")
    if not isinstance(keys, Mapping) or len(keys) != 1:
        raise KeyFormatError("a cross-signing key object holds exactly one key")
    ((key_id, public),) = keys.items()
    if not isinstance(public, str) or key_id != f"ed25519:{public}":
        raise KeyFormatError("a cross-signing key id is ed25519:<public key>")
    try:
        decode_key(public)
    except EncodingError as exc:
        raise KeyFormatError(f"cross-signing key: {exc}") from exc
    key = CrossSigningKey(user_id, usage, public, obj)
    if master_key is not None and not key.signed_by(user_id, f"ed25519:{master_key}", master_key):
        raise KeyFormatError(f"{usage} key is not signed by the master key", "bad_signature")
    return key


@dataclass(frozen=True)
class UserIdentity:
    """A user's public cross-signing keys, each checked against the master key."""

    user_id: str
    master: CrossSigningKey
    self_signing: CrossSigningKey | None
    user_signing: CrossSigningKey | None

    def device_is_cross_signed(self, device: DeviceKeys) -> bool:
        """Whether the self-signing key signed these device keys."""
        ssk = self.self_signing
        return (
            ssk is not None
            and device.user_id == self.user_id
            and has_valid_signature(device.raw, self.user_id, ssk.key_id, ssk.public_key)
        )

    def has_signed_master_of(self, other: UserIdentity) -> bool:
        """Whether this user's user-signing key signed ``other``'s master key."""
        usk = self.user_signing
        return usk is not None and other.master.signed_by(self.user_id, usk.key_id, usk.public_key)


def identity_from_query(response: Mapping[str, Any], user_id: str) -> UserIdentity | None:
    """The identity of ``user_id`` in a ``keys/query`` answer (``None`` without a master key).

    A self-signing or user-signing key that the master did not sign is refused.
    """
    ids.user_id(user_id)

    def section(name: str) -> object:
        part = response.get(name)
        return part.get(user_id) if isinstance(part, Mapping) else None

    master_obj = section("master_keys")
    if master_obj is None:
        return None
    master = parse_cross_signing_key(master_obj, user_id, MASTER)
    ssk_obj, usk_obj = section("self_signing_keys"), section("user_signing_keys")
    ssk = (
        parse_cross_signing_key(ssk_obj, user_id, SELF_SIGNING, master.public_key)
        if ssk_obj is not None
        else None
    )
    usk = (
        parse_cross_signing_key(usk_obj, user_id, USER_SIGNING, master.public_key)
        if usk_obj is not None
        else None
    )
    return UserIdentity(user_id, master, ssk, usk)


def _key_object(user_id: str, usage: str, key: Ed25519SigningKey) -> dict[str, Any]:
    return {"user_id": user_id, "usage": [usage], "keys": {key.key_id: key.public_key}}


class CrossSigningKeys:
    """The private cross-signing keys of one user (held by one trusted device)."""

    def __init__(
        self,
        user_id: str,
        master: Ed25519SigningKey,
        self_signing: Ed25519SigningKey,
        user_signing: Ed25519SigningKey,
    ) -> None:
        self.user_id = ids.user_id(user_id)
        self.master = master
        self.self_signing = self_signing
        self.user_signing = user_signing

    @classmethod
    def generate(cls, user_id: str) -> CrossSigningKeys:
        return cls(
            user_id,
            Ed25519SigningKey.generate(),
            Ed25519SigningKey.generate(),
            Ed25519SigningKey.generate(),
        )

    def _sign(self, key: Ed25519SigningKey, obj: Mapping[str, Any]) -> dict[str, Any]:
        return sign_json(obj, self.user_id, key.key_id, key.sign)

    def master_key_json(self) -> dict[str, Any]:
        return _key_object(self.user_id, MASTER, self.master)

    def self_signing_key_json(self) -> dict[str, Any]:
        return self._sign(self.master, _key_object(self.user_id, SELF_SIGNING, self.self_signing))

    def user_signing_key_json(self) -> dict[str, Any]:
        return self._sign(self.master, _key_object(self.user_id, USER_SIGNING, self.user_signing))

    def upload_body(self) -> dict[str, Any]:
        """The ``POST keys/device_signing/upload`` body (without Kaari's re-authentication)."""
        return {
            "master_key": self.master_key_json(),
            "self_signing_key": self.self_signing_key_json(),
            "user_signing_key": self.user_signing_key_json(),
        }

    def public_identity(self) -> UserIdentity:
        return UserIdentity(
            self.user_id,
            parse_cross_signing_key(self.master_key_json(), self.user_id, MASTER),
            parse_cross_signing_key(
                self.self_signing_key_json(), self.user_id, SELF_SIGNING, self.master.public_key
            ),
            parse_cross_signing_key(
                self.user_signing_key_json(), self.user_id, USER_SIGNING, self.master.public_key
            ),
        )

    def sign_own_device(self, device: DeviceKeys) -> dict[str, Any]:
        """Device keys of one of our devices with the self-signing key's signature added."""
        if device.user_id != self.user_id:
            raise KeyFormatError("the self-signing key signs only its own user's devices")
        return self._sign(self.self_signing, device.raw)

    def sign_master_with_device(
        self, device_user: str, device_key_id: str, signer: Signer
    ) -> dict[str, Any]:
        """Our master key signed by one of our devices (``signer`` signs bytes)."""
        return sign_json(self.master_key_json(), device_user, device_key_id, signer)

    def sign_user(self, other: UserIdentity) -> dict[str, Any]:
        """Another user's master key object with our user-signing key's signature added."""
        if other.user_id == self.user_id:
            raise KeyFormatError("the user-signing key signs other users' master keys")
        return self._sign(self.user_signing, other.master.raw)

    def matches(self, identity: UserIdentity) -> bool:
        """Whether the published identity is ours (all three public keys)."""
        return (
            identity.master.public_key == self.master.public_key
            and identity.self_signing is not None
            and identity.self_signing.public_key == self.self_signing.public_key
            and identity.user_signing is not None
            and identity.user_signing.public_key == self.user_signing.public_key
        )

    def pickle(self, pickle_key: bytes) -> str:
        """The three seeds, encrypted with the 32-byte ``pickle_key`` (XSalsa20-Poly1305)."""
        plain = dumps(
            {
                "user_id": self.user_id,
                MASTER: self.master.seed_base64(),
                SELF_SIGNING: self.self_signing.seed_base64(),
                USER_SIGNING: self.user_signing.seed_base64(),
            }
        )
        return b64encode(nacl.secret.SecretBox(pickle_key).encrypt(plain))

    @classmethod
    def from_pickle(cls, data: str, pickle_key: bytes) -> CrossSigningKeys:
        try:
            plain = nacl.secret.SecretBox(pickle_key).decrypt(b64decode(data))
        except (nacl.exceptions.CryptoError, EncodingError) as exc:
            raise EncodingError("cross-signing pickle does not open") from exc
        obj = loads_object(plain)
        return cls(
            obj["user_id"],
            Ed25519SigningKey.from_base64(obj[MASTER]),
            Ed25519SigningKey.from_base64(obj[SELF_SIGNING]),
            Ed25519SigningKey.from_base64(obj[USER_SIGNING]),
        )


def signature_upload_body(*signed: tuple[str, str, Mapping[str, Any]]) -> dict[str, Any]:
    """``keys/signatures/upload`` body from ``(user_id, key id or device id, signed object)``."""
    body: dict[str, dict[str, Any]] = {}
    for user_id, key, obj in signed:
        body.setdefault(user_id, {})[key] = dict(obj)
    return body
