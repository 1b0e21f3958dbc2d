"""Olm to-device messages: ``m.room.encrypted`` with ``m.olm.v1.curve25519-aes-sha2``.

Content::

    {"algorithm": "m.olm.v1.curve25519-aes-sha2", "sender_key": "<our curve25519>",
     "ciphertext": {"<recipient curve25519>": {"type": 0 | 1, "body": "<base64>"}}}

Plaintext: ``{type, content, sender, recipient, recipient_keys: {ed25519}, keys: {ed25519},
sender_device_keys}`` (what the Rust machine sends; it has no ``sender_device``).

Sessions: one list per peer Curve25519 key. Sending uses the session that last received
a message (or, never having received, the newest): opening a second one while one works
makes the Rust machine think the first is wedged. A pre-key message goes to the session it
names, else starts a new inbound session; a normal message is tried on each session.
Every check the Rust machine enforces on the plaintext is enforced here.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import vodozemac

from crypto.matrix.account import DeviceAccount, now_ms
from crypto.matrix.canonical import b64decode, b64encode, decode_key, dumps, loads_object
from crypto.matrix.device_keys import OLM_ALGORITHM, DeviceKeys, OneTimeKey, parse_device_keys
from crypto.matrix.errors import (
    EncodingError,
    EventRefused,
    KeyFormatError,
    NoSessionError,
    OlmDecryptionError,
)
from crypto.matrix.room_keys import ROOM_KEY

MAX_SESSIONS_PER_DEVICE = 8
_SEEN_HASHES = 2048
_PRE_KEY = 0
_NORMAL = 1

#: Looks up the device keys we know (from keys/query) for (user id, curve25519 key).
DeviceLookup = Callable[[str, str], DeviceKeys | None]


@dataclass
class _Entry:
    session: vodozemac.Session
    created_ms: int
    activity: int  # bumped on creation and on each successful decryption
    received: bool = False


@dataclass(frozen=True)
class DecryptedOlmEvent:
    """A decrypted, checked to-device event."""

    type: str
    content: dict[str, Any]
    sender: str
    sender_key: str
    sender_ed25519: str
    sender_device: DeviceKeys | None  # from the directory or from ``sender_device_keys``
    session_id: str
    new_session: bool
    plaintext: dict[str, Any] = field(repr=False)


class OlmSessions:
    """Every Olm session of one device, by peer Curve25519 key."""

    def __init__(self) -> None:
        self._by_key: dict[str, list[_Entry]] = {}
        self._activity = 0
        self._seen: OrderedDict[str, None] = OrderedDict()

    def _bump(self) -> int:
        self._activity += 1
        return self._activity

    def _add(self, curve_key: str, entry: _Entry) -> None:
        entries = self._by_key.setdefault(curve_key, [])
        entries.append(entry)
        if len(entries) > MAX_SESSIONS_PER_DEVICE:
            entries.sort(key=lambda e: e.activity)
            del entries[0]

    def has_session(self, curve_key: str) -> bool:
        return bool(self._by_key.get(curve_key))

    def session_ids(self, curve_key: str) -> list[str]:
        return [e.session.session_id for e in self._by_key.get(curve_key, [])]

    def current_session_id(self, curve_key: str) -> str | None:
        entry = self._best(curve_key)
        return entry.session.session_id if entry else None

    def _best(self, curve_key: str) -> _Entry | None:
        entries = self._by_key.get(curve_key)
        return max(entries, key=lambda e: e.activity) if entries else None

    def create_outbound(
        self, account: DeviceAccount, device: DeviceKeys, one_time_key: OneTimeKey
    ) -> str:
        """Start a session with ``device`` from a claimed (already verified) one-time key."""
        session = account.inner.create_outbound_session(
            vodozemac.Curve25519PublicKey.from_base64(device.curve25519),
            vodozemac.Curve25519PublicKey.from_base64(one_time_key.curve25519),
        )
        self._add(device.curve25519, _Entry(session, now_ms(), self._bump()))
        return session.session_id

    # -- encryption -----------------------------------------------------------------------

    def encrypt(
        self,
        account: DeviceAccount,
        recipient: DeviceKeys,
        event_type: str,
        content: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The ``m.room.encrypted`` content of one to-device event for ``recipient``."""
        entry = self._best(recipient.curve25519)
        if entry is None:
            raise NoSessionError(f"no Olm session with {recipient.user_id}/{recipient.device_id}")
        plaintext = {
            "type": event_type,
            "content": dict(content),
            "sender": account.user_id,
            "recipient": recipient.user_id,
            "recipient_keys": {"ed25519": recipient.ed25519},
            "keys": {"ed25519": account.ed25519},
            "sender_device_keys": account.device_keys_json(),
        }
        message_type, body = entry.session.encrypt(dumps(plaintext)).to_parts()
        return {
            "algorithm": OLM_ALGORITHM,
            "sender_key": account.curve25519,
            "ciphertext": {recipient.curve25519: {"type": message_type, "body": b64encode(body)}},
        }

    # -- decryption -----------------------------------------------------------------------

    def decrypt(
        self,
        account: DeviceAccount,
        sender: str,
        content: Mapping[str, Any],
        lookup: DeviceLookup | None = None,
    ) -> DecryptedOlmEvent:
        """Decrypt and check one to-device ``m.room.encrypted`` content.

        ``sender`` is the to-device event's ``sender``, which the server sets to the
        authenticated user. Raises :class:`OlmDecryptionError` or :class:`EventRefused`.
        """
        if content.get("algorithm") != OLM_ALGORITHM:
            raise OlmDecryptionError("not an Olm message", "unsupported_algorithm")
        sender_key = content.get("sender_key")
        ciphertext = content.get("ciphertext")
        try:
            decode_key(sender_key)
        except EncodingError as exc:
            raise OlmDecryptionError(f"bad sender_key: {exc}") from exc
        assert isinstance(sender_key, str)
        ours = ciphertext.get(account.curve25519) if isinstance(ciphertext, Mapping) else None
        if not isinstance(ours, Mapping):
            raise OlmDecryptionError("no ciphertext for this device", "not_for_us")
        message_type, body = ours.get("type"), ours.get("body")
        if message_type not in (_PRE_KEY, _NORMAL) or not isinstance(body, str):
            raise OlmDecryptionError("bad Olm message type or body")
        try:
            message = vodozemac.AnyOlmMessage.from_parts(message_type, b64decode(body))
        except (EncodingError, vodozemac.DecodeException, ValueError) as exc:
            raise OlmDecryptionError(f"not an Olm message: {exc}") from exc
        digest = hashlib.sha256(f"{sender_key}|{message_type}|{body}".encode()).hexdigest()
        try:
            entry, plain, new = self._decrypt_message(account, sender_key, message)
        except OlmDecryptionError as exc:
            if digest in self._seen:
                raise OlmDecryptionError("an Olm message was replayed", "replayed") from exc
            raise
        event = self._check(
            account, sender, sender_key, plain, entry.session.session_id, new, lookup
        )
        # Only a message that decrypted and passed the checks keeps a new session.
        if new:
            self._add(sender_key, entry)
        entry.received = True
        entry.activity = self._bump()
        self._seen[digest] = None
        while len(self._seen) > _SEEN_HASHES:
            self._seen.popitem(last=False)
        return event

    def _decrypt_message(
        self, account: DeviceAccount, sender_key: str, message: vodozemac.AnyOlmMessage
    ) -> tuple[_Entry, bytes, bool]:
        entries = self._by_key.get(sender_key, [])
        pre_key = message.to_pre_key()
        if pre_key is not None:
            for entry in entries:
                if entry.session.session_matches(pre_key):
                    try:
                        return entry, entry.session.decrypt(message), False
                    except vodozemac.OlmDecryptionException as exc:
                        raise OlmDecryptionError(
                            "the matching session is wedged", "wedged"
                        ) from exc
            try:
                session, plain = account.inner.create_inbound_session(
                    vodozemac.Curve25519PublicKey.from_base64(sender_key), pre_key
                )
            except (vodozemac.SessionCreationException, vodozemac.KeyException) as exc:
                raise OlmDecryptionError(f"cannot start a session: {exc}", "wedged") from exc
            return _Entry(session, now_ms(), 0), plain, True
        for entry in sorted(entries, key=lambda e: -e.activity):
            try:
                return entry, entry.session.decrypt(message), False
            except vodozemac.OlmDecryptionException:
                continue
        raise OlmDecryptionError("no session decrypts this message", "wedged")

    @staticmethod
    def _check(
        account: DeviceAccount,
        sender: str,
        sender_key: str,
        plain: bytes,
        session_id: str,
        new: bool,
        lookup: DeviceLookup | None,
    ) -> DecryptedOlmEvent:
        try:
            obj = loads_object(plain)
        except EncodingError as exc:
            raise EventRefused("the plaintext is not a JSON object", "bad_plaintext") from exc
        event_type, content = obj.get("type"), obj.get("content")
        if not isinstance(event_type, str) or not isinstance(content, dict):
            raise EventRefused("the plaintext needs a type and a content", "bad_plaintext")
        if obj.get("recipient") != account.user_id:
            raise EventRefused("the event is meant for another user", "wrong_recipient")
        if obj.get("sender") != sender:
            raise EventRefused("the plaintext sender is not the sender", "forged_sender")
        recipient_keys, keys = obj.get("recipient_keys"), obj.get("keys")
        if (
            not isinstance(recipient_keys, Mapping)
            or recipient_keys.get("ed25519") != account.ed25519
        ):
            raise EventRefused("the event is meant for another device", "wrong_recipient_keys")
        sender_ed = keys.get("ed25519") if isinstance(keys, Mapping) else None
        if not isinstance(sender_ed, str):
            raise EventRefused("the plaintext lacks the sender's Ed25519 key", "missing_keys")
        device: DeviceKeys | None = None
        if "sender_device_keys" in obj:
            try:
                device = parse_device_keys(obj["sender_device_keys"], user_id=sender)
            except KeyFormatError as exc:
                raise EventRefused(f"bad sender_device_keys: {exc}", "bad_sender_keys") from exc
            if device.ed25519 != sender_ed or device.curve25519 != sender_key:
                raise EventRefused("sender_device_keys do not match", "bad_sender_keys")
        known = lookup(sender, sender_key) if lookup is not None else None
        if known is not None:
            if known.ed25519 != sender_ed or known.user_id != sender:
                raise EventRefused("the sender's Ed25519 key is not its device's", "wrong_keys")
            device = known
        if device is None and event_type != ROOM_KEY:
            # As the Rust machine: only an m.room_key may come from a device we cannot name
            # yet (its sender is checked when a room event is decrypted with it).
            raise EventRefused("the sending device is unknown", "unknown_sender_device")
        return DecryptedOlmEvent(
            event_type, content, sender, sender_key, sender_ed, device, session_id, new, obj
        )

    # -- persistence ----------------------------------------------------------------------

    def pickle(self, pickle_key: bytes) -> str:
        return dumps(
            {
                "activity": self._activity,
                "sessions": {
                    key: [
                        {
                            "pickle": e.session.pickle(pickle_key),
                            "created_ms": e.created_ms,
                            "activity": e.activity,
                            "received": e.received,
                        }
                        for e in entries
                    ]
                    for key, entries in self._by_key.items()
                },
            }
        ).decode()

    @classmethod
    def from_pickle(cls, data: str, pickle_key: bytes) -> OlmSessions:
        obj = loads_object(data)
        out = cls()
        out._activity = int(obj.get("activity", 0))
        try:
            for key, entries in obj.get("sessions", {}).items():
                out._by_key[key] = [
                    _Entry(
                        vodozemac.Session.from_pickle(e["pickle"], pickle_key),
                        int(e["created_ms"]),
                        int(e["activity"]),
                        bool(e["received"]),
                    )
                    for e in entries
                ]
        except (vodozemac.PickleException, KeyError, TypeError) as exc:
            raise EncodingError(f"Olm sessions pickle does not open: {exc}") from exc
        return out
