"""How an appointment looks to one caller, and who hears of a change to it.

Shared by the scheduling rules (``service.py``) and the cancellation rules
(``cancellations.py``): which cases of an appointment the caller sees, its answer
shape, the checks on the details and note events (each an event the calling device sent
to the case's family room), and the fan-out of a change to each covered case's schedule
audience and the session's therapists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.appointments import store
from app.appointments.schemas import AppointmentOut, AttendanceOut, CaseEventIn
from app.cases.service import CaseService, Membership
from app.core.content_rooms import ContentRooms, require_event_from
from app.core.errors import InvalidInput, NotFound
from app.core.events import DomainEvent
from app.core.fanout import Announcement, Ids
from app.core.principal import Principal


def not_found() -> NotFound:
    return NotFound("No such appointment", code="appointment_not_found")


@dataclass(slots=True)
class View:
    """An appointment as one caller may see it."""

    row: Any
    attendances: list[Any]
    therapist_ids: list[UUID]
    mine: dict[UUID, Membership]  # the caller's cases of the appointment (visible ones)
    admin: bool = False
    visible: list[UUID] = field(default_factory=list)

    @property
    def case_ids(self) -> list[UUID]:
        return [a.case_id for a in self.attendances]

    def therapist_of_all(self) -> bool:
        return all(c in self.mine and self.mine[c].role == "therapist" for c in self.case_ids)


def appointment_out(
    rooms: ContentRooms,
    row: Any,
    attendances: list[Any],
    therapist_ids: list[UUID],
    visible: set[UUID] | None,
) -> AppointmentOut:
    return AppointmentOut(
        id=row.id,
        series_id=row.series_id,
        starts_at=row.starts_at,
        ends_at=row.starts_at + timedelta(minutes=row.duration_minutes),
        duration_minutes=row.duration_minutes,
        place_kind=row.place_kind,
        group_kind=row.group_kind,
        status=row.status,
        therapist_ids=therapist_ids,
        cases=[
            AttendanceOut(
                case_id=a.case_id,
                status=a.status,
                cancellation_id=a.cancellation_id,
                room_id=rooms.content_room(a.case_id, "family"),
                details_event_id=a.details_event_id,
            )
            for a in attendances
            if visible is None or a.case_id in visible
        ],
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def check_events(
    rooms: ContentRooms,
    conn: AsyncConnection,
    principal: Principal,
    items: Sequence[CaseEventIn],
    case_ids: Iterable[UUID],
    what: str,
) -> dict[UUID, str]:
    """case id -> event id: one event per case at most, each for a case of the
    appointment and an event the caller's device sent to that case's family room (so it
    cannot be someone else's, nor another family's)."""
    allowed = set(case_ids)
    found: dict[UUID, str] = {}
    for item in items:
        if item.case_id not in allowed or item.case_id in found:
            raise InvalidInput(
                f"Each {what} event must be for a different case of the appointment",
                code=f"{what}_case_mismatch",
            )
        found[item.case_id] = item.event_id
    for case_id, event_id in found.items():
        await require_event_from(rooms, conn, principal, case_id, "family", event_id, what)
    return found


class Visibility:
    """The reads every appointment rule starts from, and the fan-out of its changes."""

    def __init__(self, cases: CaseService, rooms: ContentRooms) -> None:
        self.cases = cases
        self.rooms = rooms

    async def memberships(
        self, conn: AsyncConnection, principal: Principal
    ) -> dict[UUID, Membership]:
        """The caller's cases whose schedule they may see (caregivers need ``schedule``)."""
        return {
            m.case_id: m
            for m in await self.cases.memberships(conn, principal)
            if m.role != "caregiver" or "schedule" in (m.scopes or [])
        }

    async def view(self, conn: AsyncConnection, principal: Principal, appointment_id: UUID) -> View:
        row = await store.get_appointment(conn, appointment_id)
        if row is None or row.org_id != principal.org_id:
            raise not_found()
        attendances = await store.attendances(conn, [row.id])
        therapist_ids = [t.user_id for t in await store.therapists(conn, [row.id])]
        case_ids = {a.case_id for a in attendances}
        mine = {c: m for c, m in (await self.memberships(conn, principal)).items() if c in case_ids}
        admin = principal.role == "admin"
        if not mine and not admin:
            raise not_found()
        visible = list(case_ids) if admin else list(mine)
        return View(row, attendances, therapist_ids, mine, admin, visible)

    async def outs(
        self, conn: AsyncConnection, ids: Sequence[UUID], visible: set[UUID] | None
    ) -> list[AppointmentOut]:
        rows = await store.get_appointments(conn, ids)
        attendances: dict[UUID, list[Any]] = {}
        for a in await store.attendances(conn, ids):
            attendances.setdefault(a.appointment_id, []).append(a)
        therapists: dict[UUID, list[UUID]] = {}
        for t in await store.therapists(conn, ids):
            therapists.setdefault(t.appointment_id, []).append(t.user_id)
        return [
            appointment_out(
                self.rooms, r, attendances.get(r.id, []), therapists.get(r.id, []), visible
            )
            for r in rows
        ]

    async def tell(
        self,
        announcement: Announcement,
        conn: AsyncConnection,
        case_ids: Iterable[UUID],
        therapist_ids: Iterable[UUID],
        principal: Principal,
        kind: str,
        ids: Callable[[UUID], Ids],
        *,
        urgent: bool = False,
    ) -> None:
        """In the transaction: per case, a live event to the devices of those who see its
        schedule and of the session's therapists, and the push, e-mail and SMS notices
        to those people but the actor."""
        therapists = list(therapist_ids)
        for case_id in case_ids:
            users = list(await self.cases.schedule_audience(conn, case_id)) + therapists
            await announcement.live(conn, users, kind, ids(case_id))
            await announcement.notice(
                conn,
                DomainEvent(
                    kind=kind,
                    ids=ids(case_id),
                    recipients=[u for u in dict.fromkeys(users) if u != principal.user_id],
                    case_id=case_id,
                    urgent=urgent,
                ),
            )
