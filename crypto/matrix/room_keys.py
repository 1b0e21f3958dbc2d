"""The to-device events about room keys, parsed and produced in the spec's shapes.

- ``m.room_key`` (inside Olm): ``{algorithm, room_id, session_id, session_key}``; unknown
  fields (``shared_history``, ``org.matrix.msc3061.shared_history``...) are ignored.
- ``m.forwarded_room_key`` (inside Olm): adds ``sender_key``,
  ``sender_claimed_ed25519_key``, ``forwarding_curve25519_key_chain`` and optionally
  ``withheld``; its ``session_key`` is in the export format.
- ``m.room_key.withheld`` (plain to-device): ``{algorithm, room_id, session_id,
  sender_key, code, reason}``; ``room_id``/``session_id`` may be absent for ``m.no_olm``.
- ``m.room_key_request`` (plain to-device): ``{action, requesting_device_id, request_id,
  body: {algorithm, room_id, session_id, sender_key}}``.
- ``ExportedSessionData`` (key export) / ``BackedUpSessionData`` (key backup).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crypto.matrix import ids
from crypto.matrix.canonical import decode_key
from crypto.matrix.device_keys import MEGOLM_ALGORITHM
from crypto.matrix.errors import EncodingError, KeyFormatError

ROOM_KEY = "m.room_key"
FORWARDED_ROOM_KEY = "m.forwarded_room_key"
ROOM_KEY_WITHHELD = "m.room_key.withheld"
ROOM_KEY_REQUEST = "m.room_key_request"
DUMMY = "m.dummy"

WITHHELD_CODES = frozenset(
    {
        "m.blacklisted",
        "m.unverified",
        "m.unauthorised",
        "m.unavailable",
        "m.no_olm",
        "m.history_not_shared",
    }
)
_WITHHELD_REASONS = {
    "m.blacklisted": "The sender has blocked you.",
    "m.unverified": "The sender has disabled encrypting to unverified devices.",
    "m.unauthorised": "You are not authorised to read the message.",
    "m.unavailable": "The requested key was not found.",
    "m.no_olm": "Unable to establish a secure channel.",
    "m.history_not_shared": "The sender does not share history with new members.",
}


def _str(content: Mapping[str, Any], name: str) -> str:
    value = content.get(name)
    if not isinstance(value, str) or not value:
        raise KeyFormatError(f"{name} must be a non-empty string")
    return value


def _megolm(content: Mapping[str, Any]) -> None:
    if content.get("algorithm") != MEGOLM_ALGORITHM:
        raise KeyFormatError("unsupported room key algorithm", "unsupported_algorithm")


def _curve(content: Mapping[str, Any], name: str) -> str:
    value = _str(content, name)
    try:
        decode_key(value)
    except EncodingError as exc:
        raise KeyFormatError(f"{name}: {exc}") from exc
    return value


@dataclass(frozen=True)
class RoomKey:
    room_id: str
    session_id: str
    session_key: str

    @classmethod
    def parse(cls, content: Mapping[str, Any]) -> RoomKey:
        _megolm(content)
        return cls(
            ids.room_id(content.get("room_id")),
            _str(content, "session_id"),
            _str(content, "session_key"),
        )

    def content(self) -> dict[str, Any]:
        return {
            "algorithm": MEGOLM_ALGORITHM,
            "room_id": self.room_id,
            "session_id": self.session_id,
            "session_key": self.session_key,
        }


@dataclass(frozen=True)
class ForwardedRoomKey:
    room_id: str
    session_id: str
    session_key: str  # export format
    sender_key: str  # curve25519 of the device that created the session
    sender_claimed_ed25519_key: str
    forwarding_curve25519_key_chain: tuple[str, ...]
    withheld: Mapping[str, Any] | None = None

    @classmethod
    def parse(cls, content: Mapping[str, Any]) -> ForwardedRoomKey:
        _megolm(content)
        chain = content.get("forwarding_curve25519_key_chain")
        if not isinstance(chain, list) or not all(isinstance(k, str) for k in chain):
            raise KeyFormatError("forwarding_curve25519_key_chain must be a list of keys")
        withheld = content.get("withheld")
        return cls(
            ids.room_id(content.get("room_id")),
            _str(content, "session_id"),
            _str(content, "session_key"),
            _curve(content, "sender_key"),
            _curve(content, "sender_claimed_ed25519_key"),
            tuple(chain),
            withheld if isinstance(withheld, Mapping) else None,
        )

    def content(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "algorithm": MEGOLM_ALGORITHM,
            "room_id": self.room_id,
            "session_id": self.session_id,
            "session_key": self.session_key,
            "sender_key": self.sender_key,
            "sender_claimed_ed25519_key": self.sender_claimed_ed25519_key,
            "forwarding_curve25519_key_chain": list(self.forwarding_curve25519_key_chain),
        }
        if self.withheld is not None:
            out["withheld"] = dict(self.withheld)
        return out


@dataclass(frozen=True)
class RoomKeyWithheld:
    code: str
    sender_key: str
    room_id: str | None
    session_id: str | None
    reason: str | None = None

    @classmethod
    def parse(cls, content: Mapping[str, Any]) -> RoomKeyWithheld:
        _megolm(content)
        code = _str(content, "code")
        room_id = content.get("room_id")
        session_id = content.get("session_id")
        if code != "m.no_olm" or room_id is not None or session_id is not None:
            room_id = ids.room_id(room_id)
            session_id = _str(content, "session_id")
        reason = content.get("reason")
        return cls(
            code,
            _curve(content, "sender_key"),
            room_id,
            session_id,
            reason if isinstance(reason, str) else None,
        )

    @property
    def known_code(self) -> bool:
        """Whether the code is one the spec defines (else show ``reason``)."""
        return self.code in WITHHELD_CODES

    def content(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "algorithm": MEGOLM_ALGORITHM,
            "code": self.code,
            "sender_key": self.sender_key,
            "reason": self.reason or _WITHHELD_REASONS.get(self.code, self.code),
        }
        if self.room_id is not None:
            out["room_id"] = self.room_id
        if self.session_id is not None:
            out["session_id"] = self.session_id
        return out


@dataclass(frozen=True)
class RoomKeyRequest:
    action: str  # "request" | "request_cancellation"
    requesting_device_id: str
    request_id: str
    room_id: str | None = None
    session_id: str | None = None
    sender_key: str | None = None  # deprecated, sent when known, never used for look-up

    @classmethod
    def parse(cls, content: Mapping[str, Any]) -> RoomKeyRequest:
        action = content.get("action")
        if action not in ("request", "request_cancellation"):
            raise KeyFormatError("action must be request or request_cancellation")
        device = ids.device_id(content.get("requesting_device_id"))
        request_id = _str(content, "request_id")
        if action == "request_cancellation":
            return cls(action, device, request_id)
        body = content.get("body")
        if not isinstance(body, Mapping):
            raise KeyFormatError("a request needs a body")
        _megolm(body)
        sender_key = body.get("sender_key")
        return cls(
            action,
            device,
            request_id,
            ids.room_id(body.get("room_id")),
            _str(body, "session_id"),
            sender_key if isinstance(sender_key, str) else None,
        )

    def content(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action,
            "requesting_device_id": self.requesting_device_id,
            "request_id": self.request_id,
        }
        if self.action == "request":
            body: dict[str, Any] = {
                "algorithm": MEGOLM_ALGORITHM,
                "room_id": self.room_id,
                "session_id": self.session_id,
            }
            if self.sender_key is not None:
                body["sender_key"] = self.sender_key
            out["body"] = body
        return out


@dataclass(frozen=True)
class SessionExport:
    """``ExportedSessionData`` (with room_id/session_id) or ``BackedUpSessionData``."""

    room_id: str
    session_id: str
    session_key: str  # export format
    sender_key: str
    sender_claimed_ed25519: str
    forwarding_curve25519_key_chain: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(
        cls, data: Mapping[str, Any], room_id: str | None = None, session_id: str | None = None
    ) -> SessionExport:
        """Parse an export (ids inside) or a backup entry (ids given by where it sits)."""
        _megolm(data)
        claimed = data.get("sender_claimed_keys")
        ed = claimed.get("ed25519") if isinstance(claimed, Mapping) else None
        if not isinstance(ed, str):
            raise KeyFormatError("sender_claimed_keys.ed25519 is missing")
        chain = data.get("forwarding_curve25519_key_chain", [])
        if not isinstance(chain, list) or not all(isinstance(k, str) for k in chain):
            raise KeyFormatError("forwarding_curve25519_key_chain must be a list of keys")
        rid = room_id if room_id is not None else data.get("room_id")
        sid = session_id if session_id is not None else data.get("session_id")
        if not isinstance(sid, str) or not sid:
            raise KeyFormatError("session_id is missing")
        return cls(
            ids.room_id(rid),
            sid,
            _str(data, "session_key"),
            _curve(data, "sender_key"),
            ed,
            tuple(chain),
        )

    def backup_json(self) -> dict[str, Any]:
        """``BackedUpSessionData`` (the plaintext of one backup entry)."""
        return {
            "algorithm": MEGOLM_ALGORITHM,
            "forwarding_curve25519_key_chain": list(self.forwarding_curve25519_key_chain),
            "sender_key": self.sender_key,
            "sender_claimed_keys": {"ed25519": self.sender_claimed_ed25519},
            "session_key": self.session_key,
        }

    def export_json(self) -> dict[str, Any]:
        """``ExportedSessionData`` (one element of a key export)."""
        return {**self.backup_json(), "room_id": self.room_id, "session_id": self.session_id}
