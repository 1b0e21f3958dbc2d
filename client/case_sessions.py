"""A device's Megolm sessions for case content: :attr:`client.device.Device.cases`.

Per case the device writes with one outbound session (:mod:`crypto.megolm`) and
reads with the inbound sessions it was given (its own included). It shares its
current session over Olm as a :class:`crypto.payloads.RoomKeyShare`, exports the
history of its own user's sessions for new member devices, and imports the shares
it receives under the trust rule of :func:`crypto.megolm.check_key_share`, with
the share's origin checked against the devices the device already knows.

Each session is one record in the device's key store (names are keyed tags of
the case or session id, see :mod:`client.keystore`). The index of inbound
sessions per case lives in the device's state record, so the device keeps it
(:class:`CaseSessionOwner`); the Olm transport is the caller's: shares come in
as :class:`client.device.Received` from :meth:`client.device.Device.decrypt`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import msgspec

from client.keystore import KeyStore
from crypto.envelope import MAX_PLAINTEXT, MegolmCiphertext, MegolmPlaintext, decode, encode
from crypto.errors import (
    BindingError,
    EncodingError,
    UnknownSessionError,
    UntrustedKeyShareError,
)
from crypto.megolm import InboundCaseSession, OutboundCaseSession, sign_session
from crypto.payloads import PartyKeys, Payload, RoomKeyShare
from crypto.signing import Signer

if TYPE_CHECKING:
    from client.device import PeerDevice, Received


class ReceivedCaseContent(msgspec.Struct, frozen=True):
    """Decrypted case content, authenticated to ``sender`` (the session's origin)."""

    message_id: str
    sent_at: int
    case_id: str
    sender: PartyKeys
    payload: Payload
    message_index: int
    forwarded_key: bool


class CaseSessionOwner(Protocol):
    """What the case sessions need of their device."""

    @property
    def keys(self) -> PartyKeys: ...

    @property
    def signer(self) -> Signer: ...

    def known_devices(self) -> list[PartyKeys]:
        """This device and every peer device whose keys it has seen."""
        ...

    def inbound_session_ids(self, case_id: str) -> list[str]:
        """The inbound sessions stored for the case, oldest first."""
        ...

    def index_inbound_session(self, case_id: str, session_id: str) -> None:
        """Add a stored inbound session to the case's index (persisted)."""
        ...


# -- persisted records -------------------------------------------------------
class _OutboundRecord(msgspec.Struct):
    case_id: str
    created_at: int
    pickle: str


class _InboundRecord(msgspec.Struct):
    case_id: str
    origin: PartyKeys
    forwarded: bool
    pickle: str
    origin_signature: str


class CaseSessions:
    """One device's outbound and inbound Megolm sessions, per case."""

    def __init__(self, store: KeyStore, owner: CaseSessionOwner, now_ms: Callable[[], int]) -> None:
        self._store = store
        self._owner = owner
        self._now_ms = now_ms
        self._outbound: dict[str, OutboundCaseSession] = {}
        self._inbound: dict[str, InboundCaseSession] = {}

    # -- records -------------------------------------------------------------
    def _outbound_for(self, case_id: str) -> OutboundCaseSession | None:
        if case_id not in self._outbound:
            rec = self._store.get_json(
                self._store.tagged_name("mout", "case", case_id), _OutboundRecord
            )
            if rec is None:
                return None
            self._outbound[case_id] = OutboundCaseSession.from_pickle(
                rec.pickle, self._store.keys.pickle_key, rec.case_id, rec.created_at
            )
        return self._outbound[case_id]

    def _save_outbound(self, session: OutboundCaseSession) -> None:
        rec = _OutboundRecord(
            session.case_id, session.created_at, session.pickle(self._store.keys.pickle_key)
        )
        name = self._store.tagged_name("mout", "case", session.case_id)
        self._store.put(name, msgspec.json.encode(rec))

    def _inbound_for(self, session_id: str) -> InboundCaseSession | None:
        if session_id not in self._inbound:
            rec = self._store.get_json(
                self._store.tagged_name("min", "megolm-session", session_id), _InboundRecord
            )
            if rec is None:
                return None
            self._inbound[session_id] = InboundCaseSession.from_pickle(
                rec.pickle,
                self._store.keys.pickle_key,
                rec.case_id,
                rec.origin,
                forwarded=rec.forwarded,
                origin_signature=rec.origin_signature,
            )
        return self._inbound[session_id]

    def _save_inbound(self, session: InboundCaseSession) -> None:
        if session.origin_signature is None:
            raise BindingError("refusing to store a Megolm session its origin did not sign")
        rec = _InboundRecord(
            session.case_id,
            session.origin,
            session.forwarded,
            session.pickle(self._store.keys.pickle_key),
            session.origin_signature,
        )
        name = self._store.tagged_name("min", "megolm-session", session.session_id)
        with self._store.transaction():
            self._store.put(name, msgspec.json.encode(rec))
            self._owner.index_inbound_session(session.case_id, session.session_id)
        self._inbound[session.session_id] = session

    # -- sharing -------------------------------------------------------------
    def rotate_case_session(self, case_id: str) -> OutboundCaseSession:
        """Start a new outbound session for the case (after a member or device left)."""
        session = OutboundCaseSession.create(case_id, self._now_ms())
        with self._store.transaction():
            self._save_inbound(
                InboundCaseSession.from_session_key(
                    case_id,
                    session.session_key(),
                    self._owner.keys,
                    origin_signature=self._sign_session(case_id, session.session_id),
                )
            )
            self._save_outbound(session)
        self._outbound[case_id] = session
        return session

    def _sign_session(self, case_id: str, session_id: str) -> str:
        return sign_session(case_id, session_id, self._owner.keys, self._owner.signer)

    def _current_outbound(self, case_id: str) -> OutboundCaseSession:
        session = self._outbound_for(case_id)
        if session is None or session.needs_rotation(self._now_ms()):
            session = self.rotate_case_session(case_id)
        return session

    def room_key_share_for(self, case_id: str) -> RoomKeyShare:
        """The payload that shares this device's current session for the case (send via Olm)."""
        session = self._current_outbound(case_id)
        return RoomKeyShare(
            case_id=case_id,
            session_id=session.session_id,
            session_key=session.session_key(),
            exported=False,
            first_index=session.message_index,
            origin=self._owner.keys,
            origin_signature=self._sign_session(case_id, session.session_id),
        )

    def history_shares_for(self, case_id: str) -> list[RoomKeyShare]:
        """Exported sessions of the case from their first known index (for new member devices).

        Only sessions whose origin is a device of this device's own user: a
        receiver refuses history of another user's session from us (see
        :func:`crypto.megolm.check_key_share`); each user shares its own history.
        """
        shares = []
        for session_id in self._owner.inbound_session_ids(case_id):
            inbound = self._inbound_for(session_id)
            if inbound is None or inbound.origin.user_id != self._owner.keys.user_id:
                continue
            assert inbound.origin_signature is not None  # _save_inbound stores signed ones only
            shares.append(
                RoomKeyShare(
                    case_id=case_id,
                    session_id=session_id,
                    session_key=inbound.export_at(),
                    exported=True,
                    first_index=inbound.first_known_index,
                    origin=inbound.origin,
                    origin_signature=inbound.origin_signature,
                )
            )
        return shares

    def _check_origin_keys(self, origin: PartyKeys, expected: PeerDevice | None) -> None:
        """The origin named by a share must not contradict keys this device already knows."""
        if expected is not None and expected.party() != origin:
            raise UntrustedKeyShareError("share's origin keys differ from the key directory's")
        for peer in self._owner.known_devices():
            same_device = (peer.user_id, peer.device_id) == (origin.user_id, origin.device_id)
            same_key = origin.curve25519 == peer.curve25519 or origin.ed25519 == peer.ed25519
            if (same_device or same_key) and peer != origin:
                raise UntrustedKeyShareError(
                    f"share names origin {origin.user_id}/{origin.device_id} with keys that "
                    f"contradict the known device {peer.user_id}/{peer.device_id}"
                )

    def accept_room_key(
        self, received: Received, *, expected_origin: PeerDevice | None = None
    ) -> InboundCaseSession:
        """Import a room key received over Olm (direct share or exported history).

        ``received`` must come from :meth:`client.device.Device.decrypt` (its sender
        is Olm-authenticated). A direct share is accepted only from the session's
        origin device; a history share (``exported``) only from the origin or
        another device of the origin's user; the origin must have signed the
        session, and its keys must agree with those known here (and with
        ``expected_origin``, the key directory's entry, if given). Otherwise
        :class:`UntrustedKeyShareError` (a :class:`BindingError`).
        """
        share = received.payload
        if not isinstance(share, RoomKeyShare):
            raise EncodingError("payload is not a room key share")
        new = InboundCaseSession.from_share(share, received.sender)
        self._check_origin_keys(share.origin, expected_origin)
        existing = self._inbound_for(new.session_id)
        if existing is not None:
            if existing.case_id != new.case_id or existing.origin != new.origin:
                raise BindingError("room key re-announced for another case or origin")
            if existing.first_known_index <= new.first_known_index:
                return existing
            new.forwarded = existing.forwarded and new.forwarded
        self._save_inbound(new)
        return new

    # -- content -------------------------------------------------------------
    def encrypt_case_content(
        self, case_id: str, payload: Payload, *, message_id: str | None = None
    ) -> MegolmCiphertext:
        """Encrypt case content with this device's session for the case.

        Share :meth:`room_key_share_for` with the case's devices before posting
        content from a new (or rotated) session.
        """
        session = self._outbound_for(case_id)
        if session is None:
            session = self.rotate_case_session(case_id)
        me = self._owner.keys
        plaintext = encode(
            MegolmPlaintext(
                message_id=message_id or str(uuid.uuid4()),
                sent_at=self._now_ms(),
                case_id=case_id,
                sender=me,
                payload=payload,
            )
        )
        if len(plaintext) > MAX_PLAINTEXT:
            raise EncodingError("payload too large for case content")
        body = session.encrypt(plaintext)
        self._save_outbound(session)
        return MegolmCiphertext(
            case_id=case_id,
            sender_user_id=me.user_id,
            sender_device_id=me.device_id,
            sender_curve25519=me.curve25519,
            session_id=session.session_id,
            body=body,
        )

    def decrypt_case_content(self, ciphertext: MegolmCiphertext) -> ReceivedCaseContent:
        """Decrypt case content; the sender is the session's origin device."""
        inbound = self._inbound_for(ciphertext.session_id)
        if inbound is None:
            raise UnknownSessionError(
                f"no room key for Megolm session {ciphertext.session_id} "
                f"of case {ciphertext.case_id}"
            )
        if inbound.case_id != ciphertext.case_id:
            raise BindingError("Megolm session belongs to another case")
        origin = inbound.origin
        if (
            ciphertext.sender_curve25519 != origin.curve25519
            or ciphertext.sender_device_id != origin.device_id
            or ciphertext.sender_user_id != origin.user_id
        ):
            raise BindingError("envelope names another sender than the session's origin")
        plaintext, index = inbound.decrypt(ciphertext.body)
        inner = decode(plaintext, MegolmPlaintext)
        if inner.case_id != ciphertext.case_id:
            raise BindingError("plaintext belongs to another case")
        if inner.sender != origin:
            raise BindingError("plaintext names another sender than the session's origin")
        return ReceivedCaseContent(
            inner.message_id,
            inner.sent_at,
            inner.case_id,
            origin,
            inner.payload,
            index,
            inbound.forwarded,
        )


__all__ = ["CaseSessionOwner", "CaseSessions", "ReceivedCaseContent"]
