"""The attachment pointer: where an encrypted blob is and the key that opens it.

A JSON object with a ``type`` tag and camelCase fields, with bounds on every string so
a malicious peer cannot make a device allocate without limit. The server never sees
it: it travels inside Megolm room events (``kaari.attachment`` of an ``m.file``, a
homework task's media, a document; docs/protocol.md).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

#: An opaque identifier (user, device, case, message, blob, …).
Id = Annotated[str, Meta(min_length=1, max_length=255)]
#: A 32-byte key in unpadded standard base64 (43 characters).
Key32 = Annotated[str, Meta(pattern=r"^[A-Za-z0-9+/]{43}$")]
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


class AttachmentPointer(PayloadBase, tag="attachment"):
    """Where an encrypted blob is and how to open it (see :mod:`crypto.attachments`)."""

    blob_id: Id
    key: Key32
    sha256: Key32  # SHA-256 of the whole ciphertext blob
    size: Annotated[int, Meta(ge=0, le=MAX_ATTACHMENT_SIZE)]  # plaintext bytes
    media_type: MediaType
    file_name: Annotated[str, Meta(max_length=255)] | None = None
    format: Annotated[int, Meta(ge=1, le=255)] = 1
