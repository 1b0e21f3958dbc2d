"""Sick days: a guardian (usually while cancelling a session for illness) or a therapist
marks a day the child was ill. That day expects no homework in progress and streaks and
the child's reminder stays silent; a tick the child made anyway still counts
(docs/homework.md, "Sick days"). The rule itself is app/homework/schedule.py's
``Plan.rest_days``; this module records the days.
"""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

from app.audit.service import Audit
from app.cases.service import CaseService
from app.core import events as ev
from app.core.errors import InvalidInput
from app.core.fanout import FanOut
from app.core.principal import Principal
from app.core.time import Clock, local_date
from app.homework import store
from app.homework.schemas import SickDaysOut
from app.homework.service import EVERYONE
from app.storage.engine import Database

#: how far back a sick day may be marked (a week's late ticks, and a weekend more)
SICK_DAY_PAST_DAYS = 14
#: how far ahead (the child is ill today and stays home tomorrow)
SICK_DAY_FUTURE_DAYS = 7


class SickDays:
    def __init__(
        self, db: Database, audit: Audit, cases: CaseService, fanout: FanOut, clock: Clock
    ) -> None:
        self.db = db
        self.audit = audit
        self.cases = cases
        self.fanout = fanout
        self.clock = clock

    async def list(
        self, principal: Principal, case_id: UUID, first: date | None, last: date | None
    ) -> SickDaysOut:
        async with self.db.read() as conn:
            (await self.cases.access(conn, principal, case_id)).require_scope("homework")
            days = (await store.sick_days(conn, [case_id], first, last))[case_id]
        return SickDaysOut(case_id=case_id, days=sorted(days))

    async def mark(self, principal: Principal, case_id: UUID, day: date, address: str) -> bool:
        """Mark ``day``; whether it is new (a retry answers the same)."""
        return await self._change(principal, case_id, day, address, sick=True)

    async def unmark(self, principal: Principal, case_id: UUID, day: date, address: str) -> None:
        await self._change(principal, case_id, day, address, sick=False)

    async def _change(
        self, principal: Principal, case_id: UUID, day: date, address: str, *, sick: bool
    ) -> bool:
        now = self.clock()
        today = local_date(now)
        if (
            not today - timedelta(days=SICK_DAY_PAST_DAYS)
            <= day
            <= today + timedelta(days=SICK_DAY_FUTURE_DAYS)
        ):
            raise InvalidInput(f"A sick day is within {SICK_DAY_PAST_DAYS} days before and "
                               f"{SICK_DAY_FUTURE_DAYS} days after today",
                               code="sick_day_out_of_range")  # fmt: skip
        announcement = self.fanout.begin(principal.device_id)
        async with self.db.transaction() as conn:
            membership = await self.cases.access(conn, principal, case_id)
            membership.require("guardian", "therapist").require_open()
            if sick:
                changed = await store.mark_sick_day(conn, case_id, day, principal.user_id, now)
            else:
                changed = await store.unmark_sick_day(conn, case_id, day)
            if changed:
                await self.audit.record(
                    conn, "homework.sick_day_marked" if sick else "homework.sick_day_unmarked",
                    org_id=principal.org_id, actor=principal, target_type="case",
                    target_id=case_id, details={"day": day.isoformat()}, address=address,
                )  # fmt: skip
                active = await self.cases.active_members(conn, case_id, EVERYONE)
                scoped = await self.cases.homework_audience(conn, case_id)
                audience = {u: r for u, r in active.items() if u in scoped}
                ids: dict[str, str | UUID] = {"caseId": case_id, "day": day.isoformat()}
                await announcement.live(conn, audience, ev.HOMEWORK_SICK_DAY, ids)
        await announcement.send()
        return changed
