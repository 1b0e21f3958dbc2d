"""Messaging for one device: keys on the server, sending, receiving, attachments.

Everything a person's device does with messages, over :class:`client.api.Api` and
:class:`client.device.Device`:

* ``publish_keys`` uploads the signed device bundle, one-time keys and a fallback key;
  ``top_up`` keeps enough one-time keys on the server.
* ``send`` encrypts a payload once per device of the thread (claiming keys to start
  sessions with devices it has none with) and posts it; a 409 ``device_set_mismatch``
  is repaired from the answer (encrypt for the missing devices, drop the stale ones)
  and sent again with the same client message id.
* ``receive`` decrypts mailbox rows. Each row is decrypted, stored and the cursor moved
  in one local transaction, so a crash never loses a message or hands it to the
  application twice; a replayed row is recognised and skipped. ``sync`` reads the
  mailbox over HTTP; :mod:`client.live` does the same over the WebSocket.
* A row that carries a Megolm room key (:class:`crypto.payloads.RoomKeyShare`, how a
  device shares the key of its case content, e.g. homework) is imported in that same
  transaction and never shown as a message; a share the trust rules refuse lands in
  ``failed`` like any other row that could not be opened.
* Attachments are encrypted on the device and uploaded as opaque blobs; the pointer
  (blob id, key, hash) travels in the E2E message.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable, Iterator
from typing import Any
from uuid import UUID

import msgspec

from client.api import Api, ApiError
from client.device import ONE_TIME_KEY_TARGET, Device, PeerDevice, Received
from crypto.attachments import decrypt_stream, encrypt_stream
from crypto.envelope import OlmCiphertext
from crypto.errors import CryptoError, DuplicateMessageError, StoreError
from crypto.payloads import AttachmentPointer, Payload, RoomKeyShare, TextMessage

log = logging.getLogger("kaari.client")

SEND_ATTEMPTS = 4


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """A received (or sent) message as the application sees it."""

    seq: int  # mailbox sequence (0 for the device's own sent messages)
    envelope_id: str
    thread_id: str
    sender_user_id: str
    sender_device_id: str
    message_id: str
    sent_at: int  # the sender's clock, ms
    payload: Payload
    outgoing: bool = False


class SendFailed(Exception):
    pass


_message_decoder = msgspec.json.Decoder(Message)
_ciphertext_decoder = msgspec.json.Decoder(OlmCiphertext)


class Messenger:
    def __init__(self, api: Api, device: Device) -> None:
        self.api = api
        self.device = device
        self._peers: dict[str, PeerDevice] = {}  # device id -> verified keys
        self.failed: list[tuple[int, str]] = []  # (seq, reason) of rows that did not decrypt

    # keys

    def publish_keys(self) -> dict[str, Any]:
        """Upload this device's bundle, one-time keys and fallback key (idempotent)."""
        counts = self.api.upload_keys(
            {
                "deviceKeys": self.device.signed_device_bundle(),
                "oneTimeKeys": self.device.one_time_keys_to_upload(0),
                "fallbackKeys": self.device.fallback_key_to_upload(),
            }
        )
        self.device.mark_keys_published()
        return counts

    def top_up(self) -> int:
        """Upload one-time keys when fewer than half the target are left, and a new
        fallback key once the old one was handed out; how many one-time keys."""
        counts = self.api.key_counts()
        left = int(counts["oneTimeKeyCount"])
        body: dict[str, Any] = {}
        if left < ONE_TIME_KEY_TARGET // 2:
            keys = self.device.one_time_keys_to_upload(left)
            if keys:
                body["oneTimeKeys"] = keys
        if counts["fallbackKeyUsed"] or not counts["fallbackKey"]:
            body["fallbackKeys"] = self.device.rotate_fallback_key()
        if body:
            self.api.upload_keys(body)
            self.device.mark_keys_published()
        return len(body.get("oneTimeKeys", {}))

    def _peer_keys(self, user_ids: Iterable[str]) -> None:
        """Fetch and verify the device bundles of these users (cached)."""
        wanted = set(user_ids)
        if not wanted:
            return
        for user in self.api.query_keys(wanted).values():
            for device_id, bundle in user["devices"].items():
                if device_id in self._peers:
                    continue
                try:
                    self._peers[device_id] = PeerDevice.from_bundle(bundle)
                except CryptoError:
                    log.warning("a device bundle from the server does not verify")

    # sending

    def send(
        self, thread_id: str, payload: Payload, *, client_message_id: str | None = None
    ) -> dict[str, Any]:
        """Encrypt ``payload`` for every device of the thread and post it."""
        client_message_id = client_message_id or uuid.uuid4().hex
        targets = {d["deviceId"]: d["userId"] for d in self.api.thread_devices(thread_id)}
        for _ in range(SEND_ATTEMPTS):
            ciphertexts = self._encrypt(targets, payload, client_message_id)
            try:
                result = self.api.send(
                    thread_id, {"clientMessageId": client_message_id, "ciphertexts": ciphertexts}
                )
            except ApiError as exc:
                if exc.code != "device_set_mismatch":
                    raise
                for gone in exc.body.get("stale", []):
                    targets.pop(gone, None)
                for new in exc.body.get("missing", []):
                    targets[new["deviceId"]] = new["userId"]
                continue
            self._remember_sent(thread_id, result, client_message_id, payload)
            return result
        raise SendFailed("the thread's devices kept changing; try again")

    def _encrypt(
        self, targets: dict[str, str], payload: Payload, message_id: str
    ) -> dict[str, Any]:
        unknown = {u for d, u in targets.items() if d not in self._peers}
        self._peer_keys(unknown)
        recipients: list[PeerDevice] = []
        need_key = [
            d
            for d in targets
            if d in self._peers and not self.device.has_session_with(self._peers[d].curve25519)
        ]
        claimed = self.api.claim_keys(need_key) if need_key else {}
        for device_id in targets:
            peer = self._peers.get(device_id)
            if peer is None:
                continue  # no verified keys: the server will name it missing or stale
            if device_id in need_key:
                key = claimed.get(device_id)
                if key is None:
                    continue
                peer = PeerDevice.from_bundle(self._bundle_of(peer), key["key"])
            recipients.append(peer)
        cts = self.device.encrypt_for(recipients, payload, message_id=message_id)
        return {ct.recipient_device_id: msgspec.to_builtins(ct) for ct in cts}

    def _bundle_of(self, peer: PeerDevice) -> dict[str, Any]:
        users = self.api.query_keys([peer.user_id])
        bundle: dict[str, Any] = users[peer.user_id]["devices"][peer.device_id]
        return bundle

    def send_text(self, thread_id: str, text: str) -> dict[str, Any]:
        return self.send(thread_id, TextMessage(body=text))

    def send_attachment(
        self,
        thread_id: str,
        chunks: Iterable[bytes],
        media_type: str,
        file_name: str | None = None,
    ) -> tuple[dict[str, Any], AttachmentPointer]:
        """Encrypt and upload a file, then send its pointer to the thread."""
        stream = encrypt_stream(chunks)
        blob = self.api.upload_attachment(thread_id, iter(stream))
        pointer = stream.pointer(blob["id"], media_type, file_name)
        return self.send(thread_id, pointer), pointer

    def fetch_attachment(self, pointer: AttachmentPointer) -> Iterator[bytes]:
        """Download and decrypt (the hash and the authentication tags are checked)."""
        return decrypt_stream(self.api.download_attachment(pointer.blob_id), pointer)

    # receiving

    @property
    def cursor(self) -> int:
        raw = self.device.get_record("mailbox.cursor")
        return int(raw) if raw else 0

    def receive(self, items: list[dict[str, Any]]) -> list[Message]:
        """Decrypt mailbox rows (in sequence order); the new messages, each once."""
        new: list[Message] = []
        for item in sorted(items, key=lambda i: int(i["seq"])):
            seq = int(item["seq"])
            if seq <= self.cursor:
                continue  # already handled (a replay after a reconnect)
            with self.device.transaction():
                message = self._open(item)
                if message is not None:
                    self.device.put_record(_record_name(message), msgspec.json.encode(message))
                    new.append(message)
                self.device.put_record("mailbox.cursor", str(seq).encode())
        return new

    def _open(self, item: dict[str, Any]) -> Message | None:
        seq = int(item["seq"])
        try:
            ciphertext = _ciphertext_decoder.decode(msgspec.json.encode(item["ciphertext"]))
            sender = self._peers.get(ciphertext.sender_device_id)
            if sender is None:
                self._peer_keys([ciphertext.sender_user_id])
                sender = self._peers.get(ciphertext.sender_device_id)
            if sender is None:
                # not in the key directory (revoked, or made up by a server): never shown
                # as coming from the user it names
                self.failed.append((seq, "unknown_sender"))
                return None
            received = self.device.decrypt(ciphertext, expected_sender=sender)
        except DuplicateMessageError:
            return None
        except StoreError:
            raise  # the device's own storage failed: the row is not consumed
        except (CryptoError, msgspec.MsgspecError) as exc:
            self.failed.append((seq, type(exc).__name__))
            log.warning("a message could not be decrypted", extra={"count": seq})
            return None
        if str(received.sender.device_id) != item["senderDeviceId"]:
            self.failed.append((seq, "sender_mismatch"))
            return None
        if isinstance(received.payload, RoomKeyShare):
            self._accept_key(seq, received, sender)
            return None
        return Message(
            seq=seq,
            envelope_id=item["envelopeId"],
            thread_id=item["threadId"],
            sender_user_id=received.sender.user_id,
            sender_device_id=received.sender.device_id,
            message_id=received.message_id,
            sent_at=received.sent_at,
            payload=received.payload,
        )

    def _accept_key(self, seq: int, received: Received, sender: PeerDevice) -> None:
        """Import a room key share (called inside the row's transaction).

        The share's origin is checked against the key directory: a direct share must come
        from its origin, so the origin must be the sender's directory entry; a history
        share may be forwarded by another device of the origin's user, so the origin's
        own entry is looked up (absent when that device was since revoked: its old
        content stays readable, and its signature over the session is still checked).
        """
        share = received.payload
        assert isinstance(share, RoomKeyShare)
        origin: PeerDevice | None = sender
        if share.exported and share.origin.device_id != sender.device_id:
            origin = self._peers.get(share.origin.device_id)
            if origin is None:
                self._peer_keys([share.origin.user_id])
                origin = self._peers.get(share.origin.device_id)
        try:
            self.device.cases.accept_room_key(received, expected_origin=origin)
        except StoreError:
            raise
        except CryptoError as exc:
            self.failed.append((seq, f"room_key_refused:{type(exc).__name__}"))
            log.warning("a room key share was refused", extra={"count": seq})

    def sync(self) -> list[Message]:
        """Read the whole mailbox over HTTP, decrypt, store, acknowledge."""
        new: list[Message] = []
        while True:
            page = self.api.mailbox(self.cursor)
            new.extend(self.receive(page["items"]))
            if page["items"]:
                self.api.ack(self.cursor)
            if not page["more"]:
                return new

    def _remember_sent(
        self, thread_id: str, result: dict[str, Any], message_id: str, payload: Payload
    ) -> None:
        if isinstance(payload, RoomKeyShare):
            return  # key material for the device, not a message of the conversation
        message = Message(
            seq=0,
            envelope_id=result["id"],
            thread_id=thread_id,
            sender_user_id=self.device.user_id,
            sender_device_id=self.device.device_id,
            message_id=message_id,
            sent_at=_ms(result["sentAt"]),
            payload=payload,
            outgoing=True,
        )
        self.device.put_record(_record_name(message), msgspec.json.encode(message))

    def history(self, thread_id: str | None = None) -> list[Message]:
        """Messages this device has (received and sent), oldest first."""
        prefix = f"msg.{UUID(thread_id).hex}." if thread_id else "msg."
        out = []
        for name in self.device.record_names(prefix):
            raw = self.device.get_record(name)
            if raw is not None:
                out.append(_message_decoder.decode(raw))
        return sorted(out, key=lambda m: (m.sent_at, m.message_id))


def _record_name(message: Message) -> str:
    key = f"{message.sender_device_id}|{message.message_id}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f"msg.{UUID(message.thread_id).hex}.{digest}"


def _ms(timestamp: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(timestamp).timestamp() * 1000)
