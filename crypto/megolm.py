"""Case content with Megolm: one outbound group session per (device, case).

The session key is shared with every member device over Olm (as a
:class:`crypto.payloads.RoomKeyShare`); new member devices receive an exported
inbound session (from index 0) so they can read existing content. Every Megolm
message carries an Ed25519 signature by the session's signing key, which
vodozemac checks on decryption. The session id *is* that signing key, and the
origin device signs ``{caseId, sessionId, origin}`` with its device key
(:func:`session_attestation`), so a session cannot be relabelled with another
origin. :func:`check_key_share` is the trust rule for shares:

* a direct share (``exported=false``) is accepted only from the origin device
  itself (the Olm-authenticated sender equals ``origin``);
* a history share (``exported=true``) only from the origin device or another
  device of the origin's user;
* in both cases the origin's signature over the session must verify.

The receiver then reports the origin as the sender of everything decrypted
with the session, and checks the sender named inside the plaintext against it.
"""

from __future__ import annotations

import msgspec
import vodozemac

from crypto.canonical import b64decode, b64encode, canonical_json
from crypto.errors import (
    BindingError,
    DecryptionError,
    EncodingError,
    SessionError,
    SignatureError,
    StoreError,
    UnknownMessageIndexError,
    UntrustedKeyShareError,
)
from crypto.payloads import PartyKeys, RoomKeyShare
from crypto.signing import Signer, verify_signature

#: Rotate an outbound session after this many messages or this age (ms) at most.
ROTATE_AFTER_MESSAGES = 1000
ROTATE_AFTER_MS = 7 * 24 * 3600 * 1000


def session_attestation(case_id: str, session_id: str, origin: PartyKeys) -> bytes:
    """The bytes the origin device signs to claim a Megolm session as its own."""
    return canonical_json(
        {
            "algorithm": "kaari.megolm.v1",
            "caseId": case_id,
            "origin": msgspec.to_builtins(origin),
            "sessionId": session_id,
        }
    )


def sign_session(case_id: str, session_id: str, origin: PartyKeys, sign: Signer) -> str:
    """The origin device's signature over :func:`session_attestation`."""
    return sign(session_attestation(case_id, session_id, origin))


def verify_session_origin(case_id: str, session_id: str, origin: PartyKeys, signature: str) -> None:
    """Raise :class:`UntrustedKeyShareError` unless ``origin`` signed the session."""
    try:
        verify_signature(
            session_attestation(case_id, session_id, origin), signature, origin.ed25519
        )
    except SignatureError as exc:
        raise UntrustedKeyShareError(
            f"Megolm session {session_id} of case {case_id} is not signed by its claimed "
            f"origin {origin.user_id}/{origin.device_id}: {exc}"
        ) from exc


def check_key_share(share: RoomKeyShare, sender: PartyKeys) -> None:
    """The trust rule for a room key share received over Olm from ``sender``.

    ``sender`` must be the Olm-authenticated sender device (its Curve25519 key
    is the Olm session's, its Ed25519 key pinned). Raises
    :class:`UntrustedKeyShareError` when the share is refused.
    """
    origin = share.origin
    if sender != origin:
        who = f"{sender.user_id}/{sender.device_id}"
        owner = f"{origin.user_id}/{origin.device_id}"
        if not share.exported:
            raise UntrustedKeyShareError(
                f"a direct room key must come from its origin device {owner}, not from {who}"
            )
        if sender.user_id != origin.user_id:
            raise UntrustedKeyShareError(
                f"history of {owner}'s Megolm session forwarded by {who}: only the origin "
                "device or another device of the same user may share it"
            )
        if sender.device_id == origin.device_id:
            raise UntrustedKeyShareError(
                f"history share names origin {owner} with other keys than the sending device's"
            )
    verify_session_origin(share.case_id, share.session_id, origin, share.origin_signature)


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


class InboundCaseSession:
    """The receiving half of some device's Megolm session for one case."""

    def __init__(
        self,
        session: vodozemac.InboundGroupSession,
        case_id: str,
        origin: PartyKeys,
        *,
        forwarded: bool,
        origin_signature: str | None = None,
    ) -> None:
        self._session = session
        self.case_id = case_id
        self.origin = origin
        self.forwarded = forwarded
        #: The origin's signature over :func:`session_attestation` (None: not attested).
        self.origin_signature = origin_signature

    @classmethod
    def from_session_key(
        cls,
        case_id: str,
        session_key: str,
        origin: PartyKeys,
        *,
        origin_signature: str | None = None,
    ) -> InboundCaseSession:
        """Import a session key received directly from its origin device (no trust checks)."""
        try:
            session = vodozemac.InboundGroupSession(vodozemac.SessionKey(session_key))
        except ValueError as exc:
            raise SessionError(f"bad Megolm session key: {exc}") from exc
        return cls(session, case_id, origin, forwarded=False, origin_signature=origin_signature)

    @classmethod
    def from_export(
        cls,
        case_id: str,
        exported_key: str,
        origin: PartyKeys,
        *,
        origin_signature: str | None = None,
    ) -> InboundCaseSession:
        """Import an exported session (history), e.g. from index 0 (no trust checks)."""
        try:
            session = vodozemac.InboundGroupSession.import_session(
                vodozemac.ExportedSessionKey(exported_key)
            )
        except ValueError as exc:
            raise SessionError(f"bad exported Megolm session: {exc}") from exc
        return cls(session, case_id, origin, forwarded=True, origin_signature=origin_signature)

    @classmethod
    def from_share(cls, share: RoomKeyShare, sender: PartyKeys) -> InboundCaseSession:
        """Import a share received over Olm from the authenticated ``sender``.

        Applies :func:`check_key_share`, then checks that the key is the
        announced session (its signing key, i.e. the session id, is the one the
        origin signed) from the announced first index. Raises
        :class:`UntrustedKeyShareError`, :class:`BindingError` or :class:`SessionError`.
        """
        check_key_share(share, sender)
        make = cls.from_export if share.exported else cls.from_session_key
        session = make(
            share.case_id, share.session_key, share.origin, origin_signature=share.origin_signature
        )
        if session.session_id != share.session_id:
            raise BindingError("room key does not match its announced (signed) session id")
        if session.first_known_index != share.first_index:
            raise BindingError("room key does not start at its announced first index")
        return session

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
        cls,
        pickle: str,
        key: bytes,
        case_id: str,
        origin: PartyKeys,
        *,
        forwarded: bool,
        origin_signature: str | None = None,
    ) -> InboundCaseSession:
        try:
            session = vodozemac.InboundGroupSession.from_pickle(pickle, key)
        except ValueError as exc:
            raise StoreError(f"cannot unpickle inbound Megolm session: {exc}") from exc
        return cls(session, case_id, origin, forwarded=forwarded, origin_signature=origin_signature)
