"""Messaging on the wire: HTTP bodies and the mailbox frames of the WebSocket.

The server sees routing facts only. A recipient's ciphertext is checked for its shape
and for who it claims to be from and to (so it cannot be re-addressed), never opened.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from app.core.wire import Camel
from app.realtime.schemas import InFrame, OutFrame

ThreadKind = Literal["family", "child"]

ClientMessageId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
#: the base64 body of one Olm message (a 64 KiB plaintext fits; crypto.envelope.MAX_BODY_B64)
OlmBody = Annotated[
    str, Meta(min_length=1, max_length=96 * 1024, pattern=r"^[A-Za-z0-9+/]+={0,2}$")
]
Key32 = Annotated[str, Meta(min_length=43, max_length=44, pattern=r"^[A-Za-z0-9+/]{43}=?$")]

#: recipients of one envelope: a case has few devices; a bound keeps a send cheap
MAX_RECIPIENTS = 64


class ThreadOut(Camel):
    id: UUID
    case_id: UUID
    kind: ThreadKind
    child_name: str | None


class ThreadDevice(Camel):
    user_id: UUID
    device_id: UUID


class ThreadDevices(Camel):
    """The devices a message to the thread must be encrypted for (the caller's own
    device is left out; its other devices are in)."""

    thread_id: UUID
    devices: list[ThreadDevice]


class OlmCiphertextIn(Camel, kw_only=True):
    """One recipient device's Olm ciphertext (crypto.envelope.OlmCiphertext)."""

    type: Literal["olm"]
    v: Literal[1]
    sender_user_id: UUID
    sender_device_id: UUID
    sender_curve25519: Key32
    recipient_user_id: UUID
    recipient_device_id: UUID
    message_type: Literal[0, 1]
    body: OlmBody


class SendRequest(Camel):
    client_message_id: ClientMessageId
    #: one ciphertext per recipient device, keyed by the device id
    ciphertexts: Annotated[dict[UUID, OlmCiphertextIn], Meta(min_length=1)]


class SendResult(Camel):
    id: UUID
    thread_id: UUID
    client_message_id: str
    sent_at: datetime
    recipients: int


class MailboxItem(Camel):
    seq: int
    envelope_id: UUID
    thread_id: UUID
    case_id: UUID
    sender_user_id: UUID
    sender_device_id: UUID
    sent_at: datetime
    #: the recipient's Olm ciphertext, as the sender posted it
    ciphertext: msgspec.Raw


class MailboxPage(Camel):
    items: list[MailboxItem]
    #: the highest sequence in ``items`` (or the cursor given, when empty)
    up_to_seq: int
    more: bool


class AckRequest(Camel):
    up_to_seq: Annotated[int, Meta(ge=0)]


class AckResult(Camel):
    up_to_seq: int
    removed: int


class DeliveryOut(Camel):
    user_id: UUID
    device_id: UUID
    delivered_at: datetime


class DeliveriesOut(Camel):
    envelope_id: UUID
    recipients: int
    delivered: list[DeliveryOut]


class AttachmentOut(Camel):
    id: UUID
    thread_id: UUID
    size: int
    sha256: str
    expires_at: datetime


# WebSocket frames (docs/messaging.md)


class SyncIn(InFrame, tag="sync", kw_only=True):
    """Send every mailbox row after ``after_seq``, then keep pushing new ones."""

    after_seq: Annotated[int, Meta(ge=0)]


class AckIn(InFrame, tag="ack", kw_only=True):
    """Rows up to ``up_to_seq`` are safely stored on the device: delete them."""

    up_to_seq: Annotated[int, Meta(ge=0)]


class MessagesOut(OutFrame, tag="messages"):
    items: list[MailboxItem]
    up_to_seq: int


class AckedOut(OutFrame, tag="acked"):
    up_to_seq: int
    removed: int
