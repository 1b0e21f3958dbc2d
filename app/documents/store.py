"""SQL for therapy documents, their receipts and the families' requests."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.storage.schema import users
from app.storage.schema_documents import document_receipts, document_requests, documents

Row = sa.Row[*tuple[Any, ...]]


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


# documents


async def insert_version(conn: AsyncConnection, **values: Any) -> bool:
    """Insert unless the id exists; whether it was inserted (a retried share)."""
    query = _insert(conn, documents).values(**values).on_conflict_do_nothing()
    return bool((await conn.execute(query)).rowcount)


async def get_version(conn: AsyncConnection, version_id: UUID) -> Row | None:
    return (await conn.execute(sa.select(documents).where(documents.c.id == version_id))).first()


async def latest_version(
    conn: AsyncConnection, document_id: UUID, *, lock: bool = False
) -> Row | None:
    query = (
        sa.select(documents)
        .where(documents.c.document_id == document_id)
        .order_by(documents.c.version.desc())
        .limit(1)
    )
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def supersede(conn: AsyncConnection, version_id: UUID, at: datetime) -> None:
    query = documents.update().where(documents.c.id == version_id)
    await conn.execute(query.values(superseded_at=at))


async def versions(conn: AsyncConnection, document_id: UUID) -> list[Row]:
    query = (
        sa.select(documents)
        .where(documents.c.document_id == document_id)
        .order_by(documents.c.version)
    )
    return list((await conn.execute(query)).all())


async def current_of_case(conn: AsyncConnection, case_id: UUID) -> list[Row]:
    """The latest version of each document of the case, newest first."""
    query = (
        sa.select(documents)
        .where(documents.c.case_id == case_id, documents.c.superseded_at.is_(None))
        .order_by(documents.c.shared_at.desc(), documents.c.id)
    )
    return list((await conn.execute(query)).all())


async def set_given(conn: AsyncConnection, document_id: UUID, at: datetime | None) -> None:
    """The flag is the document's: every version carries it."""
    query = documents.update().where(documents.c.document_id == document_id)
    await conn.execute(query.values(given_to_doctor_at=at))


async def statement_periods(conn: AsyncConnection, case_ids: Collection[UUID]) -> set[UUID]:
    """The periods of these cases with a therapy statement shared for them."""
    if not case_ids:
        return set()
    query = sa.select(documents.c.period_id).where(
        documents.c.case_id.in_(list(case_ids)),
        documents.c.kind == "therapy_statement",
        documents.c.period_id.is_not(None),
    )
    return set((await conn.execute(query)).scalars().all())


# receipts


async def add_receipt(conn: AsyncConnection, version_id: UUID, user_id: UUID, at: datetime) -> bool:
    """The first opening counts; whether this was it."""
    query = (
        _insert(conn, document_receipts)
        .values(version_id=version_id, user_id=user_id, opened_at=at)
        .on_conflict_do_nothing()
    )
    return bool((await conn.execute(query)).rowcount)


async def receipts(conn: AsyncConnection, version_ids: Collection[UUID]) -> dict[UUID, list[Row]]:
    """version id -> (user_id, display_name, opened_at) rows, first opened first."""
    out: dict[UUID, list[Row]] = {v: [] for v in version_ids}
    if not version_ids:
        return out
    query = (
        sa.select(
            document_receipts.c.version_id,
            document_receipts.c.user_id,
            users.c.display_name,
            document_receipts.c.opened_at,
        )
        .join(users, users.c.id == document_receipts.c.user_id)
        .where(document_receipts.c.version_id.in_(list(version_ids)))
        .order_by(document_receipts.c.opened_at, document_receipts.c.user_id)
    )
    for row in (await conn.execute(query)).all():
        out[row.version_id].append(row)
    return out


# requests


async def insert_request(conn: AsyncConnection, **values: Any) -> bool:
    query = _insert(conn, document_requests).values(**values).on_conflict_do_nothing()
    return bool((await conn.execute(query)).rowcount)


async def get_request(conn: AsyncConnection, request_id: UUID, *, lock: bool = False) -> Row | None:
    query = sa.select(document_requests).where(document_requests.c.id == request_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def requests_of_cases(
    conn: AsyncConnection, case_ids: Collection[UUID], status: str | None = None
) -> list[Row]:
    """Due first, then the oldest request first."""
    if not case_ids:
        return []
    query = sa.select(document_requests).where(document_requests.c.case_id.in_(list(case_ids)))
    if status is not None:
        query = query.where(document_requests.c.status == status)
    query = query.order_by(
        document_requests.c.needed_by, document_requests.c.requested_at, document_requests.c.id
    )
    return list((await conn.execute(query)).all())


async def open_requests_for(
    conn: AsyncConnection, case_id: UUID, kind: str, period_id: UUID | None
) -> list[Row]:
    """The case's open requests a document of ``kind`` (for ``period_id``) answers: those
    of the kind naming that period or none."""
    query = sa.select(document_requests).where(
        document_requests.c.case_id == case_id,
        document_requests.c.kind == kind,
        document_requests.c.status == "open",
    )
    if period_id is not None:
        query = query.where(
            sa.or_(
                document_requests.c.period_id.is_(None),
                document_requests.c.period_id == period_id,
            )
        )
    return list((await conn.execute(query.order_by(document_requests.c.id))).all())


async def close_request(
    conn: AsyncConnection, request_id: UUID, status: str, at: datetime, by: UUID | None
) -> bool:
    """Close an open request; whether it was open (two closings race)."""
    query = (
        document_requests.update()
        .where(document_requests.c.id == request_id, document_requests.c.status == "open")
        .values(status=status, closed_at=at, fulfilled_by=by)
    )
    return bool((await conn.execute(query)).rowcount)


async def requests_due(conn: AsyncConnection, by: date) -> list[Row]:
    """Open requests needed on or before ``by`` (the therapists' reminder)."""
    query = (
        sa.select(document_requests)
        .where(document_requests.c.status == "open", document_requests.c.needed_by <= by)
        .order_by(document_requests.c.needed_by, document_requests.c.id)
    )
    return list((await conn.execute(query)).all())


# retention


async def delete_expired_versions(conn: AsyncConnection, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` versions shared at or before ``before`` (their event and file
    have expired with the documents room's history), with their receipts; a request they
    answered keeps its status without the pointer. How many were deleted."""
    query = sa.select(documents.c.id).where(documents.c.shared_at <= before).limit(limit)
    ids = list((await conn.execute(query)).scalars().all())
    if not ids:
        return 0
    await conn.execute(document_receipts.delete().where(document_receipts.c.version_id.in_(ids)))
    await conn.execute(
        document_requests.update()
        .where(document_requests.c.fulfilled_by.in_(ids))
        .values(fulfilled_by=None)
    )
    result = await conn.execute(documents.delete().where(documents.c.id.in_(ids)))
    return int(result.rowcount or 0)


async def delete_old_requests(conn: AsyncConnection, before: datetime, limit: int) -> int:
    query = (
        sa.select(document_requests.c.id)
        .where(document_requests.c.requested_at <= before)
        .limit(limit)
    )
    ids = list((await conn.execute(query)).scalars().all())
    if not ids:
        return 0
    result = await conn.execute(document_requests.delete().where(document_requests.c.id.in_(ids)))
    return int(result.rowcount or 0)
