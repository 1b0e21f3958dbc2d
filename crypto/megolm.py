"""Case content with Megolm: one outbound group session per (device, case).

The session key is shared with every member device over Olm (as a
:class:`crypto.payloads.RoomKeyShare`); new member devices receive an exported
inbound session (from index 0) so they can read existing content. Every Megolm
message carries an Ed25519 signature by the session's signing key, which
vodozemac checks on decryption; the receiver binds the session to the origin
device's keys received with the share, and checks the sender named inside the
plaintext against them.
"""

from __future__ import annotations

import vodozemac

from crypto.canonical import b64decode, b64encode
from crypto.errors import (
    DecryptionError,
    EncodingError,
    SessionError,
    StoreError,
    UnknownMessageIndexError,
)
from crypto.payloads import PartyKeys

#: Rotate an outbound session after this many messages or this age (ms) at most.
ROTATE_AFTER_MESSAGES = 1000
ROTATE_AFTER_MS = 7 * 24 * 3600 * 1000


class OutboundCaseSession:
    """The sending half: this device's Megolm session for one case."""

    def __init__(self, session: vodozemac.GroupSession, case_id: str, created_at: int) -> None:
        self._session = session
        self.case_id = case_id
        self.created_at = created_at

    @classmethod
    def create(cls, case_id: str, now_ms: int) -> OutboundCaseSession:
        return cls(vodozemac.GroupSession(), case_id, now_ms)

    @property
    def session_id(self) -> str:
        return self._session.session_id

    @property
    def message_index(self) -> int:
        """Index the next message will get."""
        return self._session.message_index

    def session_key(self) -> str:
        """The current session key (ratchet at :attr:`message_index`), to share over Olm."""
        return self._session.session_key.to_base64()

    def encrypt(self, plaintext: bytes) -> str:
        """Encrypt and sign; returns the Megolm message as unpadded base64."""
        return b64encode(self._session.encrypt(plaintext).to_bytes())

    def needs_rotation(self, now_ms: int) -> bool:
        return (
            self.message_index >= ROTATE_AFTER_MESSAGES
            or now_ms - self.created_at >= ROTATE_AFTER_MS
        )

    def pickle(self, key: bytes) -> str:
        return self._session.pickle(key)

    @classmethod
    def from_pickle(
        cls, pickle: str, key: bytes, case_id: str, created_at: int
    ) -> OutboundCaseSession:
        try:
            return cls(vodozemac.GroupSession.from_pickle(pickle, key), case_id, created_at)
        except ValueError as exc:
            raise StoreError(f"cannot unpickle Megolm session: {exc}") from exc


def _megolm_message(body_b64: str) -> vodozemac.MegolmMessage:
    try:
        return vodozemac.MegolmMessage.from_bytes(b64decode(body_b64))
    except (EncodingError, ValueError) as exc:
        raise DecryptionError(f"malformed Megolm message: {exc}") from exc


def megolm_message_index(body_b64: str) -> int:
    """The message index of a Megolm message (without decrypting it)."""
    return _megolm_message(body_b64).message_index()


class InboundCaseSession:
    """The receiving half of some device's Megolm session for one case."""

    def __init__(
        self,
        session: vodozemac.InboundGroupSession,
        case_id: str,
        origin: PartyKeys,
        *,
        forwarded: bool,
    ) -> None:
        self._session = session
        self.case_id = case_id
        self.origin = origin
        self.forwarded = forwarded

    @classmethod
    def from_session_key(
        cls, case_id: str, session_key: str, origin: PartyKeys
    ) -> InboundCaseSession:
        """Import a session key received directly from its origin device."""
        try:
            session = vodozemac.InboundGroupSession(vodozemac.SessionKey(session_key))
        except ValueError as exc:
            raise SessionError(f"bad Megolm session key: {exc}") from exc
        return cls(session, case_id, origin, forwarded=False)

    @classmethod
    def from_export(cls, case_id: str, exported_key: str, origin: PartyKeys) -> InboundCaseSession:
        """Import an exported session (history), e.g. from index 0."""
        try:
            session = vodozemac.InboundGroupSession.import_session(
                vodozemac.ExportedSessionKey(exported_key)
            )
        except ValueError as exc:
            raise SessionError(f"bad exported Megolm session: {exc}") from exc
        return cls(session, case_id, origin, forwarded=True)

    @property
    def session_id(self) -> str:
        return self._session.session_id

    @property
    def first_known_index(self) -> int:
        return self._session.first_known_index

    def export_at(self, index: int | None = None) -> str:
        """Export the session from ``index`` (default: the first known index)."""
        at = self.first_known_index if index is None else index
        exported = self._session.export_at(at)
        if exported is None:
            raise UnknownMessageIndexError(
                f"cannot export from index {at}: this session is known from index "
                f"{self.first_known_index} only"
            )
        return exported.to_base64()

    def decrypt(self, body_b64: str) -> tuple[bytes, int]:
        """Verify the signature and decrypt; return ``(plaintext, message_index)``.

        Raises :class:`UnknownMessageIndexError` for a message older than the
        first known index (the key for it was never shared with this device).
        """
        message = _megolm_message(body_b64)
        index = message.message_index()
        if index < self.first_known_index:
            raise UnknownMessageIndexError(
                f"message index {index} precedes the first known index "
                f"{self.first_known_index} of Megolm session {self.session_id}"
            )
        try:
            decrypted = self._session.decrypt(message)
        except ValueError as exc:
            raise DecryptionError(f"Megolm decryption failed: {exc}") from exc
        return decrypted.plaintext, decrypted.message_index

    def pickle(self, key: bytes) -> str:
        return self._session.pickle(key)

    @classmethod
    def from_pickle(
        cls, pickle: str, key: bytes, case_id: str, origin: PartyKeys, *, forwarded: bool
    ) -> InboundCaseSession:
        try:
            session = vodozemac.InboundGroupSession.from_pickle(pickle, key)
        except ValueError as exc:
            raise StoreError(f"cannot unpickle inbound Megolm session: {exc}") from exc
        return cls(session, case_id, origin, forwarded=forwarded)
