"""The Matrix device's persistent state, on the encrypted SQLite :class:`client.keystore.KeyStore`.

Records (each sealed by the key store under the 32-byte secret; names carry no ids)::

    mx.meta                  {user_id, device_id, next_seq}
    mx.part.<part>           the device's pickles (crypto.matrix.persist), vodozemac parts
                             encrypted again under a pickle key derived from the secret
    mx.since                 the sync position processed so far
    mx.msg.<seq>             a decrypted message handed to the application (in order)
    mx.byid.<tag>            which mx.msg record holds the message of an event id
    mx.pend.<tag>            a room event we could not decrypt yet (retried on new keys)
    mx.out.<seq>             an outgoing to-device request not yet accepted by the server
    mx.backupkey             the backup's private key (base64), when this device knows it
    mx.receipts              each room's members' latest decrypted read receipts
                             (client.matrix.receipts): {room: {user: {event_id, ts, at}}}

Event ids seen are keyed tags in the store's ``seen`` table (exactly once to the app).
Everything one sync changes (the device state, new messages, the position) is written in
one :meth:`transaction`, so a crash replays the sync from the last committed position
with the device state of that position.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from client.keystore import KeyStore
from crypto.matrix.canonical import dumps, loads_object
from crypto.matrix.device import MatrixDevice
from crypto.matrix.megolm import RotationPolicy
from crypto.matrix.persist import PARTS, device_from_pickle, pickle_device

SECRET_BYTES = 32


def _pickle_key(secret: bytes) -> bytes:
    return hmac.new(secret, b"kaari matrix device pickle key v1", hashlib.sha256).digest()


class DeviceStore:
    def __init__(self, keystore: KeyStore, secret: bytes) -> None:
        self.keystore = keystore
        self._pickle_key = _pickle_key(secret)
        self._written: dict[str, str] = {}

    @classmethod
    def create(cls, path: str | os.PathLike[str], secret: bytes) -> DeviceStore:
        _check(secret)
        return cls(KeyStore.create(path, secret), secret)

    @classmethod
    def open(cls, path: str | os.PathLike[str], secret: bytes) -> DeviceStore:
        _check(secret)
        return cls(KeyStore.open(path, secret), secret)

    def close(self) -> None:
        self.keystore.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic, durable commit (nested calls join the outer one)."""
        written = dict(self._written)
        try:
            with self.keystore.transaction():
                yield
        except BaseException:
            self._written = written
            raise

    # -- JSON records ----------------------------------------------------------------------

    def _get(self, name: str) -> dict[str, Any] | None:
        raw = self.keystore.get(name)
        return loads_object(raw) if raw is not None else None

    def _put(self, name: str, value: dict[str, Any]) -> None:
        self.keystore.put(name, dumps(value))

    def _next_seq(self) -> int:
        meta = self._get("mx.meta") or {}
        seq = int(meta.get("next_seq", 1))
        self._put("mx.meta", {**meta, "next_seq": seq + 1})
        return seq

    # -- the device ------------------------------------------------------------------------

    def load_device(self, policy: RotationPolicy | None = None) -> MatrixDevice | None:
        parts: dict[str, str] = {}
        for part in PARTS:
            raw = self.keystore.get(f"mx.part.{part}")
            if raw is None:
                return None
            parts[part] = raw.decode()
        self._written = dict(parts)
        return device_from_pickle(parts, self._pickle_key, policy=policy)

    def save_device(self, device: MatrixDevice) -> None:
        """Write the parts that changed since the last save (in one transaction)."""
        parts = pickle_device(device, self._pickle_key)
        with self.transaction():
            if self._get("mx.meta") is None:
                self._put("mx.meta", {"user_id": device.user_id, "device_id": device.device_id})
            for part, text in parts.items():
                if self._written.get(part) != text:
                    self.keystore.put(f"mx.part.{part}", text.encode())
                    self._written[part] = text

    def identity(self) -> tuple[str, str] | None:
        meta = self._get("mx.meta")
        return (str(meta["user_id"]), str(meta["device_id"])) if meta else None

    # -- sync position ---------------------------------------------------------------------

    @property
    def since(self) -> str | None:
        record = self._get("mx.since")
        return str(record["since"]) if record else None

    def set_since(self, since: str) -> None:
        self._put("mx.since", {"since": since})

    # -- read receipts ---------------------------------------------------------------------

    def receipts(self) -> dict[str, dict[str, dict[str, Any]]]:
        record = self._get("mx.receipts") or {}
        return {str(room): dict(users) for room, users in record.items()}

    def set_receipts(self, receipts: dict[str, dict[str, dict[str, Any]]]) -> None:
        self._put("mx.receipts", receipts)

    # -- messages to the application -------------------------------------------------------

    def seen_event(self, event_id: str) -> bool:
        return self.keystore.seen("mx.event", event_id)

    def deliver(self, message: dict[str, Any]) -> bool:
        """Record a decrypted message once per event id; False if it was delivered before."""
        with self.transaction():
            if not self.keystore.add_seen("mx.event", str(message["event_id"])):
                return False
            name = f"mx.msg.{self._next_seq():012d}"
            self._put(name, message)
            by_id = self.keystore.tagged_name("mx.byid", "mx.byid", str(message["event_id"]))
            self._put(by_id, {"name": name})
            pending = self.keystore.tagged_name("mx.pend", "mx.pend", str(message["event_id"]))
            self.keystore.delete(pending)
        return True

    def message(self, event_id: str) -> dict[str, Any] | None:
        """The decrypted message of an event id, if it was handed to the application."""
        ref = self._get(self.keystore.tagged_name("mx.byid", "mx.byid", event_id))
        return self._get(str(ref["name"])) if ref else None

    def messages(self) -> list[dict[str, Any]]:
        out = []
        for name in self.keystore.names("mx.msg."):
            record = self._get(name)
            if record is not None:
                out.append(record)
        return out

    # -- events waiting for their key ------------------------------------------------------

    def add_pending(self, room_id: str, event: dict[str, Any], reason: str) -> None:
        name = self.keystore.tagged_name("mx.pend", "mx.pend", str(event.get("event_id")))
        self._put(name, {"room_id": room_id, "event": event, "reason": reason})

    def pending(self) -> list[dict[str, Any]]:
        out = []
        for name in self.keystore.names("mx.pend."):
            record = self._get(name)
            if record is not None:
                out.append(record)
        return out

    # -- outgoing to-device requests -------------------------------------------------------

    def queue_to_device(self, event_type: str, txn_id: str, body: dict[str, Any]) -> None:
        self._put(
            f"mx.out.{self._next_seq():012d}", {"type": event_type, "txn": txn_id, "body": body}
        )

    def outbox(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for name in self.keystore.names("mx.out."):
            record = self._get(name)
            if record is not None:
                out.append((name, record))
        return out

    def sent(self, name: str) -> None:
        self.keystore.delete(name)

    # -- backup key ------------------------------------------------------------------------

    def backup_key(self) -> str | None:
        record = self._get("mx.backupkey")
        return str(record["key"]) if record else None

    def set_backup_key(self, key_base64: str) -> None:
        self._put("mx.backupkey", {"key": key_base64})


def _check(secret: bytes) -> None:
    if len(secret) != SECRET_BYTES:
        raise ValueError("the store secret is 32 bytes")
