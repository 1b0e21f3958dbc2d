"""Files in rooms: an encrypted blob on Kaari's attachment store, its key in a Megolm event.

The file is encrypted on the device (:mod:`crypto.attachments`: a fresh key per file,
streamed), uploaded to ``POST /threads/{thread}/attachments`` (readable by the room's
members only), and announced by an ``m.room.message`` with ``msgtype: m.file``, whose
``kaari.attachment`` holds the pointer (blob id, key, SHA-256 of the ciphertext, size,
media type, file name). The event is Megolm-encrypted like any message, so the server
holds the blob and never its key. The web app reads the same pointer (docs/matrix-api.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import msgspec

from client.api import Api
from client.matrix.client import MatrixClient
from crypto.attachments import decrypt_stream, encrypt_stream
from crypto.payloads import AttachmentPointer

POINTER_FIELD = "kaari.attachment"


class NotAFile(ValueError):
    """The message holds no attachment pointer (or a malformed one)."""


def thread_of(room_id: str) -> str:
    """The Kaari thread id of a room id ``!<thread uuid>:<server name>``."""
    return room_id[1:].split(":", 1)[0]


def send_file(
    client: MatrixClient,
    api: Api,
    room_id: str,
    chunks: Iterable[bytes],
    media_type: str,
    file_name: str,
) -> tuple[str, AttachmentPointer]:
    """Encrypt and upload the file, then send its pointer to the room; the event id."""
    stream = encrypt_stream(chunks)
    blob = api.upload_attachment(thread_of(room_id), iter(stream))
    pointer = stream.pointer(str(blob["id"]), media_type, file_name)
    content = {
        "msgtype": "m.file",
        "body": file_name,
        "info": {"mimetype": media_type, "size": pointer.size},
        POINTER_FIELD: msgspec.to_builtins(pointer),
    }
    return client.send_message(room_id, content), pointer


def pointer_of(content: Mapping[str, Any]) -> AttachmentPointer:
    """The pointer of an ``m.file`` message (:class:`NotAFile` if it has none)."""
    raw = content.get(POINTER_FIELD)
    if content.get("msgtype") != "m.file" or not isinstance(raw, Mapping):
        raise NotAFile("the message is not a file")
    try:
        return msgspec.convert(raw, AttachmentPointer)
    except msgspec.ValidationError as exc:
        raise NotAFile(f"the file's pointer is malformed: {exc}") from None


def fetch_file(api: Api, pointer: AttachmentPointer) -> Iterator[bytes]:
    """Download and decrypt (the ciphertext's hash and every chunk's tag are checked)."""
    return decrypt_stream(api.download_attachment(pointer.blob_id), pointer)
