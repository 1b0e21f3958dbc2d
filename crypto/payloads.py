"""The inner, end-to-end encrypted payloads: a tagged union of msgspec Structs.

Every payload is a JSON object with a ``type`` tag and camelCase fields, with
bounds on every string and list so a malicious peer cannot make a device
allocate without limit. The server never sees these; they travel inside Olm
(pairwise) or Megolm (case content) ciphertexts.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

#: An opaque identifier (user, device, case, message, blob, …).
Id = Annotated[str, Meta(min_length=1, max_length=255)]
#: A 32-byte key in unpadded standard base64 (43 characters).
Key32 = Annotated[str, Meta(pattern=r"^[A-Za-z0-9+/]{43}$")]
#: A 64-byte Ed25519 signature in unpadded standard base64 (86 characters).
Signature64 = Annotated[str, Meta(pattern=r"^[A-Za-z0-9+/]{86}$")]
#: Milliseconds since the Unix epoch.
Millis = Annotated[int, Meta(ge=0, le=2**53 - 1)]
#: A MIME type such as ``image/jpeg``.
MediaType = Annotated[
    str, Meta(max_length=127, pattern=r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9!#$&^_.+-]+$")
]
#: Upper bound of one attachment's plaintext (the server enforces its own limit too).
MAX_ATTACHMENT_SIZE = 100 * 1024 * 1024


class PayloadBase(
    msgspec.Struct,
    tag_field="type",
    rename="camel",
    kw_only=True,
    forbid_unknown_fields=True,
    omit_defaults=True,
):
    """Common configuration of all payloads (tag field ``type``, camelCase)."""


class TextMessage(PayloadBase, tag="text"):
    """A chat message in a case thread."""

    body: Annotated[str, Meta(max_length=20_000)]
    reply_to: Id | None = None


class ReadReceipt(PayloadBase, tag="receipt"):
    """The reader has seen these messages."""

    message_ids: Annotated[list[Id], Meta(min_length=1, max_length=256)]
    read_at: Millis


class AttachmentPointer(PayloadBase, tag="attachment"):
    """Where an encrypted blob is and how to open it (see :mod:`crypto.attachments`)."""

    blob_id: Id
    key: Key32
    sha256: Key32  # SHA-256 of the whole ciphertext blob
    size: Annotated[int, Meta(ge=0, le=MAX_ATTACHMENT_SIZE)]  # plaintext bytes
    media_type: MediaType
    file_name: Annotated[str, Meta(max_length=255)] | None = None
    format: Annotated[int, Meta(ge=1, le=255)] = 1


class PartyKeys(msgspec.Struct, rename="camel", frozen=True, forbid_unknown_fields=True):
    """A device named with its keys: used to bind plaintexts to sender and recipient."""

    user_id: Id
    device_id: Id
    curve25519: Key32
    ed25519: Key32


class RoomKeyShare(PayloadBase, tag="roomKey"):
    """A Megolm session key for a case, shared pairwise over Olm.

    ``origin`` is the device that created the outbound session and
    ``origin_signature`` its Ed25519 signature (device key) over
    ``{caseId, sessionId, origin}`` (:func:`crypto.megolm.session_attestation`):
    the session id is the session's own Ed25519 signing key, so the signature
    binds that key to the origin device. When ``exported`` is false the share
    must come (over Olm) from the origin itself; when true it is an exported
    inbound session (history, from ``first_index``) that only the origin or
    another device of the origin's user may forward.
    """

    case_id: Id
    session_id: Annotated[str, Meta(min_length=1, max_length=128)]
    session_key: Annotated[str, Meta(min_length=1, max_length=2048)]
    exported: bool
    first_index: Annotated[int, Meta(ge=0, le=2**32 - 1)]
    origin: PartyKeys
    origin_signature: Signature64


class HomeworkContent(PayloadBase, tag="homework"):
    """The encrypted content of a homework task (the schedule is server-visible)."""

    task_id: Id
    title: Annotated[str, Meta(min_length=1, max_length=200)]
    instructions: Annotated[str, Meta(max_length=20_000)] = ""
    media: Annotated[list[AttachmentPointer], Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )


class CompletionNote(PayloadBase, tag="completionNote"):
    """A child's or guardian's note (or emoji) on a ticked homework day."""

    task_id: Id
    day: Annotated[str, Meta(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    note: Annotated[str, Meta(max_length=2_000)] = ""
    emoji: Annotated[str, Meta(max_length=16)] = ""


class AppointmentDetails(PayloadBase, tag="appointment"):
    """Encrypted details of an appointment (address, notes, what to bring)."""

    appointment_id: Id
    address: Annotated[str, Meta(max_length=500)] = ""
    notes: Annotated[str, Meta(max_length=5_000)] = ""


class CancellationNote(PayloadBase, tag="cancellation"):
    """The free-text note of a cancellation (reason code and times are server-visible)."""

    appointment_id: Id
    note: Annotated[str, Meta(max_length=2_000)]


class TherapyDocument(PayloadBase, tag="document"):
    """A therapy statement or plan shared as an encrypted attachment."""

    title: Annotated[str, Meta(min_length=1, max_length=200)]
    attachment: AttachmentPointer


Payload = (
    TextMessage
    | ReadReceipt
    | AttachmentPointer
    | RoomKeyShare
    | HomeworkContent
    | CompletionNote
    | AppointmentDetails
    | CancellationNote
    | TherapyDocument
)
