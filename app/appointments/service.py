"""Rules for appointments (cancellations are in ``cancellations.py``).

* A therapist creates an appointment for cases they are a therapist of (a foreign case is
  404); more than one case is a group session: 2-4 children or 3-5 adults per leading
  therapist (``group_kind``), and every co-therapist must be a therapist of every case.
  A weekly series keeps the local (Europe/Helsinki) wall-clock time across DST.
* A therapist of every case reschedules one occurrence or it and the rest of its series
  (the rest moves by the same local wall-clock offset), while it is scheduled.
* A therapist marks completed or no-show, only after the start.
* After the commit every other device of the cases' members and of the appointment's
  therapists gets ``appointment_scheduled`` or ``appointment_rescheduled``.
* Each group member sees only their own cases of the appointment. Everything is 404 for
  someone who is not a member of one of its cases (an org admin sees the org's).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.appointments import store
from app.appointments.accounting import Booking, warnings
from app.appointments.facts import AppointmentFacts, CaseFacts
from app.appointments.schemas import (
    AppointmentCreate,
    AppointmentOut,
    AppointmentsOut,
    AppointmentUpdate,
    ContentRoomOut,
    OutcomeIn,
)
from app.appointments.series import shifted, weekly
from app.appointments.views import Visibility, appointment_out, check_events
from app.audit.service import Audit
from app.cases.service import CaseService
from app.core.content_rooms import ContentRooms
from app.core.errors import Conflict, Forbidden, InvalidInput
from app.core.events import APPOINTMENT_RESCHEDULED, APPOINTMENT_SCHEDULED
from app.core.fanout import FanOut
from app.core.principal import Principal
from app.core.time import Clock, local_naive
from app.storage.engine import Database

GROUP_LIMITS = {"children": (2, 4), "adults": (3, 5)}
"""Clients per leading therapist in a group session (DESIGN.md section 1)."""
EARLIEST, LATEST = datetime(2000, 1, 1).year, datetime(2100, 1, 1).year
MAX_LIST_DAYS = 400
DEFAULT_PAST_DAYS, DEFAULT_FUTURE_DAYS = 31, 366


def _check_group(case_count: int, therapist_count: int, group_kind: str | None) -> None:
    if group_kind is None:
        if case_count > 1:
            raise InvalidInput(
                "A session for several cases is a group: say groupKind (children or adults)",
                code="group_kind_required",
            )
        return
    low, high = GROUP_LIMITS[group_kind]
    if case_count < low * therapist_count:
        raise InvalidInput(
            f"A group of {group_kind} has at least {low} clients per therapist",
            code="group_too_small",
        )
    if case_count > high * therapist_count:
        raise InvalidInput(
            f"A group of {group_kind} has at most {high} clients per therapist",
            code="group_too_large",
        )


def _check_start(at: datetime) -> None:
    if not EARLIEST <= at.year < LATEST:
        raise InvalidInput("A session starts between 2000 and 2099", code="starts_at_out_of_range")


class AppointmentService:
    def __init__(
        self,
        db: Database,
        audit: Audit,
        cases: CaseService,
        fanout: FanOut,
        clock: Clock,
        rooms: ContentRooms,
    ) -> None:
        self.db = db
        self.audit = audit
        self.cases = cases
        self.rooms = rooms
        self.seen = Visibility(cases, rooms)
        self.fanout = fanout
        self.clock = clock

    # reading

    async def content_room(self, principal: Principal, case_id: UUID) -> ContentRoomOut:
        """The case's family room, where its appointment details and cancellation notes
        are: for the guardians and therapists of the case (its members)."""
        async with self.db.read() as conn:
            (await self.cases.access(conn, principal, case_id)).require("therapist", "guardian")
        return ContentRoomOut(case_id=case_id, room_id=self.rooms.content_room(case_id, "family"))

    async def get(self, principal: Principal, appointment_id: UUID) -> AppointmentOut:
        async with self.db.read() as conn:
            view = await self.seen.view(conn, principal, appointment_id)
        for case_id in view.mine:
            await self.cases.note_read(principal, case_id, "appointments")
        return appointment_out(
            self.rooms, view.row, view.attendances, view.therapist_ids, set(view.visible)
        )

    async def room_facts(self, appointment_id: UUID) -> AppointmentFacts | None:
        """The appointment's times, status, therapists and cases with their members, for
        rules kept elsewhere (signalling's rooms); None if there is no such appointment."""
        async with self.db.read() as conn:
            row = await store.get_appointment(conn, appointment_id)
            if row is None:
                return None
            attendances = await store.attendances(conn, [row.id])
            therapist_ids = tuple(t.user_id for t in await store.therapists(conn, [row.id]))
            cases = []
            for a in attendances:
                members = await self.cases.members_by_role(conn, a.case_id)
                cases.append(CaseFacts(case_id=a.case_id, status=a.status, members=members))
        return AppointmentFacts(
            id=row.id,
            org_id=row.org_id,
            starts_at=row.starts_at,
            ends_at=row.starts_at + timedelta(minutes=row.duration_minutes),
            place_kind=row.place_kind,
            group_kind=row.group_kind,
            status=row.status,
            therapist_ids=therapist_ids,
            cases=tuple(cases),
        )

    def _window(self, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
        for value, name in ((start, "from"), (end, "to")):
            if value is not None and value.tzinfo is None:
                raise InvalidInput(f"{name}: give a time with its offset", code="validation_error")
        now = self.clock()
        start = start or now - timedelta(days=DEFAULT_PAST_DAYS)
        end = end or start + timedelta(days=DEFAULT_PAST_DAYS + DEFAULT_FUTURE_DAYS)
        if end <= start:
            raise InvalidInput("to must be after from", code="range_invalid")
        if end - start > timedelta(days=MAX_LIST_DAYS):
            raise InvalidInput(
                f"A schedule spans at most {MAX_LIST_DAYS} days", code="range_too_long"
            )
        return start, end

    async def list_for_case(
        self, principal: Principal, case_id: UUID, start: datetime | None, end: datetime | None
    ) -> list[AppointmentOut]:
        async with self.db.read() as conn:
            m = await self.cases.access(conn, principal, case_id)
            m.require_scope("schedule")
            start, end = self._window(start, end)
            ids = await store.ids_of_cases(conn, [case_id], start, end)
            return await self.seen.outs(conn, ids, {case_id})

    async def my_schedule(
        self, principal: Principal, start: datetime | None, end: datetime | None
    ) -> list[AppointmentOut]:
        """A therapist's sessions in all their cases; a family member's in theirs."""
        if principal.role == "admin":
            raise Forbidden("An admin has no schedule of their own")
        async with self.db.read() as conn:
            start, end = self._window(start, end)
            mine = await self.seen.memberships(conn, principal)
            ids = await store.ids_of_cases(conn, list(mine), start, end)
            outs = await self.seen.outs(conn, ids, set(mine))
        for case_id in sorted({c.case_id for out in outs for c in out.cases}):
            await self.cases.note_read(principal, case_id, "appointments")
        return outs

    # scheduling

    async def create(
        self, principal: Principal, body: AppointmentCreate, address: str
    ) -> AppointmentsOut:
        if principal.role != "therapist":
            raise Forbidden("Only therapists schedule sessions")
        case_ids = list(body.case_ids)
        if len(set(case_ids)) != len(case_ids):
            raise InvalidInput("A case is listed twice", code="duplicate_case")
        therapist_ids = [principal.user_id] + [
            t for t in dict.fromkeys(body.co_therapist_ids) if t != principal.user_id
        ]
        _check_group(len(case_ids), len(therapist_ids), body.group_kind)
        starts = weekly(body.starts_at, body.weekly_occurrences)
        _check_start(starts[0])
        _check_start(starts[-1])
        now = self.clock()
        series_id = uuid.uuid4() if len(starts) > 1 else None
        ids = [uuid.uuid4() for _ in starts]
        announcement = self.fanout.begin(principal.device_id)
        async with self.db.transaction() as conn:
            for case_id in case_ids:
                (await self.cases.access(conn, principal, case_id)).require("therapist")
            for t in therapist_ids[1:]:
                for case_id in case_ids:
                    if not await self.cases.holds_role(conn, case_id, t, "therapist"):
                        raise InvalidInput(
                            "Every therapist of a session must be a therapist of each case",
                            code="therapist_not_in_case",
                        )
            details = await check_events(
                self.rooms, conn, principal, body.details, case_ids, "details"
            )
            for appointment_id, starts_at in zip(ids, starts, strict=True):
                await store.insert_appointment(
                    conn,
                    {
                        "id": appointment_id,
                        "org_id": principal.org_id,
                        "series_id": series_id,
                        "starts_at": starts_at,
                        "duration_minutes": body.duration_minutes,
                        "place_kind": body.place_kind,
                        "group_kind": body.group_kind,
                        "status": "scheduled",
                        "created_by": principal.user_id,
                        "created_at": now,
                        "updated_at": now,
                    },
                    [
                        {
                            "case_id": c,
                            "status": "scheduled",
                            "details_event_id": details.get(c),
                        }
                        for c in case_ids
                    ],
                    therapist_ids,
                )
            await self.audit.record(
                conn,
                "appointment.created",
                org_id=principal.org_id,
                actor=principal,
                target_type="appointment",
                target_id=ids[0],
                details={
                    "caseIds": [str(c) for c in case_ids],
                    "occurrences": len(ids),
                    "seriesId": str(series_id) if series_id else None,
                },
                address=address,
            )
            found = await warnings(
                conn,
                self.cases,
                principal.org_id,
                [Booking(i, s, case_ids) for i, s in zip(ids, starts, strict=True)],
            )
            outs = await self.seen.outs(conn, ids, None)
            ids_extra = {"seriesId": series_id} if series_id else {}
            await self.seen.tell(
                announcement,
                conn,
                case_ids,
                therapist_ids,
                principal,
                APPOINTMENT_SCHEDULED,
                lambda c: {"appointmentId": ids[0], "caseId": c, **ids_extra},
            )
        await announcement.send()
        return AppointmentsOut(appointments=outs, warnings=found)

    async def reschedule(
        self, principal: Principal, appointment_id: UUID, body: AppointmentUpdate, address: str
    ) -> AppointmentsOut:
        now = self.clock()
        announcement = self.fanout.begin(principal.device_id)
        async with self.db.transaction() as conn:
            view = await self.seen.view(conn, principal, appointment_id)
            if not view.therapist_of_all():
                raise Forbidden("Only a therapist of each of its cases reschedules a session")
            row = view.row
            if row.status != "scheduled":
                raise Conflict(
                    "Only a scheduled session can be moved", code="appointment_not_scheduled"
                )
            targets = [row]
            if body.scope == "following" and row.series_id is not None:
                targets = await store.series_from(conn, row.series_id, row.starts_at)
            wall_delta = timedelta(0)
            if isinstance(body.starts_at, datetime):
                wall_delta = local_naive(body.starts_at) - local_naive(row.starts_at)
            moved: list[tuple[UUID, datetime]] = []
            for target in targets:
                values: dict[str, Any] = {"updated_at": now}
                new_start = target.starts_at
                if target.id == row.id and isinstance(body.starts_at, datetime):
                    new_start = body.starts_at
                elif wall_delta:
                    new_start = shifted(target.starts_at, wall_delta)
                _check_start(new_start)
                values["starts_at"] = new_start
                if isinstance(body.duration_minutes, int):
                    values["duration_minutes"] = body.duration_minutes
                if isinstance(body.place_kind, str):
                    values["place_kind"] = body.place_kind
                await store.update_appointment(conn, target.id, **values)
                moved.append((target.id, new_start))
            ids = [m[0] for m in moved]
            await self.audit.record(
                conn,
                "appointment.rescheduled",
                org_id=principal.org_id,
                actor=principal,
                target_type="appointment",
                target_id=row.id,
                details={"scope": body.scope, "occurrences": len(ids)},
                address=address,
                case_ids={a.case_id for a in await store.attendances(conn, ids)},
            )
            scheduled: dict[UUID, list[UUID]] = {}
            for a in await store.attendances(conn, ids):
                if a.status == "scheduled":
                    scheduled.setdefault(a.appointment_id, []).append(a.case_id)
            found = await warnings(
                conn,
                self.cases,
                principal.org_id,
                [Booking(i, s, scheduled.get(i, [])) for i, s in moved],
            )
            outs = await self.seen.outs(conn, ids, None)
            extra = {"seriesId": row.series_id} if row.series_id else {}
            await self.seen.tell(
                announcement,
                conn,
                view.case_ids,
                view.therapist_ids,
                principal,
                APPOINTMENT_RESCHEDULED,
                lambda c: {"appointmentId": row.id, "caseId": c, **extra},
            )
        await announcement.send()
        return AppointmentsOut(appointments=outs, warnings=found)

    async def set_outcome(
        self, principal: Principal, appointment_id: UUID, body: OutcomeIn, address: str
    ) -> AppointmentOut:
        now = self.clock()
        async with self.db.transaction() as conn:
            view = await self.seen.view(conn, principal, appointment_id)
            row = view.row
            case_ids = (
                list(body.case_ids)
                if body.case_ids is not None
                else [a.case_id for a in view.attendances if a.status != "cancelled"]
            )
            by_case = {a.case_id: a for a in view.attendances}
            if any(c not in by_case for c in case_ids) or len(set(case_ids)) != len(case_ids):
                raise InvalidInput("Not a case of this session", code="case_not_in_appointment")
            if not all(c in view.mine and view.mine[c].role == "therapist" for c in case_ids):
                raise Forbidden("Only a therapist of the case marks how a session went")
            if row.status == "cancelled" or any(by_case[c].status == "cancelled" for c in case_ids):
                raise Conflict("The session was cancelled", code="appointment_cancelled")
            if now < row.starts_at:
                raise Conflict(
                    "A session is marked completed or no-show only after it starts",
                    code="appointment_not_started",
                )
            await store.set_attendance(
                conn,
                row.id,
                case_ids,
                from_statuses=("scheduled", "completed", "no_show"),
                status=body.status,
                status_changed_at=now,
                status_changed_by=principal.user_id,
            )
            statuses = [a.status for a in await store.attendances(conn, [row.id])]
            if "completed" in statuses:
                overall = "completed"
            elif "scheduled" in statuses:
                overall = "scheduled"
            else:
                overall = "no_show" if "no_show" in statuses else "cancelled"
            await store.update_appointment(conn, row.id, status=overall, updated_at=now)
            await self.audit.record(
                conn,
                f"appointment.{body.status}",
                org_id=principal.org_id,
                actor=principal,
                target_type="appointment",
                target_id=row.id,
                details={"caseIds": [str(c) for c in case_ids]},
                address=address,
            )
            view = await self.seen.view(conn, principal, appointment_id)
        return appointment_out(
            self.rooms, view.row, view.attendances, view.therapist_ids, set(view.visible)
        )

    async def last_session_before(
        self, conn: AsyncConnection, case_id: UUID, at: datetime
    ) -> datetime | None:
        """When the case's latest session before ``at`` started (homework's summary runs
        from the day after it)."""
        return await store.last_start_before(conn, case_id, at)
