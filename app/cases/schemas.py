"""Cases and therapy periods on the wire."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from app.core.principal import CaseRole, Locale
from app.core.wire import Camel, DisplayName, ReferenceText

Payer = Literal["kela", "municipality", "self", "other"]
Scope = Literal["schedule", "homework", "documents"]
SessionsGranted = Annotated[int, Meta(ge=0, le=500)]
# printable text with something in it (a blank reference is none)
DecisionRef = ReferenceText


class CaseCreate(Camel):
    child_display_name: DisplayName
    child_locale: Locale = "fi"


class OpenDocumentRequest(Camel):
    """A family's open request for a document (the request's own record:
    ``GET /cases/{id}/document-requests``)."""

    id: UUID
    kind: str
    needed_by: date


class StatementDue(Camel):
    """A therapy period ending soon (within the renewal reminder's 60 days) with no
    therapy statement shared for it."""

    period_id: UUID
    ends_on: date
    open_request_id: UUID | None
    """the family's open request for the statement, if they made one"""


class CaseOut(Camel):
    id: UUID
    child_user_id: UUID | None
    child_name: str | None
    my_role: CaseRole
    my_scopes: list[str] | None
    created_at: datetime
    closed_at: datetime | None = None
    """when an admin closed the case (its service ended); null while it is open"""
    open_document_requests: list[OpenDocumentRequest] | None = None
    """for the case's therapist (``GET /cases``, ``GET /cases/{id}``): the family's open
    document requests, due first; null for everyone else"""
    statement_due: StatementDue | None = None
    """for the case's therapist: the first period ending within 60 days without a therapy
    statement shared; null when there is none, and for everyone else"""


class MemberOut(Camel):
    user_id: UUID
    display_name: str
    role: CaseRole
    scopes: list[str] | None
    added_at: datetime


class ScopesUpdate(Camel):
    scopes: Annotated[list[Scope], Meta(max_length=3)]


class AddTherapist(Camel):
    user_id: UUID


class PeriodCreate(Camel):
    payer: Payer
    starts_on: date
    ends_on: date
    sessions_granted: SessionsGranted
    decision_ref: DecisionRef | None = None


class PeriodUpdate(Camel):
    payer: Payer | UnsetType = UNSET
    starts_on: date | UnsetType = UNSET
    ends_on: date | UnsetType = UNSET
    sessions_granted: SessionsGranted | UnsetType = UNSET
    decision_ref: DecisionRef | UnsetType | None = UNSET


class PeriodOut(Camel):
    id: UUID
    case_id: UUID
    payer: Payer
    starts_on: date
    ends_on: date
    sessions_granted: int
    sessions_used: int
    sessions_remaining: int
    decision_ref: str | None
    created_at: datetime


AccessVerb = Literal["read", "changed", "device_added", "device_removed"]


class AccessActor(Camel):
    user_id: UUID
    role: str
    display_name: str


class AccessEntry(Camel):
    """One line of the family's access log: who, what kind of data, how, when."""

    id: int
    at: datetime
    actor: AccessActor | None
    """None for the system (a background job) or a user since erased"""
    verb: AccessVerb
    kind: str
    """the kind of data: messages, attachments, homework, documents, appointments,
    periods, members, case, notifications, devices"""
    action: str
    """the audit action it comes from (docs/data-protection.md)"""
    device_id: UUID | None


class AccessLogPage(Camel):
    entries: list[AccessEntry]
    next_before: int | None


class HandOver(Camel):
    """An admin moves a case to another therapist of the organisation; ``fromUserId``
    (a therapist of the case, e.g. one who left) is removed from it at the same time."""

    to_user_id: UUID
    from_user_id: UUID | None = None
