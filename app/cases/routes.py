"""HTTP routes for cases, their members and therapy periods (a case's invites and
pairing codes are accounts' rules: app/accounts/routes.py)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from app.cases.access_log import AccessLog
from app.cases.caseload import Caseload
from app.cases.handover import Handover
from app.cases.schemas import (
    AccessLogPage,
    AddTherapist,
    CaseCreate,
    CaseOut,
    HandOver,
    MemberOut,
    PeriodCreate,
    PeriodOut,
    PeriodUpdate,
    ScopesUpdate,
)
from app.cases.service import CaseService
from app.core.principal import Principal
from app.core.wire import INT64_MAX
from app.quotas import quota


class CaseController(Controller):
    path = "/cases"
    tags = ["cases"]

    @post(status_code=201, opt=quota("case_create"))
    async def create(
        self,
        data: JSONBody[CaseCreate],
        principal: NamedDependency[Principal],
        caseload: NamedDependency[Caseload],
        address: NamedDependency[str],
    ) -> CaseOut:
        """A therapist opens a case for a child (the child's account is created with it)."""
        return await caseload.create_case(principal, data, address)

    @get()
    async def list_cases(
        self, principal: NamedDependency[Principal], caseload: NamedDependency[Caseload]
    ) -> list[CaseOut]:
        """My caseload (therapist: each open case with its family's open document
        requests and a period ending soon without a statement), my children's cases
        (guardian), my own (child)."""
        return await caseload.list_cases(principal)

    @get("/{case_id:uuid}")
    async def get_case(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        caseload: NamedDependency[Caseload],
    ) -> CaseOut:
        return await caseload.get_case(principal, case_id)

    @get("/{case_id:uuid}/access-log")
    async def access_log_page(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        access_log: NamedDependency[AccessLog],
        before: Annotated[int | None, QueryParameter(name="before", ge=1, le=INT64_MAX)] = None,
        limit: Annotated[int, QueryParameter(name="limit", ge=1, le=200)] = 50,
    ) -> AccessLogPage:
        """Who read or changed what kind of data of the case, and which devices joined
        its rooms, newest first (guardians and therapists; never content)."""
        return await access_log.page(principal, case_id, before, limit)

    @get("/{case_id:uuid}/members")
    async def members(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        cases: NamedDependency[CaseService],
    ) -> list[MemberOut]:
        return await cases.list_members(principal, case_id)

    @delete("/{case_id:uuid}/members/{user_id:uuid}", status_code=204)
    async def remove_member(
        self,
        case_id: FromPath[UUID],
        user_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        cases: NamedDependency[CaseService],
        address: NamedDependency[str],
    ) -> None:
        await cases.remove_member(principal, case_id, user_id, address)

    @put("/{case_id:uuid}/members/{user_id:uuid}/scopes", status_code=204)
    async def set_scopes(
        self,
        case_id: FromPath[UUID],
        user_id: FromPath[UUID],
        data: JSONBody[ScopesUpdate],
        principal: NamedDependency[Principal],
        cases: NamedDependency[CaseService],
        address: NamedDependency[str],
    ) -> None:
        """A guardian sets what a caregiver (daycare, school) may see."""
        await cases.set_scopes(principal, case_id, user_id, list(data.scopes), address)

    @post("/{case_id:uuid}/therapists", status_code=204)
    async def add_therapist(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[AddTherapist],
        principal: NamedDependency[Principal],
        cases: NamedDependency[CaseService],
        address: NamedDependency[str],
    ) -> None:
        """A therapist of the case adds a colleague (a substitute, a co-therapist)."""
        await cases.add_therapist(principal, case_id, data.user_id, address)

    @get("/{case_id:uuid}/periods")
    async def periods(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        cases: NamedDependency[CaseService],
    ) -> list[PeriodOut]:
        return await cases.list_periods(principal, case_id)

    @post("/{case_id:uuid}/periods", status_code=201, opt=quota("case_record_create"))
    async def create_period(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[PeriodCreate],
        principal: NamedDependency[Principal],
        cases: NamedDependency[CaseService],
        address: NamedDependency[str],
    ) -> PeriodOut:
        return await cases.create_period(principal, case_id, data, address)

    @get("/{case_id:uuid}/periods/{period_id:uuid}")
    async def get_period(
        self,
        case_id: FromPath[UUID],
        period_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        cases: NamedDependency[CaseService],
    ) -> PeriodOut:
        return await cases.get_period(principal, case_id, period_id)

    @patch("/{case_id:uuid}/periods/{period_id:uuid}")
    async def update_period(
        self,
        case_id: FromPath[UUID],
        period_id: FromPath[UUID],
        data: JSONBody[PeriodUpdate],
        principal: NamedDependency[Principal],
        cases: NamedDependency[CaseService],
        address: NamedDependency[str],
    ) -> PeriodOut:
        return await cases.update_period(principal, case_id, period_id, data, address)


class OrgCaseController(Controller):
    path = "/org/cases"
    tags = ["org"]

    @post("/{case_id:uuid}/hand-over", status_code=204)
    async def hand_over(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[HandOver],
        principal: NamedDependency[Principal],
        handover: NamedDependency[Handover],
        address: NamedDependency[str],
    ) -> None:
        """An admin moves a case to another therapist of the organisation (audited; the
        guardians get a notice)."""
        await handover.hand_over(principal, case_id, data, address)

    @post("/{case_id:uuid}/close", status_code=204)
    async def close(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        cases: NamedDependency[CaseService],
        address: NamedDependency[str],
    ) -> None:
        """An admin closes a case whose service has ended (audited; final). Its homework
        is deleted ``KAARI_HOMEWORK_RETENTION_DAYS`` later."""
        await cases.close_case(principal, case_id, address)
