"""Megolm room events: ``m.room.encrypted`` with ``m.megolm.v1.aes-sha2``.

Content: ``{algorithm, sender_key, ciphertext, session_id, device_id}``; the ciphertext's
plaintext is ``{type, content, room_id}``. Outbound sessions rotate after a number of
messages or an age (and the caller invalidates them when a member device leaves).
Inbound sessions are found by (room id, session id), never by ``sender_key``/``device_id``
(deprecated, unauthenticated). Replays are refused: a (session, message index) already
decrypted for another event id or timestamp is an attack, the same event twice is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import vodozemac

from crypto.matrix import ids
from crypto.matrix.account import DeviceAccount, now_ms
from crypto.matrix.canonical import dumps, loads, loads_object
from crypto.matrix.device_keys import MEGOLM_ALGORITHM
from crypto.matrix.errors import (
    EncodingError,
    EventRefused,
    KeyFormatError,
    MegolmDecryptionError,
    ReplayError,
)
from crypto.matrix.room_keys import ForwardedRoomKey, RoomKey, SessionExport


@dataclass(frozen=True)
class RotationPolicy:
    """When an outbound session is replaced (the Rust machine's defaults)."""

    max_messages: int = 100
    max_age_ms: int = 7 * 24 * 3600 * 1000


class OutboundRoomSession:
    """Our sending session in one room, and which devices it was shared with."""

    def __init__(
        self,
        room_id: str,
        inner: vodozemac.GroupSession | None = None,
        *,
        created_ms: int | None = None,
        message_count: int = 0,
        shared_with: dict[tuple[str, str], str] | None = None,
    ) -> None:
        self.room_id = ids.room_id(room_id)
        self.inner = inner if inner is not None else vodozemac.GroupSession()
        self.created_ms = now_ms() if created_ms is None else created_ms
        self.message_count = message_count
        #: (user id, device id) -> the device's curve25519 key when we shared it.
        self.shared_with: dict[tuple[str, str], str] = dict(shared_with or {})
        self.invalidated = False

    @property
    def session_id(self) -> str:
        return self.inner.session_id

    def expired(self, policy: RotationPolicy, at_ms: int | None = None) -> bool:
        at = now_ms() if at_ms is None else at_ms
        return (
            self.invalidated
            or self.message_count >= policy.max_messages
            or at - self.created_ms >= policy.max_age_ms
        )

    def room_key(self) -> RoomKey:
        """The ``m.room_key`` for this session from its current index on."""
        return RoomKey(self.room_id, self.session_id, self.inner.session_key.to_base64())

    def mark_shared(self, user_id: str, device_id: str, curve25519: str) -> None:
        self.shared_with[(user_id, device_id)] = curve25519

    def is_shared_with(self, user_id: str, device_id: str, curve25519: str) -> bool:
        return self.shared_with.get((user_id, device_id)) == curve25519

    def encrypt(
        self, account: DeviceAccount, event_type: str, content: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The ``m.room.encrypted`` content of one room event."""
        plaintext = {"type": event_type, "content": dict(content), "room_id": self.room_id}
        message = self.inner.encrypt(dumps(plaintext))
        self.message_count += 1
        return {
            "algorithm": MEGOLM_ALGORITHM,
            "sender_key": account.curve25519,
            "ciphertext": message.to_base64(),
            "session_id": self.session_id,
            "device_id": account.device_id,
        }

    def pickle(self, pickle_key: bytes) -> dict[str, Any]:
        return {
            "room_id": self.room_id,
            "pickle": self.inner.pickle(pickle_key),
            "created_ms": self.created_ms,
            "message_count": self.message_count,
            "invalidated": self.invalidated,
            "shared_with": [[u, d, k] for (u, d), k in self.shared_with.items()],
        }

    @classmethod
    def from_pickle(cls, obj: Mapping[str, Any], pickle_key: bytes) -> OutboundRoomSession:
        out = cls(
            obj["room_id"],
            vodozemac.GroupSession.from_pickle(obj["pickle"], pickle_key),
            created_ms=int(obj["created_ms"]),
            message_count=int(obj["message_count"]),
            shared_with={(u, d): k for u, d, k in obj["shared_with"]},
        )
        out.invalidated = bool(obj.get("invalidated", False))
        return out


@dataclass
class InboundRoomSession:
    """A session we can decrypt with, and where it came from."""

    room_id: str
    inner: vodozemac.InboundGroupSession
    sender_key: str  # curve25519 of the creating device (as claimed, unless authenticated)
    signing_key: str  # ed25519 of the creating device (as claimed, unless authenticated)
    #: The user who sent us the m.room_key over Olm (None when imported or forwarded).
    sender_user: str | None
    forwarding_chain: tuple[str, ...] = ()
    imported: bool = False
    seen: dict[int, tuple[str, int]] = field(default_factory=dict)
    #: The signed device keys that came with the m.room_key (``sender_device_keys``).
    sender_device_keys: Mapping[str, Any] | None = None

    @property
    def session_id(self) -> str:
        return self.inner.session_id

    @property
    def first_known_index(self) -> int:
        return self.inner.first_known_index

    @classmethod
    def from_room_key(
        cls,
        key: RoomKey,
        sender: str,
        sender_key: str,
        signing_key: str,
        sender_device_keys: Mapping[str, Any] | None = None,
    ) -> InboundRoomSession:
        """From an ``m.room_key`` that arrived over Olm from ``sender``'s device."""
        try:
            inner = vodozemac.InboundGroupSession(vodozemac.SessionKey(key.session_key))
        except (vodozemac.SessionKeyDecodeException, ValueError) as exc:
            raise KeyFormatError(f"bad session key: {exc}") from exc
        if inner.session_id != key.session_id:
            raise KeyFormatError("session_id does not match the session key", "bad_room_key")
        return cls(
            key.room_id,
            inner,
            sender_key,
            signing_key,
            sender,
            sender_device_keys=sender_device_keys,
        )

    @classmethod
    def from_export(cls, export: SessionExport) -> InboundRoomSession:
        """From a key export, a key backup or an ``m.forwarded_room_key``."""
        try:
            inner = vodozemac.InboundGroupSession.import_session(
                vodozemac.ExportedSessionKey(export.session_key)
            )
        except (vodozemac.SessionKeyDecodeException, ValueError) as exc:
            raise KeyFormatError(f"bad exported session key: {exc}") from exc
        if inner.session_id != export.session_id:
            raise KeyFormatError("session_id does not match the session key", "bad_room_key")
        return cls(
            export.room_id,
            inner,
            export.sender_key,
            export.sender_claimed_ed25519,
            None,
            export.forwarding_curve25519_key_chain,
            imported=True,
        )

    @classmethod
    def from_forwarded(cls, key: ForwardedRoomKey, forwarder_key: str) -> InboundRoomSession:
        """From an ``m.forwarded_room_key``; the forwarder joins the chain."""
        export = SessionExport(
            key.room_id,
            key.session_id,
            key.session_key,
            key.sender_key,
            key.sender_claimed_ed25519_key,
            (*key.forwarding_curve25519_key_chain, forwarder_key),
        )
        return cls.from_export(export)

    def export(self, index: int | None = None) -> SessionExport:
        at = self.first_known_index if index is None else index
        exported = self.inner.export_at(at)
        if exported is None:
            raise KeyFormatError(f"cannot export before index {self.first_known_index}")
        return SessionExport(
            self.room_id,
            self.session_id,
            exported.to_base64(),
            self.sender_key,
            self.signing_key,
            self.forwarding_chain,
        )

    def forwarded_room_key(self) -> ForwardedRoomKey:
        export = self.export()
        return ForwardedRoomKey(
            self.room_id,
            self.session_id,
            export.session_key,
            self.sender_key,
            self.signing_key,
            self.forwarding_chain,
        )

    def pickle(self, pickle_key: bytes) -> dict[str, Any]:
        return {
            "room_id": self.room_id,
            "pickle": self.inner.pickle(pickle_key),
            "sender_key": self.sender_key,
            "signing_key": self.signing_key,
            "sender_user": self.sender_user,
            "forwarding_chain": list(self.forwarding_chain),
            "imported": self.imported,
            "seen": [[i, e, t] for i, (e, t) in self.seen.items()],
            "sender_device_keys": self.sender_device_keys,
        }

    @classmethod
    def from_pickle(cls, obj: Mapping[str, Any], pickle_key: bytes) -> InboundRoomSession:
        return cls(
            obj["room_id"],
            vodozemac.InboundGroupSession.from_pickle(obj["pickle"], pickle_key),
            obj["sender_key"],
            obj["signing_key"],
            obj["sender_user"],
            tuple(obj["forwarding_chain"]),
            bool(obj["imported"]),
            {int(i): (str(e), int(t)) for i, e, t in obj["seen"]},
            obj.get("sender_device_keys"),
        )


@dataclass(frozen=True)
class DecryptedRoomEvent:
    type: str
    content: dict[str, Any]
    sender: str
    room_id: str
    session_id: str
    message_index: int
    session: InboundRoomSession = field(repr=False)


class InboundSessions:
    """Inbound sessions by (room id, session id)."""

    def __init__(self) -> None:
        self._sessions: dict[tuple[str, str], InboundRoomSession] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Any:
        return iter(list(self._sessions.values()))

    def get(self, room_id: str, session_id: str) -> InboundRoomSession | None:
        return self._sessions.get((room_id, session_id))

    def add(self, session: InboundRoomSession) -> bool:
        """Keep ``session`` unless we hold one that reaches as far back; True if kept.

        A session that replaces an authenticated one (same creator keys) keeps its
        authentication and the replay record; a forwarded copy never downgrades an
        authenticated one of the same or a better index.
        """
        key = (session.room_id, session.session_id)
        old = self._sessions.get(key)
        if old is not None:
            if session.first_known_index >= old.first_known_index:
                return False
            if (old.sender_key, old.signing_key) == (session.sender_key, session.signing_key):
                if session.sender_user is None and old.sender_user is not None:
                    session.sender_user = old.sender_user
                    session.sender_device_keys = old.sender_device_keys
                    session.forwarding_chain = old.forwarding_chain
                    session.imported = old.imported
                session.seen.update(old.seen)
        self._sessions[key] = session
        return True

    def decrypt(self, event: Mapping[str, Any], room_id: str) -> DecryptedRoomEvent:
        """Decrypt one room event (as the server delivers it) of ``room_id``.

        Raises :class:`MegolmDecryptionError` (``unknown_session``, ``replayed``...) or
        :class:`EventRefused` (``wrong_room``, ``forged_sender``).
        """
        content = event.get("content")
        sender = event.get("sender")
        if not isinstance(content, Mapping) or not isinstance(sender, str):
            raise MegolmDecryptionError("a room event needs content and sender", "bad_event")
        if content.get("algorithm") != MEGOLM_ALGORITHM:
            raise MegolmDecryptionError("not a Megolm event", "unsupported_algorithm")
        session_id, ciphertext = content.get("session_id"), content.get("ciphertext")
        if not isinstance(session_id, str) or not isinstance(ciphertext, str):
            raise MegolmDecryptionError("a Megolm event needs session_id and ciphertext")
        session = self.get(room_id, session_id)
        if session is None:
            raise MegolmDecryptionError("no key for this session (yet)", "unknown_session")
        try:
            message = vodozemac.MegolmMessage.from_base64(ciphertext)
        except (vodozemac.DecodeException, ValueError) as exc:
            raise MegolmDecryptionError(f"not a Megolm message: {exc}", "bad_ciphertext") from exc
        if message.message_index() < session.first_known_index:
            raise MegolmDecryptionError(
                f"our key starts at index {session.first_known_index}", "unknown_index"
            )
        try:
            decrypted = session.inner.decrypt(message)
        except vodozemac.MegolmDecryptionException as exc:
            raise MegolmDecryptionError(f"cannot decrypt: {exc}", "bad_ciphertext") from exc
        index = decrypted.message_index
        event_id = event.get("event_id")
        ts = event.get("origin_server_ts")
        marker = (str(event_id), ts if isinstance(ts, int) else -1)
        previous = session.seen.get(index)
        if previous is not None and previous != marker:
            raise ReplayError(f"message index {index} of {session_id} was already used")
        try:
            plain = loads_object(decrypted.plaintext)
        except EncodingError as exc:
            raise EventRefused("the plaintext is not a JSON object", "bad_plaintext") from exc
        if plain.get("room_id") != room_id:
            raise EventRefused("the event was encrypted for another room", "wrong_room")
        if session.sender_user is not None and session.sender_user != sender:
            raise EventRefused("the session belongs to another user", "forged_sender")
        event_type, inner_content = plain.get("type"), plain.get("content")
        if not isinstance(event_type, str) or not isinstance(inner_content, dict):
            raise EventRefused("the plaintext needs a type and a content", "bad_plaintext")
        session.seen[index] = marker
        return DecryptedRoomEvent(
            event_type, inner_content, sender, room_id, session_id, index, session
        )

    def pickle(self, pickle_key: bytes) -> str:
        return dumps([s.pickle(pickle_key) for s in self._sessions.values()]).decode()

    @classmethod
    def from_pickle(cls, data: str, pickle_key: bytes) -> InboundSessions:
        out = cls()
        try:
            items = loads(data)
            for obj in items:
                session = InboundRoomSession.from_pickle(obj, pickle_key)
                out._sessions[(session.room_id, session.session_id)] = session
        except (vodozemac.PickleException, KeyError, TypeError, ValueError) as exc:
            raise EncodingError(f"inbound sessions pickle does not open: {exc}") from exc
        return out
