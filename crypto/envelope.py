"""Wire formats: per-recipient ciphertexts (what the server stores and routes)
and the plaintexts inside them (what only devices see).

Outer, server-visible (JSON, tag field ``type``, version field ``v``)::

    {"type":"olm","v":1,"senderUserId":…,"senderDeviceId":…,"senderCurve25519":…,
     "recipientUserId":…,"recipientDeviceId":…,"messageType":0|1,"body":"<b64>"}
    {"type":"megolm","v":1,"caseId":…,"senderUserId":…,"senderDeviceId":…,
     "senderCurve25519":…,"sessionId":…,"body":"<b64>"}

Inner (encrypted): :class:`OlmPlaintext` binds sender *and* recipient (user id,
device id, both keys) so that a ciphertext cannot be re-addressed to another
recipient or claimed by another sender; :class:`MegolmPlaintext` binds the case
and the sender.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

import msgspec
from msgspec import Meta

from crypto.errors import EncodingError
from crypto.payloads import Id, Key32, Millis, PartyKeys, Payload

VERSION = 1
#: Olm ciphertext bodies are bounded (a pre-key message of a 64 KiB plaintext fits).
MAX_BODY_B64 = 96 * 1024
#: Largest encoded plaintext a device will encrypt or accept.
MAX_PLAINTEXT = 64 * 1024

Body = Annotated[
    str, Meta(min_length=1, max_length=MAX_BODY_B64, pattern=r"^[A-Za-z0-9+/]+={0,2}$")
]


class _Wire(
    msgspec.Struct,
    tag_field="type",
    rename="camel",
    kw_only=True,
    forbid_unknown_fields=True,
):
    v: Literal[1] = 1


class OlmCiphertext(_Wire, tag="olm"):
    """One recipient device's Olm ciphertext (message type 0 = pre-key, 1 = normal)."""

    sender_user_id: Id
    sender_device_id: Id
    sender_curve25519: Key32
    recipient_user_id: Id
    recipient_device_id: Id
    message_type: Literal[0, 1]
    body: Body


class MegolmCiphertext(_Wire, tag="megolm"):
    """Case content encrypted once with the sender device's Megolm session for the case."""

    case_id: Id
    sender_user_id: Id
    sender_device_id: Id
    sender_curve25519: Key32
    session_id: Annotated[str, Meta(min_length=1, max_length=128)]
    body: Annotated[str, Meta(min_length=1, max_length=4 * MAX_PLAINTEXT)]


Ciphertext = OlmCiphertext | MegolmCiphertext


class OlmPlaintext(
    msgspec.Struct, rename="camel", frozen=True, kw_only=True, forbid_unknown_fields=True
):
    """The decrypted content of an :class:`OlmCiphertext`."""

    v: Literal[1] = 1
    message_id: Id
    sent_at: Millis
    sender: PartyKeys
    recipient: PartyKeys
    payload: Payload


class MegolmPlaintext(
    msgspec.Struct, rename="camel", frozen=True, kw_only=True, forbid_unknown_fields=True
):
    """The decrypted content of a :class:`MegolmCiphertext`."""

    v: Literal[1] = 1
    message_id: Id
    sent_at: Millis
    case_id: Id
    sender: PartyKeys
    payload: Payload


T = TypeVar("T")

_encoder = msgspec.json.Encoder()


def encode(obj: msgspec.Struct) -> bytes:
    """JSON-encode a wire or plaintext Struct."""
    return _encoder.encode(obj)


def decode(data: bytes | str, type_: type[T], *, max_size: int = 4 * MAX_PLAINTEXT) -> T:
    """Decode and validate (bounds, version, tags); raise :class:`EncodingError`."""
    if len(data) > max_size:
        raise EncodingError("message too large")
    try:
        return msgspec.json.decode(data, type=type_)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise EncodingError(f"invalid {getattr(type_, '__name__', 'message')}: {exc}") from exc


def decode_ciphertext(data: bytes | str) -> OlmCiphertext | MegolmCiphertext:
    """Decode either kind of ciphertext from the wire."""
    result: OlmCiphertext | MegolmCiphertext = decode(data, Ciphertext)  # type: ignore[arg-type]
    return result
