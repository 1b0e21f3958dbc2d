"""A therapist's caseload (``GET /cases``): each open case of theirs carries what its
family waits for of documents, the open document requests with their due dates and a
therapy period ending within 60 days without a statement shared (docs/documents.md).

Documents own those facts; app/services.py hands them in as :class:`CaseDocuments`
(app/documents/requests.py answers), so this package never imports app/documents.
Everyone else's case list is the plain one (a guardian's carries no requests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from app.cases.schemas import CaseCreate, CaseOut, OpenDocumentRequest, StatementDue
from app.cases.service import CaseService
from app.core.principal import Principal
from app.storage.engine import Database


@dataclass(frozen=True, slots=True)
class DocumentsWaiting:
    """What a case's family waits for of documents."""

    open_requests: list[OpenDocumentRequest]
    """due first"""
    statement_due: StatementDue | None


class CaseDocuments(Protocol):
    async def waiting(
        self, conn: AsyncConnection, case_ids: Sequence[UUID]
    ) -> dict[UUID, DocumentsWaiting]:
        """For each of these cases: its open requests and the first period ending soon
        without a statement (cases with neither may be left out)."""
        ...


NOTHING = DocumentsWaiting(open_requests=[], statement_due=None)


class Caseload:
    def __init__(self, db: Database, cases: CaseService, documents: CaseDocuments) -> None:
        self.db = db
        self.cases = cases
        self.documents = documents

    async def create_case(self, principal: Principal, body: CaseCreate, address: str) -> CaseOut:
        """A therapist's new case (CaseService.create_case), shaped as in their list."""
        created = await self.cases.create_case(principal, body, address)
        return (await self._with_documents([created]))[0]

    async def list_cases(self, principal: Principal) -> list[CaseOut]:
        """The caller's cases (CaseService.list_cases), a therapist's open ones with what
        their families wait for."""
        return await self._with_documents(await self.cases.list_cases(principal))

    async def get_case(self, principal: Principal, case_id: UUID) -> CaseOut:
        return (await self._with_documents([await self.cases.get_case(principal, case_id)]))[0]

    async def _with_documents(self, cases: list[CaseOut]) -> list[CaseOut]:
        mine = [c.id for c in cases if c.my_role == "therapist" and c.closed_at is None]
        if not mine:
            return cases
        async with self.db.read() as conn:
            waiting = await self.documents.waiting(conn, mine)
        out: list[CaseOut] = []
        for c in cases:
            if c.id in mine:
                w = waiting.get(c.id, NOTHING)
                c = msgspec.structs.replace(
                    c, open_document_requests=w.open_requests, statement_due=w.statement_due
                )
            out.append(c)
        return out
