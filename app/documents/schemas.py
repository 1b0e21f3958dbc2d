"""Therapy documents on the wire (docs/documents.md).

The server sees a document's kind, version, size, times and ids. Its title, file name,
media type and the key of its file are in a Megolm event of the case's documents room
(``roomId``, ``contentEventId``); the file is an encrypted blob (``blobId``) of that room.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from app.core.wire import Camel

DocumentKind = Literal["rehabilitation_plan", "therapy_plan", "therapy_statement", "other"]
RequestStatus = Literal["open", "fulfilled", "withdrawn"]
#: the id of an event in the case's documents room (as Kaari's rooms make them)
EventId = Annotated[str, Meta(min_length=2, max_length=255, pattern=r"^\$[A-Za-z0-9_-]+$")]


class DocumentShare(Camel):
    """A document (or a new version of one) the caller's device has put in the documents room:
    first the encrypted file (``POST /threads/{documents room}/attachments``), then the
    ``org.kaari.document`` event with its title, file name, media type and key."""

    kind: DocumentKind
    content_event_id: EventId
    blob_id: UUID
    #: chosen by the device, so a retried share returns the first
    id: UUID = msgspec.field(default_factory=uuid.uuid4)
    period_id: UUID | None = None
    #: the ``documentId`` this version supersedes (the earlier version stays readable)
    supersedes: UUID | None = None
    #: the request it answers; without it, a therapist's share closes the case's open
    #: requests of its kind (and period)
    fulfils_request_id: UUID | None = None


class Receipt(Camel):
    user_id: UUID
    display_name: str
    opened_at: datetime


class DocumentOut(Camel):
    id: UUID
    """this version"""
    document_id: UUID
    """the document across its versions"""
    version: int
    case_id: UUID
    period_id: UUID | None
    kind: DocumentKind
    room_id: str
    """the documents room, where ``contentEventId`` is"""
    content_event_id: str
    blob_id: UUID
    size: int
    shared_by: UUID | None
    """None once the sharer's account is erased"""
    shared_at: datetime
    superseded_at: datetime | None
    given_to_doctor: bool
    given_to_doctor_at: datetime | None
    opened_by: list[Receipt]
    opened_by_me: bool


class DocumentRoomOut(Camel):
    case_id: UUID
    room_id: str
    """the documents room, where a document's event and file go"""


class GivenToDoctor(Camel):
    given: bool


class RequestCreate(Camel):
    kind: DocumentKind
    needed_by: date
    #: chosen by the device, so a retried request returns the first
    id: UUID = msgspec.field(default_factory=uuid.uuid4)
    period_id: UUID | None = None
    #: an event this device sent to the documents room with the guardian's note
    note_event_id: EventId | None = None


class RequestOut(Camel):
    id: UUID
    case_id: UUID
    period_id: UUID | None
    kind: DocumentKind
    needed_by: date
    room_id: str
    note_event_id: str | None
    requested_by: UUID | None
    requested_at: datetime
    status: RequestStatus
    fulfilled_by: UUID | None
    """the document version that answered it"""
    closed_at: datetime | None


class PeriodWithoutStatement(Camel):
    case_id: UUID
    child_name: str | None
    period_id: UUID
    ends_on: date
    open_request_id: UUID | None
    """the family's open request for the statement, if they made one"""


class CaseloadDocumentsOut(Camel):
    """A therapist's view across their caseload: what families are waiting for."""

    today: date
    open_requests: list[RequestOut]
    """due first"""
    periods_without_statement: list[PeriodWithoutStatement]
    """periods ending within 60 days with no therapy statement shared for them"""
