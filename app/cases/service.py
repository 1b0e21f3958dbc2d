"""Rules for cases: who may see a case, who may change its members, therapy periods.

Every read and write starts with ``access``: a case the caller is not a member of is
404 (no enumeration); a member whose role does not allow the action gets 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Audit
from app.cases import store
from app.cases.schemas import (
    CaseCreate,
    CaseOut,
    MemberOut,
    PeriodCreate,
    PeriodOut,
    PeriodUpdate,
)
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.principal import CaseRole, Locale, Principal, UserFacts
from app.core.time import Clock
from app.storage.engine import Database

ReadKind = Literal[
    "messages", "attachments", "homework", "documents", "appointments", "periods", "members"
]
"""the kinds of case data whose reads the access log lists"""

MAX_PERIOD_YEARS = 3  # a therapy period is granted for at most three years


@dataclass(frozen=True, slots=True)
class Membership:
    case_id: UUID
    org_id: UUID
    role: CaseRole
    scopes: list[str] | None
    child_user_id: UUID | None
    child_name: str | None
    created_at: datetime
    closed_at: datetime | None

    def require(self, *roles: CaseRole) -> Membership:
        if self.role not in roles:
            raise Forbidden(f"A {self.role} of this case cannot do this")
        return self

    def require_open(self) -> Membership:
        """A closed case takes no new data of the kinds its retention deletes (homework)."""
        if self.closed_at is not None:
            raise Conflict("The case is closed", code="case_closed")
        return self

    def require_scope(self, scope: str) -> Membership:
        """Caregivers see only what a guardian granted; other members see their case."""
        if self.role == "caregiver" and scope not in (self.scopes or []):
            raise Forbidden("A guardian has not shared this with you")
        return self


def _membership(row: Any) -> Membership:
    return Membership(
        case_id=row.id,
        org_id=row.org_id,
        role=row.role,
        scopes=row.scopes,
        child_user_id=row.child_user_id,
        child_name=row.child_name,
        created_at=row.created_at,
        closed_at=row.closed_at,
    )


def _case_out(m: Membership) -> CaseOut:
    return CaseOut(
        id=m.case_id,
        child_user_id=m.child_user_id,
        child_name=m.child_name,
        my_role=m.role,
        my_scopes=m.scopes,
        created_at=m.created_at,
        closed_at=m.closed_at,
    )


class SessionCounter(Protocol):
    """Counts the sessions used of a therapy period. Appointments own that count
    (``app.appointments.accounting``); app/services.py hands it in, so this package never
    imports the appointments package."""

    async def __call__(self, conn: AsyncConnection, org_id: UUID, period: Period) -> int: ...


@dataclass(frozen=True, slots=True)
class Period:
    """A therapy period as other domains see it."""

    id: UUID
    case_id: UUID
    payer: str
    starts_on: date
    ends_on: date
    sessions_granted: int


class UserDirectory(Protocol):
    """What cases asks of accounts (``AccountService`` answers): a user's facts, and the
    child's account opened with a case, both in the caller's transaction."""

    async def user_facts(self, conn: AsyncConnection, user_id: UUID) -> UserFacts | None: ...

    async def create_child(
        self, conn: AsyncConnection, org_id: UUID, display_name: str, locale: Locale
    ) -> UUID: ...


class CaseService:
    def __init__(
        self,
        db: Database,
        audit: Audit,
        users: UserDirectory,
        sessions_used: SessionCounter,
        clock: Clock,
    ) -> None:
        self.db = db
        self.audit = audit
        self.users = users
        self.count_used = sessions_used
        self.clock = clock

    # access, used by every domain that holds case data

    async def access(
        self, conn: AsyncConnection, principal: Principal, case_id: UUID
    ) -> Membership:
        row = await store.membership(conn, case_id, principal.user_id)
        if row is None or row.org_id != principal.org_id:
            raise NotFound("No such case", code="case_not_found")
        return _membership(row)

    async def note_read(self, principal: Principal, case_id: UUID, kind: ReadKind) -> None:
        """Record that the caller read ``kind`` data of the case, at most once per reader,
        case and kind each hour (docs/data-protection.md): the family's access log."""
        since = self.clock().replace(minute=0, second=0, microsecond=0)
        async with self.db.read() as conn:
            if await self.audit.read_noted(conn, principal.user_id, case_id, kind, since):
                return
        async with self.db.transaction() as conn:
            if not await self.audit.read_noted(conn, principal.user_id, case_id, kind, since):
                await self.audit.record_read(conn, principal, case_id, kind)

    async def member_access(self, principal: Principal, case_id: UUID) -> Membership:
        async with self.db.read() as conn:
            return await self.access(conn, principal, case_id)

    async def holds_role(
        self, conn: AsyncConnection, case_id: UUID, user_id: UUID, *roles: CaseRole
    ) -> bool:
        """Is ``user_id`` still an active member of the case in one of ``roles``? Codes a
        member issued (invites, pairing codes) are honoured only while this holds."""
        row = await store.membership(conn, case_id, user_id)
        if row is None or row.role not in roles:
            return False
        user = await self.users.user_facts(conn, user_id)
        return user is not None and user.active

    async def active_members(
        self, conn: AsyncConnection, case_id: UUID, roles: Collection[CaseRole]
    ) -> dict[UUID, CaseRole]:
        """user id -> role of the case's members in ``roles`` whose accounts are active."""
        rows = await store.active_member_ids(conn, case_id, roles)
        return {r.user_id: r.role for r in rows}

    async def active_members_granted(
        self, conn: AsyncConnection, case_id: UUID, roles: Collection[CaseRole], scope: str
    ) -> dict[UUID, CaseRole]:
        """As :meth:`active_members`, caregivers only with a guardian's grant of ``scope``
        (who is in a room of the case that carries that kind of content)."""
        active = await self.active_members(conn, case_id, roles)
        granted = {
            r.user_id
            for r in await store.members(conn, case_id)
            if r.role != "caregiver" or scope in (r.scopes or [])
        }
        return {u: role for u, role in active.items() if u in granted}

    async def memberships(self, conn: AsyncConnection, principal: Principal) -> list[Membership]:
        """Every case of the caller (in the caller's organisation)."""
        rows = await store.cases_of_user(conn, principal.user_id)
        return [_membership(r) for r in rows if r.org_id == principal.org_id]

    async def add_member(
        self,
        conn: AsyncConnection,
        case_id: UUID,
        user_id: UUID,
        role: CaseRole,
        *,
        scopes: list[str] | None,
        added_by: UUID | None,
    ) -> None:
        if await store.membership(conn, case_id, user_id) is not None:
            raise Conflict("Already a member of this case", code="already_member")
        await store.insert_member(
            conn,
            case_id=case_id,
            user_id=user_id,
            role=role,
            scopes=scopes if role == "caregiver" else None,
            added_at=self.clock(),
            added_by=added_by,
        )

    # cases

    async def create_case(self, principal: Principal, body: CaseCreate, address: str) -> CaseOut:
        if principal.role != "therapist":
            raise Forbidden("Only therapists open cases")
        now = self.clock()
        case_id = uuid.uuid4()
        async with self.db.transaction() as conn:
            child_id = await self.users.create_child(
                conn, principal.org_id, body.child_display_name.strip(), body.child_locale
            )
            await store.insert_case(
                conn,
                id=case_id,
                org_id=principal.org_id,
                child_user_id=child_id,
                created_at=now,
                created_by=principal.user_id,
            )
            await self.add_member(
                conn, case_id, principal.user_id, "therapist", scopes=None, added_by=None
            )
            await self.add_member(
                conn, case_id, child_id, "child", scopes=None, added_by=principal.user_id
            )
            await self.audit.record(
                conn,
                "case.created",
                org_id=principal.org_id,
                actor=principal,
                target_type="case",
                target_id=case_id,
                address=address,
            )
            m = await self.access(conn, principal, case_id)
        return _case_out(m)

    async def list_cases(self, principal: Principal) -> list[CaseOut]:
        async with self.db.read() as conn:
            return [_case_out(m) for m in await self.memberships(conn, principal)]

    async def get_case(self, principal: Principal, case_id: UUID) -> CaseOut:
        return _case_out(await self.member_access(principal, case_id))

    # members

    async def list_members(self, principal: Principal, case_id: UUID) -> list[MemberOut]:
        async with self.db.read() as conn:
            (await self.access(conn, principal, case_id)).require("therapist", "guardian", "child")
            rows = await store.members(conn, case_id)
        await self.note_read(principal, case_id, "members")
        return [
            MemberOut(
                user_id=r.user_id,
                display_name=r.display_name,
                role=r.role,
                scopes=r.scopes,
                added_at=r.added_at,
            )
            for r in rows
        ]

    async def remove_member(
        self, principal: Principal, case_id: UUID, user_id: UUID, address: str
    ) -> None:
        async with self.db.transaction() as conn:
            me = await self.access(conn, principal, case_id)
            target = await store.membership(conn, case_id, user_id)
            if target is None:
                raise NotFound("No such member", code="member_not_found")
            allowed: dict[str, tuple[str, ...]] = {
                "therapist": ("therapist", "guardian", "caregiver"),
                "guardian": ("caregiver",),
            }
            if target.role not in allowed.get(me.role, ()):
                raise Forbidden(f"A {me.role} cannot remove a {target.role} from a case")
            if target.role == "therapist":
                # a case keeps at least one active therapist (disabled accounts do not count)
                target_user = await self.users.user_facts(conn, user_id)
                target_active = target_user is not None and target_user.active
                active = await store.count_role(conn, case_id, "therapist")
                if active - (1 if target_active else 0) < 1:
                    raise Conflict(
                        "A case keeps at least one active therapist", code="last_therapist"
                    )
            await store.delete_member(conn, case_id, user_id)
            await self.audit.record(
                conn,
                "case.member_removed",
                org_id=principal.org_id,
                actor=principal,
                target_type="case",
                target_id=case_id,
                details={"userId": str(user_id), "role": target.role},
                address=address,
            )

    async def close_case(self, principal: Principal, case_id: UUID, address: str) -> None:
        """An admin closes a case when its service has ended (docs/data-protection.md):
        its homework is deleted ``homework_retention_days`` later; closing is final."""
        if principal.role != "admin":
            raise Forbidden("Only an admin closes a case")
        async with self.db.transaction() as conn:
            case = await store.get_case(conn, case_id)
            if case is None or case.org_id != principal.org_id:
                raise NotFound("No such case", code="case_not_found")
            if not await store.close_case(conn, case_id, self.clock()):
                raise Conflict("The case is closed already", code="case_closed")
            await self.audit.record(
                conn,
                "case.closed",
                org_id=principal.org_id,
                actor=principal,
                target_type="case",
                target_id=case_id,
                address=address,
            )

    async def set_scopes(
        self, principal: Principal, case_id: UUID, user_id: UUID, scopes: list[str], address: str
    ) -> None:
        async with self.db.transaction() as conn:
            (await self.access(conn, principal, case_id)).require("guardian")
            target = await store.membership(conn, case_id, user_id)
            if target is None:
                raise NotFound("No such member", code="member_not_found")
            if target.role != "caregiver":
                raise Conflict(
                    "Only a caregiver's access is granted by scopes", code="not_caregiver"
                )
            unique = sorted(set(scopes))
            await store.set_scopes(conn, case_id, user_id, unique)
            await self.audit.record(
                conn,
                "case.scopes_changed",
                org_id=principal.org_id,
                actor=principal,
                target_type="case",
                target_id=case_id,
                details={"userId": str(user_id), "scopes": unique},
                address=address,
            )

    async def add_therapist(
        self, principal: Principal, case_id: UUID, user_id: UUID, address: str
    ) -> None:
        async with self.db.transaction() as conn:
            (await self.access(conn, principal, case_id)).require("therapist")
            user = await self.users.user_facts(conn, user_id)
            if (
                user is None
                or user.org_id != principal.org_id
                or user.role != "therapist"
                or not user.active
            ):
                raise NotFound("No such therapist in your organisation", code="user_not_found")
            await self.add_member(
                conn, case_id, user_id, "therapist", scopes=None, added_by=principal.user_id
            )
            await self.audit.record(
                conn,
                "case.member_added",
                org_id=principal.org_id,
                actor=principal,
                target_type="case",
                target_id=case_id,
                details={"userId": str(user_id), "role": "therapist"},
                address=address,
            )

    # therapy periods

    async def list_periods(self, principal: Principal, case_id: UUID) -> list[PeriodOut]:
        async with self.db.read() as conn:
            m = (await self.access(conn, principal, case_id)).require("therapist", "guardian")
            rows = await store.list_periods(conn, case_id)
            out = [await self._period_out(conn, m.org_id, r) for r in rows]
        await self.note_read(principal, case_id, "periods")
        return out

    async def get_period(self, principal: Principal, case_id: UUID, period_id: UUID) -> PeriodOut:
        async with self.db.read() as conn:
            m = (await self.access(conn, principal, case_id)).require("therapist", "guardian")
            row = await store.get_period(conn, case_id, period_id)
            if row is None:
                raise NotFound("No such therapy period", code="period_not_found")
            return await self._period_out(conn, m.org_id, row)

    async def create_period(
        self, principal: Principal, case_id: UUID, body: PeriodCreate, address: str
    ) -> PeriodOut:
        _check_dates(body.starts_on, body.ends_on)
        period_id = uuid.uuid4()
        async with self.db.transaction() as conn:
            (await self.access(conn, principal, case_id)).require("therapist")
            await store.insert_period(
                conn,
                id=period_id,
                case_id=case_id,
                payer=body.payer,
                starts_on=body.starts_on,
                ends_on=body.ends_on,
                sessions_granted=body.sessions_granted,
                decision_ref=body.decision_ref,
                created_at=self.clock(),
                created_by=principal.user_id,
            )
            await self.audit.record(
                conn,
                "period.created",
                org_id=principal.org_id,
                actor=principal,
                target_type="period",
                target_id=period_id,
                details={"caseId": str(case_id)},
                address=address,
            )
            row = await store.get_period(conn, case_id, period_id)
            assert row is not None
            return await self._period_out(conn, principal.org_id, row)

    async def update_period(
        self,
        principal: Principal,
        case_id: UUID,
        period_id: UUID,
        body: PeriodUpdate,
        address: str,
    ) -> PeriodOut:
        changes = {
            f.name: getattr(body, f.name)
            for f in msgspec.structs.fields(body)
            if getattr(body, f.name) is not msgspec.UNSET
        }
        async with self.db.transaction() as conn:
            (await self.access(conn, principal, case_id)).require("therapist")
            row = await store.get_period(conn, case_id, period_id)
            if row is None:
                raise NotFound("No such therapy period", code="period_not_found")
            _check_dates(
                changes.get("starts_on", row.starts_on), changes.get("ends_on", row.ends_on)
            )
            if changes:
                await store.update_period(conn, case_id, period_id, **changes)
                await self.audit.record(
                    conn,
                    "period.updated",
                    org_id=principal.org_id,
                    actor=principal,
                    target_type="period",
                    target_id=period_id,
                    details={"fields": sorted(changes)},
                    address=address,
                )
            row = await store.get_period(conn, case_id, period_id)
            assert row is not None
            return await self._period_out(conn, principal.org_id, row)

    async def _period_out(self, conn: AsyncConnection, org_id: UUID, row: Any) -> PeriodOut:
        used = await self.sessions_used(conn, org_id, row)
        return PeriodOut(
            id=row.id,
            case_id=row.case_id,
            payer=row.payer,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            sessions_granted=row.sessions_granted,
            sessions_used=used,
            sessions_remaining=max(row.sessions_granted - used, 0),
            decision_ref=row.decision_ref,
            created_at=row.created_at,
        )

    async def sessions_used(self, conn: AsyncConnection, org_id: UUID, row: Any) -> int:
        """Completed sessions (plus late cancellations and no-shows where the org's policy
        counts them for the period's payer) whose day falls in the period."""
        return await self.count_used(conn, org_id, period_of(row))

    async def periods(self, conn: AsyncConnection, case_id: UUID) -> list[Period]:
        """The case's therapy periods (for appointments' quota warnings)."""
        return [period_of(r) for r in await store.list_periods(conn, case_id)]

    async def members_by_role(self, conn: AsyncConnection, case_id: UUID) -> dict[UUID, str]:
        """user id -> case role of every member of the case."""
        return {r.user_id: r.role for r in await store.members(conn, case_id)}

    async def open_periods(self, conn: AsyncConnection, day: date) -> list[tuple[UUID, Period]]:
        """(org id, period) of every open case's period covering ``day`` (for reminders)."""
        return [(r.org_id, period_of(r)) for r in await store.periods_covering(conn, day)]

    async def schedule_audience(self, conn: AsyncConnection, case_id: UUID) -> dict[UUID, str]:
        """user id -> case role of the members who see the case's schedule (caregivers
        only with the ``schedule`` scope): who hears of a cancelled session."""
        return {
            r.user_id: r.role
            for r in await store.members(conn, case_id)
            if r.role != "caregiver" or "schedule" in (r.scopes or [])
        }

    async def homework_audience(self, conn: AsyncConnection, case_id: UUID) -> dict[UUID, str]:
        """user id -> case role of the members who see the case's homework (caregivers
        only with the ``homework`` scope)."""
        return {
            r.user_id: r.role
            for r in await store.members(conn, case_id)
            if r.role != "caregiver" or "homework" in (r.scopes or [])
        }


def period_of(row: Any) -> Period:
    return Period(
        id=row.id,
        case_id=row.case_id,
        payer=row.payer,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        sessions_granted=row.sessions_granted,
    )


def _check_dates(starts_on: date, ends_on: date) -> None:
    if ends_on < starts_on:
        raise InvalidInput("A period cannot end before it starts", code="period_dates_invalid")
    if ends_on > _years_after(starts_on, MAX_PERIOD_YEARS):
        raise InvalidInput("A therapy period lasts at most three years", code="period_too_long")


def _years_after(day: date, years: int) -> date:
    """The same calendar day ``years`` later (29 February becomes 28 February)."""
    if day.year + years > date.max.year:
        return date.max
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
