"""Therapy documents on one device: the file an encrypted blob, its title and key a room
event (docs/documents.md).

Sharing a document: the file is encrypted on this device (:mod:`crypto.attachments`: a
fresh key per file) and uploaded to the case's documents room (therapists, guardians and
the caregivers a guardian granted ``documents``: the room ``GET /cases/{id}/documents/room``
names); an ``org.kaari.document`` event, Megolm-encrypted for exactly the room's current
devices, carries the version id, the kind, the title and the file's pointer (blob id,
key, SHA-256, size, media type, file name); then ``POST /cases/{id}/documents`` records
the version with the event's and the blob's ids. The server sees the kind, size, times and ids only.

Opening a document: the event is read by id (decrypted, a missing key makes it sync once),
checked to name this version and kind (a server that moves event ids between versions
cannot show one document's title under another), the blob downloaded and decrypted (its
hash and every chunk's tag checked), and the server told it was opened (the receipt).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from client.api import Api
from client.matrix import MatrixClient
from client.matrix.http import MatrixError
from crypto.attachments import decrypt_stream, encrypt_stream
from crypto.payloads import AttachmentPointer

DOCUMENT_EVENT = "org.kaari.document"
NOTE_EVENT = "org.kaari.document.request_note"
Kind = Literal["rehabilitation_plan", "therapy_plan", "therapy_statement", "other"]
KINDS: tuple[str, ...] = ("rehabilitation_plan", "therapy_plan", "therapy_statement", "other")


class DocumentError(Exception):
    """A document this device cannot read or share (unreadable content, a bad title)."""


class DocumentContent(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    document_id: Annotated[str, Meta(min_length=1, max_length=64)]
    """the version id the server records it under"""
    kind: Kind
    title: Annotated[str, Meta(min_length=1, max_length=200)]
    file: AttachmentPointer


class Document(msgspec.Struct, frozen=True, kw_only=True):
    """A version as this device shows it: the server's fields and the decrypted title."""

    id: str
    document_id: str
    version: int
    case_id: str
    kind: str
    size: int
    shared_by: str | None
    shared_at: str
    superseded: bool
    given_to_doctor: bool
    opened_by: tuple[str, ...]
    """display names of those who opened this version"""
    readable: bool
    title: str = ""
    file_name: str = ""
    media_type: str = ""
    problem: str = ""


def content_of(message: dict[str, Any] | None, version_id: str, kind: str) -> DocumentContent:
    """The document content of a decrypted message for this version, or DocumentError."""
    if message is None:
        raise DocumentError("no key for this document's event (yet)")
    if message.get("type") != DOCUMENT_EVENT:
        raise DocumentError("the event is not a document")
    try:
        content = msgspec.convert(message.get("content"), DocumentContent)
    except msgspec.ValidationError:
        raise DocumentError("the document's content is malformed") from None
    if content.document_id != version_id or content.kind != kind:
        raise DocumentError("the event names another document")  # moved by the server
    return content


class Documents:
    """Documents for the person signed in on ``matrix``'s device (``api``: the same device)."""

    def __init__(self, matrix: MatrixClient, api: Api) -> None:
        self.matrix = matrix
        self.api = api

    def room(self, case_id: str) -> str:
        return str(self.api.get(f"/cases/{case_id}/documents/room")["roomId"])

    # -- reading ---------------------------------------------------------------
    def _message(self, room_id: str, event_id: str) -> dict[str, Any] | None:
        for attempt in range(2):
            try:
                message = self.matrix.room_event(room_id, event_id)
            except MatrixError as exc:
                if exc.status == 404:
                    return None
                raise
            if message is not None or attempt:
                return message
            self.matrix.sync()  # the key may be on its way
        return None

    def _content(self, row: dict[str, Any]) -> DocumentContent:
        message = self._message(row["roomId"], row["contentEventId"])
        content = content_of(message, row["id"], row["kind"])
        if content.file.blob_id != row["blobId"]:
            raise DocumentError("the event names another file")
        return content

    def _shown(self, row: dict[str, Any]) -> Document:
        base: dict[str, Any] = {
            "id": row["id"], "document_id": row["documentId"], "version": row["version"],
            "case_id": row["caseId"], "kind": row["kind"], "size": row["size"],
            "shared_by": row["sharedBy"], "shared_at": row["sharedAt"],
            "superseded": row["supersededAt"] is not None,
            "given_to_doctor": row["givenToDoctor"],
            "opened_by": tuple(o["displayName"] for o in row["openedBy"]),
        }  # fmt: skip
        try:
            content = self._content(row)
        except DocumentError as exc:
            return Document(**base, readable=False, problem=str(exc))
        return Document(
            **base,
            readable=True,
            title=content.title,
            file_name=content.file.file_name or "",
            media_type=content.file.media_type,
        )

    def documents(self, case_id: str, *, all_versions: bool = False) -> list[Document]:
        rows = self.api.get(
            f"/cases/{case_id}/documents", versions="all" if all_versions else "current"
        )
        return [self._shown(r) for r in rows]

    def get(self, version_id: str) -> Document:
        return self._shown(self.api.get(f"/documents/{version_id}"))

    def open(self, version_id: str) -> tuple[Document, Iterator[bytes]]:
        """The version and its decrypted file's chunks; the receipt is sent once the whole
        file has been read and checked."""
        row = self.api.get(f"/documents/{version_id}")
        content = self._content(row)
        chunks = decrypt_stream(self.api.download_attachment(content.file.blob_id), content.file)

        def read() -> Iterator[bytes]:
            yield from chunks
            self.api.post(f"/documents/{version_id}/opened")

        return self._shown(row), read()

    # -- sharing ---------------------------------------------------------------
    def share(
        self,
        case_id: str,
        kind: Kind,
        title: str,
        chunks: Iterable[bytes],
        *,
        file_name: str,
        media_type: str,
        period_id: str | None = None,
        supersedes: str | None = None,
        fulfils_request_id: str | None = None,
    ) -> dict[str, Any]:
        """Encrypt and upload the file, send its event, record the version; the server's
        record of it."""
        room_id = self.room(case_id)
        version_id = str(uuid.uuid4())
        stream = encrypt_stream(chunks)
        thread = room_id[1:].split(":", 1)[0]
        blob = self.api.upload_attachment(thread, iter(stream))
        pointer = stream.pointer(str(blob["id"]), media_type, file_name)
        content = DocumentContent(document_id=version_id, kind=kind, title=title, file=pointer)
        wire: dict[str, Any] = msgspec.to_builtins(content)
        try:
            msgspec.convert(wire, DocumentContent)
        except msgspec.ValidationError as exc:
            raise DocumentError(f"invalid document: {exc}") from None
        event_id = self.matrix.send_message(room_id, wire, DOCUMENT_EVENT)
        body: dict[str, Any] = {
            "id": version_id, "kind": kind, "contentEventId": event_id, "blobId": blob["id"],
        }  # fmt: skip
        if period_id:
            body["periodId"] = period_id
        if supersedes:
            body["supersedes"] = supersedes
        if fulfils_request_id:
            body["fulfilsRequestId"] = fulfils_request_id
        result: dict[str, Any] = self.api.post(f"/cases/{case_id}/documents", body)
        return result

    # -- requests --------------------------------------------------------------
    def request(
        self,
        case_id: str,
        kind: Kind,
        needed_by: date,
        *,
        period_id: str | None = None,
        note: str = "",
    ) -> dict[str, Any]:
        """Ask the therapist for a document by a day (the note goes encrypted)."""
        request_id = str(uuid.uuid4())
        body: dict[str, Any] = {
            "id": request_id, "kind": kind, "neededBy": needed_by.isoformat(),
        }  # fmt: skip
        if period_id:
            body["periodId"] = period_id
        if note:
            body["noteEventId"] = self.matrix.send_message(
                self.room(case_id), {"request_id": request_id, "note": note}, NOTE_EVENT
            )
        result: dict[str, Any] = self.api.post(f"/cases/{case_id}/document-requests", body)
        return result

    def requests(self, case_id: str, status: str | None = None) -> list[dict[str, Any]]:
        params = {"status": status} if status else {}
        result: list[dict[str, Any]] = self.api.get(f"/cases/{case_id}/document-requests", **params)
        return result

    def caseload(self) -> dict[str, Any]:
        result: dict[str, Any] = self.api.get("/documents/caseload")
        return result
