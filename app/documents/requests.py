"""A family's requests for documents, and the therapist's view across the caseload
(docs/documents.md).

* A guardian asks for a document of a kind by a day (``neededBy``), optionally for a
  therapy period and with an encrypted note (an event of the documents room from the
  calling device). The therapists hear of it live and by notice. The id is chosen by the
  device, so a retried request returns the first.
* The renewal: the 60-days-before-the-period-ends notice carries the period's id and
  ``requestKind: therapy_statement``, so ``POST /cases/{id}/document-requests`` with
  ``{kind: "therapy_statement", periodId}`` is the one step it offers.
* A request closes when a therapist shares a document that answers it
  (app/documents/service.py) or when a guardian withdraws it.
* ``caseload``: a therapist's open requests, due first, and the periods of their cases
  ending within 60 days with no therapy statement shared for them; ``waiting`` gives the
  same per case, for the therapist's ``GET /cases`` (app/cases/caseload.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Audit
from app.cases.caseload import DocumentsWaiting
from app.cases.schemas import OpenDocumentRequest, StatementDue
from app.cases.service import CaseService
from app.core import events as ev
from app.core.content_rooms import ContentRooms
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.events import DomainEvent
from app.core.fanout import FanOut
from app.core.principal import Principal
from app.core.time import Clock, local_date
from app.documents import store
from app.documents.access import (
    READERS,
    ROOM,
    THERAPISTS,
    audience,
    check_event,
    membership,
)
from app.documents.schemas import (
    CaseloadDocumentsOut,
    PeriodWithoutStatement,
    RequestCreate,
    RequestOut,
)
from app.documents.shapes import request_out
from app.storage.engine import Database

#: a request is for a day at most this far ahead (a therapy period's longest)
LONGEST_AHEAD_DAYS = 3 * 366
#: the caseload shows periods ending this soon without a statement (the renewal reminder's)
RENEWAL_DAYS = 60


def not_found() -> NotFound:
    return NotFound("No such request", code="request_not_found")


class DocumentRequests:
    def __init__(
        self,
        db: Database,
        audit: Audit,
        cases: CaseService,
        fanout: FanOut,
        clock: Clock,
        *,
        rooms: ContentRooms,
    ) -> None:
        self.db = db
        self.audit = audit
        self.cases = cases
        self.fanout = fanout
        self.clock = clock
        self.rooms = rooms

    def _out(self, row: Any) -> RequestOut:
        return request_out(row, self.rooms.content_room(row.case_id, ROOM))

    async def create(
        self, principal: Principal, case_id: UUID, body: RequestCreate, address: str
    ) -> tuple[RequestOut, bool]:
        now = self.clock()
        today = local_date(now)
        if body.needed_by < today:
            raise InvalidInput("neededBy is in the past", code="needed_by_past")
        if body.needed_by > today + timedelta(days=LONGEST_AHEAD_DAYS):
            raise InvalidInput("neededBy is at most three years ahead", code="needed_by_too_far")
        announcement = self.fanout.begin(principal.device_id)
        async with self.db.transaction() as conn:
            m = await membership(self.cases, conn, principal, case_id)
            first = await store.get_request(conn, body.id)
            if first is not None:
                if first.case_id != case_id or first.requested_by != principal.user_id:
                    raise Conflict("This request id is taken: make a new one",
                                   code="request_id_taken")  # fmt: skip
                return self._out(first), False
            if m.role != "guardian":
                raise Forbidden("Only a guardian asks for a document", code="documents_forbidden")
            m.require_open()
            if body.note_event_id is not None:
                await check_event(
                    self.rooms, conn, principal, case_id, body.note_event_id, "request's note"
                )
            if body.period_id is not None:
                periods = {p.id for p in await self.cases.periods(conn, case_id)}
                if body.period_id not in periods:
                    raise InvalidInput("No such therapy period in this case",
                                       code="period_not_found")  # fmt: skip
            inserted = await store.insert_request(
                conn,
                id=body.id,
                case_id=case_id,
                period_id=body.period_id,
                kind=body.kind,
                needed_by=body.needed_by,
                note_event_id=body.note_event_id,
                requested_by=principal.user_id,
                requested_at=now,
                status="open",
            )
            if not inserted:
                raise Conflict("This request id is taken: make a new one",
                               code="request_id_taken")  # fmt: skip
            row = await store.get_request(conn, body.id)
            assert row is not None
            await self.audit.record(
                conn, "document.requested", org_id=principal.org_id, actor=principal,
                target_type="document_request", target_id=body.id,
                details={"caseId": str(case_id), "kind": body.kind}, address=address,
            )  # fmt: skip
            therapists = await audience(self.cases, conn, case_id, THERAPISTS)
            readers = await audience(self.cases, conn, case_id, READERS)
            live: dict[str, str | UUID] = {"caseId": case_id, "requestId": body.id,
                                           "kind": body.kind}  # fmt: skip
            await announcement.notice(
                conn, DomainEvent(ev.DOCUMENT_REQUESTED, live, therapists, case_id=case_id)
            )
            await announcement.live(conn, readers, ev.DOCUMENT_REQUESTED, live)
        await announcement.send()
        return self._out(row), True

    async def list_requests(
        self, principal: Principal, case_id: UUID, status: str | None
    ) -> list[RequestOut]:
        async with self.db.read() as conn:
            await membership(self.cases, conn, principal, case_id)
            rows = await store.requests_of_cases(conn, [case_id], status)
        await self.cases.note_read(principal, case_id, "documents")
        return [self._out(r) for r in rows]

    async def withdraw(self, principal: Principal, request_id: UUID, address: str) -> RequestOut:
        now = self.clock()
        announcement = self.fanout.begin(principal.device_id)
        async with self.db.transaction() as conn:
            row = await store.get_request(conn, request_id, lock=True)
            if row is None:
                raise not_found()
            try:
                m = await membership(self.cases, conn, principal, row.case_id)
            except NotFound:
                raise not_found() from None
            if m.role != "guardian":
                raise Forbidden("Only a guardian withdraws a request", code="documents_forbidden")
            if row.status == "withdrawn":
                return self._out(row)  # a retried withdrawal
            if not await store.close_request(conn, request_id, "withdrawn", now, None):
                raise Conflict("The request is closed already", code="request_closed")
            await self.audit.record(
                conn, "document.request_withdrawn", org_id=principal.org_id, actor=principal,
                target_type="document_request", target_id=request_id,
                details={"caseId": str(row.case_id)}, address=address,
            )  # fmt: skip
            readers = await audience(self.cases, conn, row.case_id, READERS)
            live = {"caseId": row.case_id, "requestId": request_id, "status": "withdrawn"}
            await announcement.live(conn, readers, ev.DOCUMENT_REQUEST_CLOSED, live)
            fresh = await store.get_request(conn, request_id)
        await announcement.send()
        return self._out(fresh)

    async def _statements_due(
        self, conn: AsyncConnection, case_ids: Sequence[UUID], requests: Sequence[Any]
    ) -> list[tuple[UUID, Any, UUID | None]]:
        """(case id, period, the family's open request for its statement) of the periods
        of these cases ending within ``RENEWAL_DAYS`` with no therapy statement shared for
        them, soonest first."""
        today = local_date(self.clock())
        with_statement = await store.statement_periods(conn, list(case_ids))
        due: list[tuple[UUID, Any, UUID | None]] = []
        for case_id in case_ids:
            for p in await self.cases.periods(conn, case_id):
                soon = today <= p.ends_on <= today + timedelta(days=RENEWAL_DAYS)
                if not soon or p.id in with_statement:
                    continue
                asked = [r.id for r in requests if r.case_id == case_id
                         and r.kind == "therapy_statement"
                         and r.period_id in (None, p.id)]  # fmt: skip
                due.append((case_id, p, asked[0] if asked else None))
        due.sort(key=lambda d: (d[1].ends_on, str(d[0])))
        return due

    async def waiting(
        self, conn: AsyncConnection, case_ids: Sequence[UUID]
    ) -> dict[UUID, DocumentsWaiting]:
        """What each case's family waits for (app/cases/caseload.py asks, for a
        therapist's ``GET /cases``): open requests due first, and the first period
        ending soon without a statement."""
        requests = await store.requests_of_cases(conn, list(case_ids), "open")
        opened: dict[UUID, list[OpenDocumentRequest]] = {}
        for r in requests:
            opened.setdefault(r.case_id, []).append(
                OpenDocumentRequest(id=r.id, kind=r.kind, needed_by=r.needed_by)
            )
        first: dict[UUID, StatementDue] = {}
        for case_id, p, asked in await self._statements_due(conn, case_ids, requests):
            first.setdefault(
                case_id, StatementDue(period_id=p.id, ends_on=p.ends_on, open_request_id=asked)
            )
        return {
            case_id: DocumentsWaiting(opened.get(case_id, []), first.get(case_id))
            for case_id in {*opened, *first}
        }

    async def caseload(self, principal: Principal) -> CaseloadDocumentsOut:
        """A therapist's open requests and periods ending without a statement across
        their open cases (``GET /documents/caseload``; the same facts as ``waiting``)."""
        if principal.role != "therapist":
            raise Forbidden("The caseload is a therapist's", code="documents_forbidden")
        today = local_date(self.clock())
        async with self.db.read() as conn:
            mine = {m.case_id: m for m in await self.cases.memberships(conn, principal)
                    if m.role == "therapist" and m.closed_at is None}  # fmt: skip
            requests = await store.requests_of_cases(conn, list(mine), "open")
            due = await self._statements_due(conn, list(mine), requests)
        ending = [
            PeriodWithoutStatement(
                case_id=case_id, child_name=mine[case_id].child_name, period_id=p.id,
                ends_on=p.ends_on, open_request_id=asked,
            )
            for case_id, p, asked in due
        ]  # fmt: skip
        return CaseloadDocumentsOut(
            today=today,
            open_requests=[self._out(r) for r in requests],
            periods_without_statement=ending,
        )
