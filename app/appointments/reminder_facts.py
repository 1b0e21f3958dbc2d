"""What notifications need to know about appointments and periods, handed to them at
construction (app/main.py), so app/notifications never reads these tables: the sessions
and periods reminders are about, and a user's schedule for the calendar feed."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.appointments import store
from app.appointments.accounting import sessions_used
from app.appointments.service import AppointmentService
from app.cases.service import CaseService
from app.core.principal import Principal
from app.notifications.calendar import FeedEntry
from app.notifications.reminders import PeriodFact, SessionFact

NO_DEVICE = UUID(int=0)


class ReminderFacts:
    def __init__(self, cases: CaseService, appointments: AppointmentService) -> None:
        self.cases = cases
        self.appointments = appointments

    async def sessions_starting(
        self, conn: AsyncConnection, start: datetime, end: datetime
    ) -> list[SessionFact]:
        rows = await store.scheduled_between(conn, start, end)
        return [SessionFact(r.appointment_id, r.case_id) for r in rows]

    async def open_periods(self, conn: AsyncConnection, day: date) -> list[PeriodFact]:
        result = []
        for org_id, period in await self.cases.open_periods(conn, day):
            used = await sessions_used(conn, org_id, period)
            result.append(
                PeriodFact(period.id, period.case_id, period.ends_on, period.sessions_granted, used)
            )
        return result

    async def audience(self, conn: AsyncConnection, case_id: UUID) -> dict[UUID, str]:
        return await self.cases.schedule_audience(conn, case_id)

    async def schedule(self, user_id: UUID, org_id: UUID, role: str) -> list[FeedEntry]:
        """The user's schedule as their calendar feed shows it (the default window: a
        month back, a year ahead)."""
        principal = Principal(user_id=user_id, org_id=org_id, role=role, device_id=NO_DEVICE)  # type: ignore[arg-type]
        entries = []
        for a in await self.appointments.my_schedule(principal, None, None):
            mine = [c.status for c in a.cases]
            entries.append(
                FeedEntry(
                    id=a.id,
                    starts_at=a.starts_at,
                    ends_at=a.ends_at,
                    place_kind=a.place_kind,
                    cancelled=bool(mine) and all(s == "cancelled" for s in mine),
                    updated_at=a.updated_at,
                )
            )
        return entries
