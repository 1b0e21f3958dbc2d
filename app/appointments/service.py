"""Rules for appointments and cancellations.

* A therapist creates an appointment for cases they are a therapist of (a foreign case is
  404); more than one case is a group session: 2-4 children or 3-5 adults per leading
  therapist (``group_kind``), and every co-therapist must be a therapist of every case.
  A weekly series keeps the local (Europe/Helsinki) wall-clock time across DST.
* A therapist of every case reschedules one occurrence or it and the rest of its series
  (the rest moves by the same local wall-clock offset), while it is scheduled.
* A therapist marks completed or no-show, only after the start.
* A guardian (their case's attendance of a group session; the whole of a single-case
  appointment), a therapist or an admin (the whole appointment) cancels, only before the
  start; late when now > start - the org's late window. A second cancel returns the first.
  After the commit every other device of the covered cases' members and of the
  appointment's therapists gets ``appointment_cancelled``; a device that has seen the
  notice acknowledges it, and the canceller's devices get ``cancellation_seen``.
* Each group member sees only their own cases of the appointment. Everything is 404 for
  someone who is not a member of one of its cases (an org admin sees the org's).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.orgs import cancellation_policy
from app.accounts.principal import Principal
from app.accounts.service import signed_in_devices
from app.appointments import store
from app.appointments.accounting import Booking, warnings
from app.appointments.facts import AppointmentFacts, CaseFacts
from app.appointments.schemas import (
    AppointmentCreate,
    AppointmentOut,
    AppointmentsOut,
    AppointmentUpdate,
    AttendanceOut,
    CancelIn,
    CancellationOut,
    OutcomeIn,
    SeenOut,
)
from app.appointments.series import Clock, local_naive, shifted, weekly
from app.audit.service import Audit
from app.case_content import MegolmCiphertextIn
from app.cases.service import CaseService, Membership
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.notifications.events import DomainEvent, EventSink
from app.realtime.notifier import Notifier
from app.storage.engine import Database

GROUP_LIMITS = {"children": (2, 4), "adults": (3, 5)}
"""Clients per leading therapist in a group session (DESIGN.md section 1)."""
EARLIEST, LATEST = datetime(2000, 1, 1).year, datetime(2100, 1, 1).year
MAX_LIST_DAYS = 400
DEFAULT_PAST_DAYS, DEFAULT_FUTURE_DAYS = 31, 366

# live events (docs/realtime.md)
APPOINTMENT_SCHEDULED = "appointment_scheduled"
APPOINTMENT_RESCHEDULED = "appointment_rescheduled"
APPOINTMENT_CANCELLED = "appointment_cancelled"
CANCELLATION_SEEN = "cancellation_seen"


class _Raced(Exception):
    """Another request cancelled the same attendance first; its result is the answer."""


def _not_found() -> NotFound:
    return NotFound("No such appointment", code="appointment_not_found")


@dataclass(slots=True)
class _View:
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


def _ciphertext(text: str | None) -> MegolmCiphertextIn | None:
    if text is None:
        return None
    return msgspec.json.decode(text, type=MegolmCiphertextIn)


def _out(
    row: Any, attendances: list[Any], therapist_ids: list[UUID], visible: set[UUID] | None
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
                details=_ciphertext(a.details),
            )
            for a in attendances
            if visible is None or a.case_id in visible
        ],
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _check_ciphertexts(
    items: Sequence[MegolmCiphertextIn], principal: Principal, case_ids: Iterable[UUID], what: str
) -> dict[UUID, MegolmCiphertextIn]:
    """One ciphertext per case at most, each for a case of the appointment and from the
    caller's own device (so it cannot be passed off as someone else's)."""
    allowed = set(case_ids)
    found: dict[UUID, MegolmCiphertextIn] = {}
    for ct in items:
        if ct.case_id not in allowed or ct.case_id in found:
            raise InvalidInput(
                f"Each {what} ciphertext must be for a different case of the appointment",
                code=f"{what}_case_mismatch",
            )
        if ct.sender_user_id != principal.user_id or ct.sender_device_id != principal.device_id:
            raise InvalidInput(
                f"A {what} ciphertext must come from the sending device",
                code="ciphertext_mismatch",
            )
        found[ct.case_id] = ct
    return found


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
        notifier: Notifier | None,
        clock: Clock,
        events: EventSink | None = None,
    ) -> None:
        self.db = db
        self.audit = audit
        self.cases = cases
        self.notifier = notifier
        self.clock = clock
        self.events = events

    # reading

    async def _memberships(
        self, conn: AsyncConnection, principal: Principal
    ) -> dict[UUID, Membership]:
        """The caller's cases whose schedule they may see (caregivers need ``schedule``)."""
        return {
            m.case_id: m
            for m in await self.cases.memberships(conn, principal)
            if m.role != "caregiver" or "schedule" in (m.scopes or [])
        }

    async def _view(
        self, conn: AsyncConnection, principal: Principal, appointment_id: UUID
    ) -> _View:
        row = await store.get_appointment(conn, appointment_id)
        if row is None or row.org_id != principal.org_id:
            raise _not_found()
        attendances = await store.attendances(conn, [row.id])
        therapist_ids = [t.user_id for t in await store.therapists(conn, [row.id])]
        case_ids = {a.case_id for a in attendances}
        mine = {
            c: m for c, m in (await self._memberships(conn, principal)).items() if c in case_ids
        }
        admin = principal.role == "admin"
        if not mine and not admin:
            raise _not_found()
        visible = list(case_ids) if admin else list(mine)
        return _View(row, attendances, therapist_ids, mine, admin, visible)

    async def _outs(
        self, conn: AsyncConnection, ids: Sequence[UUID], visible: set[UUID] | None
    ) -> list[AppointmentOut]:
        rows = await store.get_appointments(conn, ids)
        attendances: dict[UUID, list[Any]] = {}
        for a in await store.attendances(conn, ids):
            attendances.setdefault(a.appointment_id, []).append(a)
        therapists: dict[UUID, list[UUID]] = {}
        for t in await store.therapists(conn, ids):
            therapists.setdefault(t.appointment_id, []).append(t.user_id)
        return [_out(r, attendances.get(r.id, []), therapists.get(r.id, []), visible) for r in rows]

    async def get(self, principal: Principal, appointment_id: UUID) -> AppointmentOut:
        async with self.db.read() as conn:
            view = await self._view(conn, principal, appointment_id)
        return _out(view.row, view.attendances, view.therapist_ids, set(view.visible))

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
            return await self._outs(conn, ids, {case_id})

    async def my_schedule(
        self, principal: Principal, start: datetime | None, end: datetime | None
    ) -> list[AppointmentOut]:
        """A therapist's sessions in all their cases; a family member's in theirs."""
        if principal.role == "admin":
            raise Forbidden("An admin has no schedule of their own")
        async with self.db.read() as conn:
            start, end = self._window(start, end)
            mine = await self._memberships(conn, principal)
            ids = await store.ids_of_cases(conn, list(mine), start, end)
            return await self._outs(conn, ids, set(mine))

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
        details = _check_ciphertexts(body.details, principal, case_ids, "details")
        starts = weekly(body.starts_at, body.weekly_occurrences)
        _check_start(starts[0])
        _check_start(starts[-1])
        now = self.clock()
        series_id = uuid.uuid4() if len(starts) > 1 else None
        ids = [uuid.uuid4() for _ in starts]
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
                            "details": (
                                msgspec.json.encode(details[c]).decode() if c in details else None
                            ),
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
            outs = await self._outs(conn, ids, None)
            audience = await self._audience(conn, case_ids, therapist_ids)
            ids_extra = {"seriesId": series_id} if series_id else {}
            await self._record(
                conn,
                case_ids,
                therapist_ids,
                principal,
                APPOINTMENT_SCHEDULED,
                lambda c: {"appointmentId": ids[0], "caseId": c, **ids_extra},
            )
        self._wake()
        await self._announce(
            audience,
            principal,
            APPOINTMENT_SCHEDULED,
            lambda c: {"appointmentId": ids[0], "caseId": c, **ids_extra},
        )
        return AppointmentsOut(appointments=outs, warnings=found)

    async def reschedule(
        self, principal: Principal, appointment_id: UUID, body: AppointmentUpdate, address: str
    ) -> AppointmentsOut:
        now = self.clock()
        async with self.db.transaction() as conn:
            view = await self._view(conn, principal, appointment_id)
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
            outs = await self._outs(conn, ids, None)
            audience = await self._audience(conn, view.case_ids, view.therapist_ids)
            extra = {"seriesId": row.series_id} if row.series_id else {}
            await self._record(
                conn,
                view.case_ids,
                view.therapist_ids,
                principal,
                APPOINTMENT_RESCHEDULED,
                lambda c: {"appointmentId": row.id, "caseId": c, **extra},
            )
        self._wake()
        await self._announce(
            audience,
            principal,
            APPOINTMENT_RESCHEDULED,
            lambda c: {"appointmentId": row.id, "caseId": c, **extra},
        )
        return AppointmentsOut(appointments=outs, warnings=found)

    async def set_outcome(
        self, principal: Principal, appointment_id: UUID, body: OutcomeIn, address: str
    ) -> AppointmentOut:
        now = self.clock()
        async with self.db.transaction() as conn:
            view = await self._view(conn, principal, appointment_id)
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
            view = await self._view(conn, principal, appointment_id)
        return _out(view.row, view.attendances, view.therapist_ids, set(view.visible))

    # cancellations

    async def cancel(
        self, principal: Principal, appointment_id: UUID, body: CancelIn, address: str
    ) -> tuple[CancellationOut, bool]:
        """(the cancellation, whether this call made it)."""
        try:
            return await self._cancel(principal, appointment_id, body, address)
        except _Raced:
            async with self.db.read() as conn:
                view = await self._view(conn, principal, appointment_id)
                existing = self._existing(view, self._covered(view, principal))
                assert existing is not None
                return await self._cancellation_out(conn, view, existing), False

    def _covered(self, view: _View, principal: Principal) -> list[UUID]:
        """The cases a cancellation by the caller covers."""
        if view.admin and not view.mine:
            return view.case_ids
        roles = {m.role for m in view.mine.values()}
        if "therapist" in roles:
            return view.case_ids
        if "guardian" in roles:
            own = [c for c, m in view.mine.items() if m.role == "guardian"]
            # a single-case session is cancelled as a whole; a group: the family's attendance
            return view.case_ids if len(view.case_ids) == 1 else own
        raise Forbidden("Only a guardian, a therapist or an admin cancels a session")

    @staticmethod
    def _existing(view: _View, covered: list[UUID]) -> UUID | None:
        ids: list[UUID | None] = [
            a.cancellation_id for a in view.attendances if a.case_id in covered
        ]
        if ids and all(i is not None for i in ids):
            return ids[0]
        return None

    async def _cancel(
        self, principal: Principal, appointment_id: UUID, body: CancelIn, address: str
    ) -> tuple[CancellationOut, bool]:
        now = self.clock()
        async with self.db.transaction() as conn:
            view = await self._view(conn, principal, appointment_id)
            covered = self._covered(view, principal)
            existing = self._existing(view, covered)
            if existing is not None:
                return await self._cancellation_out(conn, view, existing), False
            row = view.row
            if now >= row.starts_at:
                raise Conflict(
                    "The session has started: it can no longer be cancelled "
                    "(the therapist marks a no-show)",
                    code="appointment_started",
                )
            open_cases = [
                a.case_id
                for a in view.attendances
                if a.case_id in covered and a.status == "scheduled"
            ]
            if not open_cases:
                raise Conflict(
                    "The session is no longer scheduled", code="appointment_not_scheduled"
                )
            notes = _check_ciphertexts(body.note, principal, open_cases, "note")
            policy = await cancellation_policy(conn, principal.org_id)
            late = now > row.starts_at - timedelta(hours=policy.late_cancel_hours)
            role = (
                "therapist"
                if any(m.role == "therapist" for m in view.mine.values())
                else "guardian"
                if view.mine
                else "admin"
            )
            cancellation_id = uuid.uuid4()
            await store.insert_cancellation(
                conn,
                id=cancellation_id,
                appointment_id=row.id,
                cancelled_by=principal.user_id,
                cancelled_by_device=principal.device_id,
                cancelled_by_role=role,
                reason=body.reason,
                late=late,
                note=(
                    msgspec.json.encode([notes[c] for c in open_cases if c in notes]).decode()
                    if notes
                    else None
                ),
                created_at=now,
            )
            changed = await store.set_attendance(
                conn,
                row.id,
                open_cases,
                from_statuses=("scheduled",),
                status="cancelled",
                cancellation_id=cancellation_id,
                status_changed_at=now,
                status_changed_by=principal.user_id,
            )
            if changed != len(open_cases):
                raise _Raced
            statuses = {a.status for a in await store.attendances(conn, [row.id])}
            if statuses == {"cancelled"}:
                await store.update_appointment(conn, row.id, status="cancelled", updated_at=now)
            await self.audit.record(
                conn,
                "appointment.cancelled",
                org_id=principal.org_id,
                actor=principal,
                target_type="appointment",
                target_id=row.id,
                details={
                    "cancellationId": str(cancellation_id),
                    "caseIds": [str(c) for c in open_cases],
                    "reason": body.reason,
                    "late": late,
                },
                address=address,
            )
            view = await self._view(conn, principal, appointment_id)
            out = await self._cancellation_out(conn, view, cancellation_id)
            audience = await self._audience(conn, open_cases, view.therapist_ids)
            await self._record(
                conn,
                open_cases,
                view.therapist_ids,
                principal,
                APPOINTMENT_CANCELLED,
                lambda c: {"appointmentId": row.id, "caseId": c, "cancellationId": cancellation_id},
                urgent=True,
            )
        self._wake()
        await self._announce(
            audience,
            principal,
            APPOINTMENT_CANCELLED,
            lambda c: {"appointmentId": row.id, "caseId": c, "cancellationId": cancellation_id},
        )
        return out, True

    async def _cancellation_out(
        self, conn: AsyncConnection, view: _View, cancellation_id: UUID
    ) -> CancellationOut:
        row = await store.get_cancellation(conn, cancellation_id)
        assert row is not None
        covered = [a.case_id for a in view.attendances if a.cancellation_id == cancellation_id]
        notes = msgspec.json.decode(row.note, type=list[MegolmCiphertextIn]) if row.note else []
        visible = set(view.visible)
        return CancellationOut(
            id=row.id,
            appointment_id=row.appointment_id,
            case_ids=[c for c in covered if c in visible],
            whole=len(covered) == len(view.attendances),
            cancelled_by=row.cancelled_by,
            cancelled_by_role=row.cancelled_by_role,
            reason=row.reason,
            late=row.late,
            note=[n for n in notes if n.case_id in visible],
            created_at=row.created_at,
            seen_by=[
                SeenOut(
                    user_id=a.user_id,
                    display_name=a.display_name,
                    role=a.role,
                    device_id=a.device_id,
                    seen_at=a.seen_at,
                )
                for a in await store.acks(conn, row.id)
            ],
        )

    async def _cancellation_view(
        self, conn: AsyncConnection, principal: Principal, cancellation_id: UUID
    ) -> tuple[_View, Any]:
        missing = NotFound("No such cancellation", code="cancellation_not_found")
        row = await store.get_cancellation(conn, cancellation_id)
        if row is None:
            raise missing
        try:
            view = await self._view(conn, principal, row.appointment_id)
        except NotFound:
            raise missing from None
        covered = {a.case_id for a in view.attendances if a.cancellation_id == cancellation_id}
        if not view.admin and not covered & set(view.mine):
            raise missing
        return view, row

    async def get_cancellation(
        self, principal: Principal, cancellation_id: UUID
    ) -> CancellationOut:
        async with self.db.read() as conn:
            view, row = await self._cancellation_view(conn, principal, cancellation_id)
            return await self._cancellation_out(conn, view, row.id)

    async def acknowledge(self, principal: Principal, cancellation_id: UUID) -> CancellationOut:
        """This device has shown the notice. The first ack of a device counts; the
        canceller's own devices need none."""
        now = self.clock()
        async with self.db.transaction() as conn:
            view, row = await self._cancellation_view(conn, principal, cancellation_id)
            added = False
            if principal.user_id != row.cancelled_by:
                covered = [
                    a.case_id for a in view.attendances if a.cancellation_id == cancellation_id
                ]
                roles = [view.mine[c].role for c in covered if c in view.mine]
                role = "therapist" if "therapist" in roles else roles[0] if roles else "admin"
                added = await store.insert_ack(
                    conn,
                    cancellation_id=row.id,
                    device_id=principal.device_id,
                    user_id=principal.user_id,
                    role=role,
                    seen_at=now,
                )
            out = await self._cancellation_out(conn, view, row.id)
            devices = await signed_in_devices(conn, [row.cancelled_by]) if added else {}
            first_of_user = added and [s.user_id for s in out.seen_by].count(principal.user_id) == 1
            if first_of_user and self.events is not None:
                await self.events.record(
                    conn,
                    DomainEvent(
                        kind=CANCELLATION_SEEN,
                        ids={"cancellationId": row.id, "appointmentId": row.appointment_id},
                        recipients=[row.cancelled_by],
                    ),
                )
        if first_of_user:
            self._wake()
        if added and self.notifier is not None:
            await self.notifier.send_event(
                devices,
                CANCELLATION_SEEN,
                {"cancellationId": row.id, "appointmentId": row.appointment_id},
            )
        return out

    async def last_session_before(
        self, conn: AsyncConnection, case_id: UUID, at: datetime
    ) -> datetime | None:
        """When the case's latest session before ``at`` started (homework's summary runs
        from the day after it)."""
        return await store.last_start_before(conn, case_id, at)

    # live events

    async def _audience(
        self, conn: AsyncConnection, case_ids: Iterable[UUID], therapist_ids: Iterable[UUID]
    ) -> dict[UUID, list[UUID]]:
        """case id -> the signed-in devices of those who see its schedule, and of the
        appointment's therapists."""
        result: dict[UUID, list[UUID]] = {}
        therapists = list(therapist_ids)
        for case_id in case_ids:
            users = list(await self.cases.schedule_audience(conn, case_id)) + therapists
            result[case_id] = list(await signed_in_devices(conn, users))
        return result

    async def _record(
        self,
        conn: AsyncConnection,
        case_ids: Iterable[UUID],
        therapist_ids: Iterable[UUID],
        principal: Principal,
        kind: str,
        ids: Any,
        *,
        urgent: bool = False,
    ) -> None:
        """In the transaction: the push, e-mail and SMS notices of the event, one event per
        case, to its schedule audience and the session's therapists but the actor."""
        if self.events is None:
            return
        therapists = list(therapist_ids)
        for case_id in case_ids:
            users = list(await self.cases.schedule_audience(conn, case_id)) + therapists
            recipients = [u for u in dict.fromkeys(users) if u != principal.user_id]
            await self.events.record(
                conn,
                DomainEvent(
                    kind=kind, ids=ids(case_id), recipients=recipients, case_id=case_id,
                    urgent=urgent,
                ),
            )  # fmt: skip

    def _wake(self) -> None:
        """After the commit: this instance's sender looks at the new notices now."""
        if self.events is not None:
            self.events.wake()

    async def _announce(
        self,
        audience: dict[UUID, list[UUID]],
        principal: Principal,
        event: str,
        ids: Any,
    ) -> None:
        """After the commit: one event per case to every device but the caller's."""
        if self.notifier is None:
            return
        for case_id, devices in audience.items():
            others = [d for d in devices if d != principal.device_id]
            await self.notifier.send_event(others, event, ids(case_id))
