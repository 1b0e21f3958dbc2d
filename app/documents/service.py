"""Rules of therapy documents (DESIGN.md section 4, docs/documents.md).

* A therapist or a guardian shares a document of a case: first the encrypted file (an
  attachment of the case's documents room), then the Megolm event with its title, file name,
  media type and key; the server checks both came from the calling device and keeps kind,
  size, times and ids. The version id is chosen by the device, so a retried share
  returns the first.
* A share that names ``supersedes`` is the next version of that document; the earlier
  versions stay readable and are marked superseded.
* A therapist's share answers the family's open requests: the one it names
  (``fulfilsRequestId``) or every open request of its kind (and period). They close in
  the same transaction and the family is told at once (live, and one notice per person
  and version, claimed once so no retry or restart sends it twice).
* Opening a version records a receipt per user (first time only); its sharer's devices
  hear of it live ("opened by").
* The therapist marks a document as also given to the child's doctor (a flag).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Audit
from app.cases.service import CaseService
from app.core import events as ev
from app.core.content_rooms import ContentRooms
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.events import DomainEvent
from app.core.fanout import Announcement, FanOut
from app.core.principal import Principal
from app.core.time import Clock
from app.documents import store
from app.documents.access import (
    READERS,
    ROOM,
    SHARERS,
    THERAPISTS,
    audience,
    check_event,
    membership,
)
from app.documents.schemas import DocumentOut, DocumentRoomOut, DocumentShare
from app.documents.shapes import document_out, ids
from app.storage.engine import Database


class OnceClaims(Protocol):
    """A notice decided once per (kind, target, recipient), ever (app/notifications
    answers: the reminders' claims)."""

    async def claim_once(
        self, conn: AsyncConnection, kind: str, target_id: UUID, user_id: UUID, at: datetime
    ) -> bool: ...


def not_found() -> NotFound:
    return NotFound("No such document", code="document_not_found")


class DocumentService:
    def __init__(
        self,
        db: Database,
        audit: Audit,
        cases: CaseService,
        fanout: FanOut,
        clock: Clock,
        *,
        rooms: ContentRooms,
        claims: OnceClaims,
    ) -> None:
        self.db = db
        self.audit = audit
        self.cases = cases
        self.fanout = fanout
        self.clock = clock
        self.rooms = rooms
        self.claims = claims

    async def _outs(self, conn: AsyncConnection, rows: list[Any], me: UUID) -> list[DocumentOut]:
        opened = await store.receipts(conn, [r.id for r in rows])
        return [
            document_out(r, self.rooms.content_room(r.case_id, ROOM), opened[r.id], me)
            for r in rows
        ]

    async def _version(self, conn: AsyncConnection, principal: Principal, version_id: UUID) -> Any:
        row = await store.get_version(conn, version_id)
        if row is None:
            raise not_found()
        try:
            await membership(self.cases, conn, principal, row.case_id)
        except NotFound:
            raise not_found() from None
        return row

    async def _document(
        self, conn: AsyncConnection, principal: Principal, document_id: UUID, lock: bool = False
    ) -> tuple[Any, str]:
        """(latest version, caller's role) of a document the caller sees."""
        row = await store.latest_version(conn, document_id, lock=lock)
        if row is None:
            raise not_found()
        try:
            m = await membership(self.cases, conn, principal, row.case_id)
        except NotFound:
            raise not_found() from None
        return row, m.role

    async def room(self, principal: Principal, case_id: UUID) -> DocumentRoomOut:
        """Where a case's documents go, for a member who sees them."""
        async with self.db.read() as conn:
            await membership(self.cases, conn, principal, case_id)
        return DocumentRoomOut(case_id=case_id, room_id=self.rooms.content_room(case_id, ROOM))

    # sharing

    async def share(
        self, principal: Principal, case_id: UUID, body: DocumentShare, address: str
    ) -> tuple[DocumentOut, bool]:
        """The version and whether it is new (a retry with the same id returns the first)."""
        now = self.clock()
        announcement = self.fanout.begin(principal.device_id)
        async with self.db.transaction() as conn:
            m = await membership(self.cases, conn, principal, case_id)
            first = await store.get_version(conn, body.id)
            if first is not None:
                if first.case_id != case_id or first.shared_by != principal.user_id:
                    raise Conflict("This document id is taken: make a new one",
                                   code="document_id_taken")  # fmt: skip
                return (await self._outs(conn, [first], principal.user_id))[0], False
            if m.role not in SHARERS:
                raise Forbidden(f"A {m.role} of this case cannot share documents",
                                code="documents_forbidden")  # fmt: skip
            m.require_open()
            await check_event(
                self.rooms, conn, principal, case_id, body.content_event_id, "document's content"
            )
            size = await self.rooms.keep_file(
                conn, case_id, ROOM, body.blob_id, principal.device_id
            )
            if size is None:
                raise InvalidInput(
                    "The file must be an attachment this device uploaded to the case's "
                    "documents room",
                    code="document_file_invalid",
                )
            if body.period_id is not None:
                periods = {p.id for p in await self.cases.periods(conn, case_id)}
                if body.period_id not in periods:
                    raise InvalidInput("No such therapy period in this case",
                                       code="period_not_found")  # fmt: skip
            document_id, version = body.id, 1
            if body.supersedes is not None:
                previous = await store.latest_version(conn, body.supersedes, lock=True)
                if previous is None or previous.case_id != case_id:
                    raise InvalidInput("supersedes names no document of this case",
                                       code="document_not_found")  # fmt: skip
                if previous.kind != body.kind:
                    raise InvalidInput("A new version keeps the document's kind",
                                       code="document_kind_changed")  # fmt: skip
                document_id, version = previous.document_id, previous.version + 1
                await store.supersede(conn, previous.id, now)
            requests = await self._requests_answered(conn, m.role, case_id, body)
            inserted = await store.insert_version(
                conn,
                id=body.id,
                document_id=document_id,
                version=version,
                case_id=case_id,
                period_id=body.period_id,
                kind=body.kind,
                content_event_id=body.content_event_id,
                blob_id=body.blob_id,
                size=size,
                shared_by=principal.user_id,
                shared_by_device=principal.device_id,
                shared_at=now,
                given_to_doctor_at=None,
            )
            if not inserted:
                if await store.get_version(conn, body.id) is None:  # the version number
                    raise Conflict(
                        "Another version of this document was shared at the same time: try again",
                        code="document_version_conflict",
                    )
                raise Conflict("This document id is taken: make a new one",
                               code="document_id_taken")  # fmt: skip
            row = await store.get_version(conn, body.id)
            assert row is not None
            await self.audit.record(
                conn, "document.shared", org_id=principal.org_id, actor=principal,
                target_type="document", target_id=document_id,
                details={"caseId": str(case_id), "kind": body.kind, "version": version},
                address=address,
            )  # fmt: skip
            closed = [r for r in requests if await store.close_request(conn, r, "fulfilled",
                                                                       now, body.id)]  # fmt: skip
            await self._announce(conn, announcement, principal, row, closed, now)
            out = (await self._outs(conn, [row], principal.user_id))[0]
        await announcement.send()
        return out, True

    async def _requests_answered(
        self, conn: AsyncConnection, role: str, case_id: UUID, body: DocumentShare
    ) -> list[UUID]:
        if role != "therapist":
            if body.fulfils_request_id is not None:
                raise Forbidden("Only a therapist answers a family's request",
                                code="documents_forbidden")  # fmt: skip
            return []
        if body.fulfils_request_id is None:
            rows = await store.open_requests_for(conn, case_id, body.kind, body.period_id)
            return [r.id for r in rows]
        request = await store.get_request(conn, body.fulfils_request_id, lock=True)
        if request is None or request.case_id != case_id:
            raise InvalidInput("fulfilsRequestId names no request of this case",
                               code="request_not_found")  # fmt: skip
        if request.status != "open":
            raise Conflict("The request is closed already", code="request_closed")
        if request.kind != body.kind:
            raise InvalidInput("The document is not of the kind the family asked for",
                               code="request_kind_mismatch")  # fmt: skip
        return [request.id]

    async def _announce(
        self,
        conn: AsyncConnection,
        announcement: Announcement,
        principal: Principal,
        row: Any,
        closed: list[UUID],
        now: datetime,
    ) -> None:
        case_id = row.case_id
        readers = await audience(self.cases, conn, case_id, READERS)
        others = [u for u in readers if u != principal.user_id]
        if closed:
            kind = ev.DOCUMENT_REQUEST_CLOSED
            target: dict[str, str | UUID] = {"caseId": case_id, "status": "fulfilled",
                                             "versionId": row.id}  # fmt: skip
            for request_id in closed:
                live = {**target, "requestId": request_id}
                await announcement.live(conn, readers, ev.DOCUMENT_REQUEST_CLOSED, live)
            notice_ids = {**target, "requestId": closed[0]}
        else:
            kind, notice_ids = ev.DOCUMENT_SHARED, ids(row)
        await announcement.live(conn, readers, ev.DOCUMENT_SHARED, ids(row))
        fresh = [u for u in others if await self.claims.claim_once(conn, kind, row.id, u, now)]
        await announcement.notice(conn, DomainEvent(kind, notice_ids, fresh, case_id=case_id))

    # reading

    async def list_documents(
        self, principal: Principal, case_id: UUID, *, all_versions: bool = False
    ) -> list[DocumentOut]:
        async with self.db.read() as conn:
            await membership(self.cases, conn, principal, case_id)
            rows = await store.current_of_case(conn, case_id)
            if all_versions:
                rows = [v for r in rows for v in await store.versions(conn, r.document_id)]
            out = await self._outs(conn, rows, principal.user_id)
        await self.cases.note_read(principal, case_id, "documents")
        return out

    async def versions(self, principal: Principal, document_id: UUID) -> list[DocumentOut]:
        async with self.db.read() as conn:
            latest, _ = await self._document(conn, principal, document_id)
            rows = await store.versions(conn, latest.document_id)
            out = await self._outs(conn, rows, principal.user_id)
        await self.cases.note_read(principal, latest.case_id, "documents")
        return out

    async def get(self, principal: Principal, version_id: UUID) -> DocumentOut:
        async with self.db.read() as conn:
            row = await self._version(conn, principal, version_id)
            out = (await self._outs(conn, [row], principal.user_id))[0]
        await self.cases.note_read(principal, row.case_id, "documents")
        return out

    async def opened(self, principal: Principal, version_id: UUID) -> DocumentOut:
        """The caller opened (downloaded and decrypted) this version: a receipt, the first
        time, and the sharer's devices hear of it."""
        announcement = self.fanout.begin(principal.device_id)
        async with self.db.transaction() as conn:
            row = await self._version(conn, principal, version_id)
            if await store.add_receipt(conn, row.id, principal.user_id, self.clock()):
                to = [row.shared_by] if row.shared_by is not None else []
                to += await audience(self.cases, conn, row.case_id, THERAPISTS)
                live = {**ids(row), "userId": principal.user_id}
                await announcement.live(conn, to, ev.DOCUMENT_OPENED, live)
            out = (await self._outs(conn, [row], principal.user_id))[0]
        await announcement.send()
        await self.cases.note_read(principal, row.case_id, "documents")
        return out

    async def set_given_to_doctor(
        self, principal: Principal, document_id: UUID, given: bool, address: str
    ) -> DocumentOut:
        now = self.clock()
        announcement = self.fanout.begin(principal.device_id)
        async with self.db.transaction() as conn:
            latest, role = await self._document(conn, principal, document_id, lock=True)
            if role != "therapist":
                raise Forbidden("Only a therapist marks a document as given to the doctor",
                                code="documents_forbidden")  # fmt: skip
            if (latest.given_to_doctor_at is not None) != given:
                await store.set_given(conn, latest.document_id, now if given else None)
                await self.audit.record(
                    conn, "document.given_to_doctor", org_id=principal.org_id, actor=principal,
                    target_type="document", target_id=latest.document_id,
                    details={"caseId": str(latest.case_id), "given": given}, address=address,
                )  # fmt: skip
                readers = await audience(self.cases, conn, latest.case_id, READERS)
                await announcement.live(conn, readers, ev.DOCUMENT_CHANGED, ids(latest))
            row = await store.get_version(conn, latest.id)
            out = (await self._outs(conn, [row], principal.user_id))[0]
        await announcement.send()
        return out
