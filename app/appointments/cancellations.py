"""Cancellations and their acknowledgements.

* A guardian (their case's attendance of a group session; the whole of a single-case
  appointment), a therapist or an admin (the whole appointment) cancels, only before the
  start; late when now > start - the org's late window. A second cancel returns the first.
* After the commit every other device of the covered cases' members and of the
  appointment's therapists gets ``appointment_cancelled`` (and an urgent push); a device
  that has seen the notice acknowledges it, and the canceller's devices get
  ``cancellation_seen`` (the first acknowledgement of each user also as a notice).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.orgs import cancellation_policy
from app.appointments import store
from app.appointments.schemas import CancelIn, CancellationOut, CaseEventOut, SeenOut
from app.appointments.views import View, Visibility, check_events
from app.audit.service import Audit
from app.cases.service import CaseService
from app.core.content_rooms import ContentRooms
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.events import APPOINTMENT_CANCELLED, CANCELLATION_SEEN, DomainEvent
from app.core.fanout import FanOut
from app.core.principal import Principal
from app.core.time import Clock, local_date
from app.storage.engine import Database


class _Raced(Exception):
    """Another request cancelled the same attendance first; its result is the answer."""


class CancellationService:
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
        self.rooms = rooms
        self.cases = cases
        self.seen = Visibility(cases, rooms)
        self.fanout = fanout
        self.clock = clock

    async def cancel(
        self, principal: Principal, appointment_id: UUID, body: CancelIn, address: str
    ) -> tuple[CancellationOut, bool]:
        """(the cancellation, whether this call made it)."""
        try:
            return await self._cancel(principal, appointment_id, body, address)
        except _Raced:
            async with self.db.read() as conn:
                view = await self.seen.view(conn, principal, appointment_id)
                existing = self._existing(view, self._covered(view, principal))
                assert existing is not None
                return await self._cancellation_out(conn, view, existing), False

    def _covered(self, view: View, principal: Principal) -> list[UUID]:
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
    def _existing(view: View, covered: list[UUID]) -> UUID | None:
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
        announcement = self.fanout.begin(principal.device_id)
        async with self.db.transaction() as conn:
            view = await self.seen.view(conn, principal, appointment_id)
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
            notes = await check_events(self.rooms, conn, principal, body.note, open_cases, "note")
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
            for case_id, event_id in notes.items():
                await store.set_note(conn, row.id, case_id, event_id)
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
            view = await self.seen.view(conn, principal, appointment_id)
            out = await self._cancellation_out(conn, view, cancellation_id)
            await self.seen.tell(
                announcement,
                conn,
                open_cases,
                view.therapist_ids,
                principal,
                APPOINTMENT_CANCELLED,
                lambda c: {"appointmentId": row.id, "caseId": c, "cancellationId": cancellation_id},
                urgent=True,
            )
        await announcement.send()
        return out, True

    async def _cancellation_out(
        self, conn: AsyncConnection, view: View, cancellation_id: UUID
    ) -> CancellationOut:
        row = await store.get_cancellation(conn, cancellation_id)
        assert row is not None
        covered = [a for a in view.attendances if a.cancellation_id == cancellation_id]
        visible = set(view.visible)
        counted = await self._counted(
            conn, view, [a.case_id for a in covered if a.case_id in visible], row.late
        )
        return CancellationOut(
            id=row.id,
            appointment_id=row.appointment_id,
            case_ids=[a.case_id for a in covered if a.case_id in visible],
            whole=len(covered) == len(view.attendances),
            cancelled_by=row.cancelled_by,
            cancelled_by_role=row.cancelled_by_role,
            reason=row.reason,
            late=row.late,
            counted_case_ids=counted,
            note=[
                CaseEventOut(
                    case_id=a.case_id,
                    room_id=self.rooms.content_room(a.case_id, "family"),
                    event_id=a.note_event_id,
                )
                for a in covered
                if a.case_id in visible and a.note_event_id is not None
            ],
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

    async def _counted(
        self, conn: AsyncConnection, view: View, case_ids: list[UUID], late: bool
    ) -> list[UUID]:
        """The cases whose period a (late) cancellation uses a session of (accounting.py)."""
        if not late or not case_ids:
            return []
        policy = await cancellation_policy(conn, view.row.org_id)
        day = local_date(view.row.starts_at)
        counted: list[UUID] = []
        for case_id in case_ids:
            periods = await self.cases.periods(conn, case_id)
            period = next((p for p in periods if p.starts_on <= day <= p.ends_on), None)
            if period is not None and policy.counts(period.payer, "late_cancellation"):
                counted.append(case_id)
        return counted

    async def _cancellation_view(
        self, conn: AsyncConnection, principal: Principal, cancellation_id: UUID
    ) -> tuple[View, Any]:
        missing = NotFound("No such cancellation", code="cancellation_not_found")
        row = await store.get_cancellation(conn, cancellation_id)
        if row is None:
            raise missing
        try:
            view = await self.seen.view(conn, principal, row.appointment_id)
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
        announcement = self.fanout.begin(principal.device_id)
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
            ids = {"cancellationId": row.id, "appointmentId": row.appointment_id}
            if added:
                await announcement.live(conn, [row.cancelled_by], CANCELLATION_SEEN, ids)
            if added and [s.user_id for s in out.seen_by].count(principal.user_id) == 1:
                notice = DomainEvent(kind=CANCELLATION_SEEN, ids=ids, recipients=[row.cancelled_by])
                await announcement.notice(conn, notice)
        await announcement.send()
        return out
