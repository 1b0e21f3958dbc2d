"""Rows to wire shapes (documents and requests)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.documents.schemas import DocumentOut, Receipt, RequestOut


def document_out(row: Any, room_id: str, opened: list[Any], me: UUID) -> DocumentOut:
    return DocumentOut(
        id=row.id,
        document_id=row.document_id,
        version=row.version,
        case_id=row.case_id,
        period_id=row.period_id,
        kind=row.kind,
        room_id=room_id,
        content_event_id=row.content_event_id,
        blob_id=row.blob_id,
        size=int(row.size),
        shared_by=row.shared_by,
        shared_at=row.shared_at,
        superseded_at=row.superseded_at,
        given_to_doctor=row.given_to_doctor_at is not None,
        given_to_doctor_at=row.given_to_doctor_at,
        opened_by=[
            Receipt(user_id=r.user_id, display_name=r.display_name, opened_at=r.opened_at)
            for r in opened
        ],
        opened_by_me=any(r.user_id == me for r in opened),
    )


def request_out(row: Any, room_id: str) -> RequestOut:
    return RequestOut(
        id=row.id,
        case_id=row.case_id,
        period_id=row.period_id,
        kind=row.kind,
        needed_by=row.needed_by,
        room_id=room_id,
        note_event_id=row.note_event_id,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        status=row.status,
        fulfilled_by=row.fulfilled_by,
        closed_at=row.closed_at,
    )


def ids(row: Any) -> dict[str, str | UUID]:
    """The ids of a document's live events and notices (docs/realtime.md)."""
    return {
        "caseId": row.case_id,
        "documentId": row.document_id,
        "versionId": row.id,
        "kind": row.kind,
    }
