"""Appointments and cancellations on the wire.

The server sees times, places (a kind, never an address), statuses, codes and ids.
Details (address, what to bring) and cancellation notes are Megolm events of each case's
family room (``roomId``: its guardians and therapists), sent by the device before the
request and referenced here by their event id: checked to be events the calling device
sent to that room, never opened (docs/protocol.md, "Case content").
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from app.core.content_rooms import EventId
from app.core.wire import Camel

PlaceKind = Literal["home", "school", "daycare", "office", "video", "other"]
GroupKind = Literal["children", "adults"]
Status = Literal["scheduled", "cancelled", "completed", "no_show"]
Reason = Literal["illness", "family", "therapist_unavailable", "other"]
Scope = Literal["one", "following"]

#: a session lasts 45-60 minutes
Duration = Annotated[int, Meta(ge=45, le=60)]
#: a start must say its offset: a naive time is ambiguous across the DST change
AwareDateTime = Annotated[datetime, Meta(tz=True)]
#: the most cases of one appointment: 5 adults per therapist, at most 3 therapists
MAX_CASES = 15
MAX_CO_THERAPISTS = 2


class CaseEventIn(Camel):
    """An event of the case's family room, sent by the calling device."""

    case_id: UUID
    event_id: EventId


class CaseEventOut(Camel):
    case_id: UUID
    #: the case's family room, where the event is
    room_id: str
    event_id: str


class ContentRoomOut(Camel):
    case_id: UUID
    #: the case's family room: send details and notes there
    room_id: str


#: one event per case at most, each in that case's family room
CaseEvents = Annotated[list[CaseEventIn], Meta(max_length=MAX_CASES)]


class AppointmentCreate(Camel):
    case_ids: Annotated[list[UUID], Meta(min_length=1, max_length=MAX_CASES)]
    starts_at: AwareDateTime
    place_kind: PlaceKind
    duration_minutes: Duration = 60
    #: required for more than one case: the group size limits depend on it
    group_kind: GroupKind | None = None
    #: colleagues who lead the session with the caller (each a therapist of every case)
    co_therapist_ids: Annotated[list[UUID], Meta(max_length=MAX_CO_THERAPISTS)] = []
    #: one ``org.kaari.appointment.details`` event per case at most, in its family room
    details: CaseEvents = []
    #: more than 1: a weekly series at the same local time
    weekly_occurrences: Annotated[int, Meta(ge=1, le=52)] = 1


class AppointmentUpdate(Camel):
    """A reschedule: of this occurrence, or of it and the rest of its series."""

    starts_at: AwareDateTime | UnsetType = UNSET
    duration_minutes: Duration | UnsetType = UNSET
    place_kind: PlaceKind | UnsetType = UNSET
    scope: Scope = "one"


class OutcomeIn(Camel):
    status: Literal["completed", "no_show"]
    #: the cases to mark (a group session); default: every case not cancelled
    case_ids: Annotated[list[UUID], Meta(min_length=1, max_length=MAX_CASES)] | None = None


class CancelIn(Camel):
    reason: Reason
    #: optional: one ``org.kaari.cancellation.note`` event per case at most, in its
    #: family room
    note: CaseEvents = []


class AttendanceOut(Camel):
    case_id: UUID
    status: Status
    cancellation_id: UUID | None
    #: the case's family room, which holds the details event
    room_id: str
    details_event_id: str | None


class AppointmentOut(Camel):
    id: UUID
    series_id: UUID | None
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    place_kind: PlaceKind
    group_kind: GroupKind | None
    status: Status
    therapist_ids: list[UUID]
    #: the caller's cases of the appointment (other families of a group stay hidden)
    cases: list[AttendanceOut]
    created_by: UUID
    created_at: datetime
    updated_at: datetime


class ScheduleWarning(Camel):
    """Not an error: the appointment is saved, but the period will not cover it."""

    code: Literal["period_quota_exceeded", "outside_period"]
    appointment_id: UUID
    case_id: UUID
    period_id: UUID | None


class AppointmentsOut(Camel):
    appointments: list[AppointmentOut]
    warnings: list[ScheduleWarning]


class SeenOut(Camel):
    user_id: UUID
    display_name: str
    role: str
    device_id: UUID
    seen_at: datetime


class CancellationOut(Camel):
    id: UUID
    appointment_id: UUID
    #: the cases it cancels that the caller belongs to
    case_ids: list[UUID]
    #: the whole appointment (else one family's attendance of a group session)
    whole: bool
    cancelled_by: UUID
    cancelled_by_role: str
    reason: Reason
    late: bool
    #: the caller's cases whose therapy period counts it as a used session: a late
    #: cancellation on a day a period covers, when the org's policy counts those for the
    #: period's payer (the cost shown next to the late flag)
    counted_case_ids: list[UUID]
    #: the note events of the cases the caller sees
    note: list[CaseEventOut]
    created_at: datetime
    seen_by: list[SeenOut]
