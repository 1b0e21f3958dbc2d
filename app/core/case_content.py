"""Megolm case content on the wire, for the domains that still store it in the earlier
format (appointment details, cancellation notes; homework content is room events of the
case's homework room now, docs/homework.md).

The server checks its shape, its size and who it claims to come from, and stores and
returns it as it came; it never opens it (crypto.envelope.MegolmCiphertext).
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from app.core.wire import Camel

#: the base64 body of one Megolm message: details and notes are short (crypto allows 256 KiB)
MAX_MEGOLM_BODY = 16 * 1024

Key32 = Annotated[str, Meta(min_length=43, max_length=44, pattern=r"^[A-Za-z0-9+/]{43}=?$")]
MegolmBody = Annotated[
    str, Meta(min_length=1, max_length=MAX_MEGOLM_BODY, pattern=r"^[A-Za-z0-9+/]+={0,2}$")
]
SessionId = Annotated[str, Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9+/=_-]+$")]


class MegolmCiphertextIn(Camel, kw_only=True):
    """Case content encrypted with the sender device's Megolm session for the case
    (crypto.envelope.MegolmCiphertext). Stored and returned as it came."""

    type: Literal["megolm"]
    v: Literal[1] = 1
    case_id: UUID
    sender_user_id: UUID
    sender_device_id: UUID
    sender_curve25519: Key32
    session_id: SessionId
    body: MegolmBody


def from_caller(ct: MegolmCiphertextIn, user_id: UUID, device_id: UUID) -> bool:
    """Does the ciphertext name the calling device as its sender (so it cannot be passed
    off as someone else's)?"""
    return ct.sender_user_id == user_id and ct.sender_device_id == device_id


_encoder = msgspec.json.Encoder()


def encode(ct: MegolmCiphertextIn) -> str:
    return _encoder.encode(ct).decode()


def decode(text: str) -> MegolmCiphertextIn:
    return msgspec.json.decode(text, type=MegolmCiphertextIn)
