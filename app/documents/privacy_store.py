"""The documents domain's section of the GDPR export, and its part of erasure.

Export: the documents of the user's cases and those they shared (kind, version, size,
times, the ids of the documents-room event with the title and key, and of the blob) with
each file's ciphertext (base64, as the blob store holds it), the receipts of those
documents and the user's own, and the requests of the user's cases or by them. The
events themselves are in the messaging section; the user's devices hold their keys.

Erasure of a person: their receipts go; a document they shared and a request they made
stay with the case (the family's record of what was exchanged) without naming them, and a
request loses its note. Erasure of a closed case: its documents, receipts and requests go
(the files go with the documents room's attachments: app/messaging/privacy_store.py).
"""

from __future__ import annotations

import base64
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.export import ExportSubject, Section
from app.storage.blobs import BlobStore
from app.storage.export import table_rows
from app.storage.schema_documents import document_receipts, document_requests, documents


async def export(conn: AsyncConnection, subject: ExportSubject, *, blobs: BlobStore) -> Section:
    ids, user = subject.case_ids, subject.user_id
    mine = sa.or_(documents.c.case_id.in_(ids), documents.c.shared_by == user)
    rows = await table_rows(conn, documents, mine)
    for row in rows:
        data = bytearray()
        if blobs.exists(row["blob_id"]):
            async for chunk in await blobs.open(row["blob_id"]):
                data.extend(chunk)
        row["blob"] = base64.b64encode(bytes(data)).decode()
    versions = sa.select(documents.c.id).where(mine)
    receipts = sa.or_(
        document_receipts.c.version_id.in_(versions), document_receipts.c.user_id == user
    )
    requests = sa.or_(
        document_requests.c.case_id.in_(ids), document_requests.c.requested_by == user
    )
    return {
        "documents": rows,
        "receipts": await table_rows(conn, document_receipts, receipts),
        "requests": await table_rows(conn, document_requests, requests),
    }


async def erase(conn: AsyncConnection, subject: ExportSubject, now: datetime) -> None:
    user = subject.user_id
    await conn.execute(document_receipts.delete().where(document_receipts.c.user_id == user))
    await conn.execute(
        documents.update()
        .where(documents.c.shared_by == user)
        .values(shared_by=None, shared_by_device=None)
    )
    await conn.execute(
        document_requests.update()
        .where(document_requests.c.requested_by == user)
        .values(requested_by=None, note_event_id=None)
    )


async def erase_case(conn: AsyncConnection, case_id: UUID, now: datetime) -> None:
    versions = sa.select(documents.c.id).where(documents.c.case_id == case_id)
    await conn.execute(
        document_receipts.delete().where(document_receipts.c.version_id.in_(versions))
    )
    await conn.execute(document_requests.delete().where(document_requests.c.case_id == case_id))
    await conn.execute(documents.delete().where(documents.c.case_id == case_id))
