"""Facts about one appointment that other parts (signalling's rooms) decide on.

Plain data, no rules: who the appointment's therapists are, which cases it covers with
each case's attendance status and members. Read by ``AppointmentService.room_facts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class CaseFacts:
    case_id: UUID
    #: this case's attendance: scheduled | cancelled | completed | no_show
    status: str
    #: user id -> case role (therapist, guardian, caregiver, child)
    members: dict[UUID, str]


@dataclass(frozen=True, slots=True)
class AppointmentFacts:
    id: UUID
    org_id: UUID
    starts_at: datetime
    ends_at: datetime
    place_kind: str
    group_kind: str | None
    #: scheduled | cancelled | completed | no_show
    status: str
    therapist_ids: tuple[UUID, ...]
    cases: tuple[CaseFacts, ...]
