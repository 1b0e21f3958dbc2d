"""Cases and therapy periods on the wire."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from app.core.principal import CaseRole, Locale
from app.core.wire import Camel, DisplayName, ReferenceText

Payer = Literal["kela", "municipality", "self", "other"]
Scope = Literal["schedule", "homework"]
SessionsGranted = Annotated[int, Meta(ge=0, le=500)]
# printable text with something in it (a blank reference is none)
DecisionRef = ReferenceText


class CaseCreate(Camel):
    child_display_name: DisplayName
    child_locale: Locale = "fi"


class CaseOut(Camel):
    id: UUID
    child_user_id: UUID | None
    child_name: str | None
    my_role: CaseRole
    my_scopes: list[str] | None
    created_at: datetime


class MemberOut(Camel):
    user_id: UUID
    display_name: str
    role: CaseRole
    scopes: list[str] | None
    added_at: datetime


class ScopesUpdate(Camel):
    scopes: Annotated[list[Scope], Meta(max_length=2)]


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
