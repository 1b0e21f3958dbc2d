"""Therapy-period accounting: sessions used, and warnings when a booking overruns a period.

Why it lives here: the count is derived from appointments, so only this package reads
the appointment tables for it (DESIGN.md section 3: no domain reads another's store).
The cases package shows ``sessionsUsed`` on its periods, but it must not import this
package (appointments already depends on cases for access checks); instead
``CaseService`` takes a ``SessionCounter`` at construction and app/services.py hands it
:func:`sessions_used`. The dependency stays one way: appointments -> cases.

used = completed
     + late cancellations, if the org's policy counts them for the period's payer
     + no-shows, if the policy counts them for the period's payer
for the case's attendances whose start falls on a local (Europe/Helsinki) day inside
the period. Booked = used + still scheduled: a new or moved appointment past the
granted count, or on a day no period covers, comes back with a warning, not an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.orgs import CancellationPolicy, cancellation_policy
from app.appointments import store
from app.appointments.schemas import ScheduleWarning
from app.cases.service import CaseService, Period
from app.core.time import day_bounds, local_date


def used_of(tally: dict[tuple[str, bool], int], policy: CancellationPolicy, payer: str) -> int:
    used = tally.get(("completed", False), 0) + tally.get(("completed", True), 0)
    if policy.counts(payer, "late_cancellation"):
        used += tally.get(("cancelled", True), 0)
    if policy.counts(payer, "no_show"):
        used += tally.get(("no_show", False), 0) + tally.get(("no_show", True), 0)
    return used


async def sessions_used(conn: AsyncConnection, org_id: UUID, period: Period) -> int:
    """The ``SessionCounter`` given to ``CaseService`` (app/services.py)."""
    policy = await cancellation_policy(conn, org_id)
    tally = await store.period_tally(
        conn, period.case_id, *day_bounds(period.starts_on, period.ends_on)
    )
    return used_of(tally, policy, period.payer)


@dataclass(frozen=True, slots=True)
class Booking:
    """An appointment just created or moved, with the cases still scheduled in it."""

    appointment_id: UUID
    starts_at: datetime
    case_ids: Sequence[UUID]


async def warnings(
    conn: AsyncConnection, cases: CaseService, org_id: UUID, bookings: Sequence[Booking]
) -> list[ScheduleWarning]:
    """Warnings for bookings (already written in this transaction) that no period covers
    or that go past their period's granted count. Of several new bookings in one period
    the latest ones are flagged: with 2 sessions left, a series of 5 warns on its last 3."""
    policy = await cancellation_policy(conn, org_id)
    mine = {b.appointment_id for b in bookings}
    found: list[ScheduleWarning] = []
    case_ids = list(dict.fromkeys(c for b in bookings for c in b.case_ids))
    for case_id in case_ids:
        periods = await cases.periods(conn, case_id)
        in_case = sorted((b for b in bookings if case_id in b.case_ids), key=lambda b: b.starts_at)
        by_period: dict[UUID, list[Booking]] = {}
        for b in in_case:
            day = local_date(b.starts_at)
            period = next((p for p in periods if p.starts_on <= day <= p.ends_on), None)
            if period is None:
                found.append(
                    ScheduleWarning(
                        code="outside_period",
                        appointment_id=b.appointment_id,
                        case_id=case_id,
                        period_id=None,
                    )
                )
            else:
                by_period.setdefault(period.id, []).append(b)
        for period in periods:
            new = by_period.get(period.id, [])
            if not new:
                continue
            tally = await store.period_tally(
                conn, case_id, *day_bounds(period.starts_on, period.ends_on)
            )
            booked = used_of(tally, policy, period.payer) + tally.get(("scheduled", False), 0)
            # the new bookings are in the tally already: count the others first
            before = booked - sum(1 for b in new if b.appointment_id in mine)
            for n, b in enumerate(new, start=1):
                if before + n > period.sessions_granted:
                    found.append(
                        ScheduleWarning(
                            code="period_quota_exceeded",
                            appointment_id=b.appointment_id,
                            case_id=case_id,
                            period_id=period.id,
                        )
                    )
    return found
