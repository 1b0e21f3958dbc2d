"""Pairwise Olm: the device account (vodozemac ``Account``) and sessions.

Nothing here is hand-written cryptography: the double ratchet, X3DH-style
session set-up and pickling are vodozemac's. This module maps vodozemac's
exceptions onto :mod:`crypto.errors`, signs keys in the formats of
:mod:`crypto.identity`, and keeps the typing precise.
"""

from __future__ import annotations

from typing import Any, Literal

import vodozemac

from crypto import _vodozemac
from crypto.canonical import b64decode
from crypto.errors import DecryptionError, EncodingError, SessionError, StoreError
from crypto.identity import ONE_TIME_KEY_ALGORITHM, device_bundle, one_time_key_object
from crypto.signing import sign_json

#: Olm message types on the wire: 0 = pre-key message, 1 = normal message.
MessageType = Literal[0, 1]
PRE_KEY: MessageType = 0
NORMAL: MessageType = 1


def _curve(key_b64: str) -> vodozemac.Curve25519PublicKey:
    try:
        return vodozemac.Curve25519PublicKey.from_base64(key_b64)
    except (vodozemac.KeyException, ValueError) as exc:
        raise EncodingError(f"bad Curve25519 key: {exc}") from exc


def _message(message_type: int, body: bytes) -> vodozemac.AnyOlmMessage:
    if message_type not in (PRE_KEY, NORMAL):
        raise DecryptionError(f"unknown Olm message type {message_type}")
    try:
        return vodozemac.AnyOlmMessage.from_parts(message_type, body)
    except ValueError as exc:
        raise DecryptionError(f"malformed Olm message: {exc}") from exc


def _pre_key(body: bytes) -> vodozemac.PreKeyMessage:
    pre_key = _message(PRE_KEY, body).to_pre_key()
    if pre_key is None:  # pragma: no cover - from_parts(0, ...) always gives a pre-key message
        raise DecryptionError("not a pre-key message")
    return pre_key


class OlmSession:
    """One Olm session with one peer device (identified by its Curve25519 key)."""

    def __init__(self, session: vodozemac.Session, their_curve25519: str) -> None:
        self._session = session
        self.their_curve25519 = their_curve25519

    @property
    def session_id(self) -> str:
        return self._session.session_id

    def encrypt(self, plaintext: bytes) -> tuple[MessageType, bytes]:
        """Encrypt; the result is a pre-key message until the peer has replied."""
        message_type, body = self._session.encrypt(plaintext).to_parts()
        return (PRE_KEY if message_type == 0 else NORMAL), body

    def matches(self, pre_key_body: bytes) -> bool:
        """Whether a pre-key message belongs to this session."""
        try:
            return self._session.session_matches(_pre_key(pre_key_body))
        except DecryptionError:
            return False

    def decrypt(self, message_type: int, body: bytes) -> bytes:
        """Decrypt, or raise :class:`DecryptionError` (state is left unchanged then)."""
        try:
            return self._session.decrypt(_message(message_type, body))
        except ValueError as exc:
            raise DecryptionError(f"Olm decryption failed: {exc}") from exc

    def pickle(self, key: bytes) -> str:
        return self._session.pickle(key)

    @classmethod
    def from_pickle(cls, pickle: str, key: bytes, their_curve25519: str) -> OlmSession:
        try:
            return cls(vodozemac.Session.from_pickle(pickle, key), their_curve25519)
        except ValueError as exc:
            raise StoreError(f"cannot unpickle Olm session: {exc}") from exc


class OlmAccount:
    """A device's long-term Olm identity: Curve25519 + Ed25519, one-time and fallback keys."""

    def __init__(self, account: vodozemac.Account, user_id: str, device_id: str) -> None:
        self._account = account
        self.user_id = user_id
        self.device_id = device_id

    @classmethod
    def create(cls, user_id: str, device_id: str) -> OlmAccount:
        return cls(vodozemac.Account(), user_id, device_id)

    @classmethod
    def from_pickle(cls, pickle: str, key: bytes, user_id: str, device_id: str) -> OlmAccount:
        try:
            return cls(vodozemac.Account.from_pickle(pickle, key), user_id, device_id)
        except ValueError as exc:
            raise StoreError(f"cannot unpickle Olm account: {exc}") from exc

    def pickle(self, key: bytes) -> str:
        return self._account.pickle(key)

    # -- keys --------------------------------------------------------------
    @property
    def curve25519(self) -> str:
        return self._account.curve25519_key.to_base64()

    @property
    def ed25519(self) -> str:
        return self._account.ed25519_key.to_base64()

    @property
    def key_id(self) -> str:
        """The signing key id of this device: ``ed25519:<device_id>``."""
        return f"ed25519:{self.device_id}"

    def sign(self, message: bytes) -> str:
        """Ed25519 signature (unpadded base64) with the device key."""
        return self._account.sign(message).to_base64()

    def sign_json(self, obj: dict[str, Any]) -> dict[str, Any]:
        return sign_json(obj, self.user_id, self.key_id, self.sign)

    def signed_device_bundle(self) -> dict[str, Any]:
        """The self-signed device bundle (see :mod:`crypto.identity`)."""
        bundle = device_bundle(self.user_id, self.device_id, self.curve25519, self.ed25519)
        return self.sign_json(bundle)

    def generate_one_time_keys(self, count: int) -> None:
        if count < 0:
            raise ValueError("count must be >= 0")
        if count:
            self._account.generate_one_time_keys(count)

    def unpublished_one_time_keys(self) -> dict[str, dict[str, Any]]:
        """Signed one-time keys not yet marked published: ``{"signed_curve25519:<id>": obj}``."""
        return {
            f"{ONE_TIME_KEY_ALGORITHM}:{key_id}": self.sign_json(
                one_time_key_object(key.to_base64())
            )
            for key_id, key in sorted(self._account.one_time_keys.items())
        }

    def generate_fallback_key(self) -> None:
        """Rotate the fallback key; the previous one keeps working until the next rotation."""
        _vodozemac.generate_fallback_key(self._account)

    def unpublished_fallback_key(self) -> dict[str, dict[str, Any]]:
        """The signed fallback key not yet marked published (empty if none)."""
        return {
            f"{ONE_TIME_KEY_ALGORITHM}:{key_id}": self.sign_json(
                one_time_key_object(key.to_base64(), fallback=True)
            )
            for key_id, key in _vodozemac.unpublished_fallback_key(self._account).items()
        }

    def mark_keys_as_published(self) -> None:
        self._account.mark_keys_as_published()

    # -- sessions ----------------------------------------------------------
    def create_outbound_session(self, their_curve25519: str, their_one_time_key: str) -> OlmSession:
        """Start a session from a claimed (and already verified) one-time or fallback key."""
        try:
            session = self._account.create_outbound_session(
                _curve(their_curve25519), _curve(their_one_time_key)
            )
        except ValueError as exc:
            raise SessionError(f"cannot create outbound session: {exc}") from exc
        return OlmSession(session, their_curve25519)

    def create_inbound_session(
        self, their_curve25519: str, pre_key_body: bytes
    ) -> tuple[OlmSession, bytes]:
        """Create a session from a pre-key message; the one-time key is consumed.

        Raises :class:`SessionError` if the message names a one-time key this
        account does not hold (already used, or never issued) or was sent by
        another identity key than ``their_curve25519``.
        """
        try:
            session, plaintext = self._account.create_inbound_session(
                _curve(their_curve25519), _pre_key(pre_key_body)
            )
        except DecryptionError:
            raise
        except ValueError as exc:
            raise SessionError(f"cannot create inbound session: {exc}") from exc
        return OlmSession(session, their_curve25519), plaintext


def decode_body(body_b64: str) -> bytes:
    """Decode an envelope body; raise :class:`DecryptionError` when it is not base64."""
    try:
        return b64decode(body_b64)
    except EncodingError as exc:
        raise DecryptionError(f"ciphertext body is not base64: {exc}") from exc
