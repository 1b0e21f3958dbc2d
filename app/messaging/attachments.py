"""Encrypted attachments: opaque blobs posted to a thread, readable by its members only.

The rooms that take them (``ATTACHMENT_KINDS``): the chat threads (``family``, ``child``)
and the case's ``homework`` and ``documents`` rooms, whose members follow the guardians'
grants (app/messaging/room_kinds.py); a documents file read is a ``documents`` read in
the family's access log, a homework picture's a ``homework`` read.

The device encrypts the file (crypto/attachments.py) and sends the key and the blob's
SHA-256 inside an end-to-end encrypted message; the server stores bytes it cannot read,
streamed to the blob store with a size limit, and deletes them with the messages
(``message_retention_days``).
"""

from __future__ import annotations

import errno
import logging
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.cases.service import ReadKind
from app.config import Settings
from app.core.errors import (
    InsufficientStorage,
    InvalidInput,
    KaariError,
    NotFound,
    RateLimited,
)
from app.core.principal import Principal
from app.core.time import Clock
from app.messaging import store
from app.messaging.room_kinds import ATTACHMENT_KINDS, DOCUMENTS, HOMEWORK, may_join
from app.messaging.schemas import AttachmentOut
from app.messaging.service import MessagingService, thread_id_of
from app.ratelimit import RateLimiter
from app.storage.blobs import BlobStore, BlobTooLarge
from app.storage.engine import Database

log = logging.getLogger("kaari.messaging")

#: Retry-After of an upload refused because the blob store's disk is full
STORAGE_FULL_RETRY_SECONDS = 300
DAY = 86_400


class PayloadTooLarge(KaariError):
    status = 413
    code = "attachment_too_large"
    title = "Attachment too large"


@dataclass(frozen=True, slots=True)
class RoomAccess:
    thread_id: UUID
    case_id: UUID
    kind: str
    new: bool
    """a room of the caller's case not used yet (its row is made with the upload)"""

    @property
    def read_kind(self) -> ReadKind:
        if self.kind == DOCUMENTS:
            return "documents"
        return "homework" if self.kind == HOMEWORK else "attachments"


def not_found() -> NotFound:
    return NotFound("No such thread", code="thread_not_found")


class AttachmentService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        blobs: BlobStore,
        messaging: MessagingService,
        limiter: RateLimiter,
        clock: Clock,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.blobs = blobs
        self.messaging = messaging
        self.limiter = limiter

    async def access(
        self, conn: AsyncConnection, principal: Principal, thread_id: UUID
    ) -> RoomAccess:
        """The caller's access to a room that takes attachments; 404 ``thread_not_found``
        for anyone outside it (a caregiver without the room's grant included)."""
        row = await store.get_thread(conn, thread_id)
        if row is None:  # a room of the caller's case not used yet
            for m in await self.messaging.cases.memberships(conn, principal):
                for kind in ATTACHMENT_KINDS:
                    if thread_id_of(m.case_id, kind) == thread_id:
                        if may_join(kind, m.role, m.scopes):
                            return RoomAccess(thread_id, m.case_id, kind, new=True)
                        raise not_found()
            raise not_found()
        try:
            membership = await self.messaging.cases.access(conn, principal, row.case_id)
        except NotFound:
            raise not_found() from None
        if row.kind not in ATTACHMENT_KINDS or not may_join(
            row.kind, membership.role, membership.scopes
        ):
            raise not_found()
        return RoomAccess(row.id, row.case_id, row.kind, new=False)

    async def upload(
        self, principal: Principal, thread_id: UUID, chunks: AsyncIterable[bytes]
    ) -> AttachmentOut:
        async with self.db.read() as conn:
            thread = await self.access(conn, principal, thread_id)
        blob_id = uuid.uuid4()
        # the device's bytes of the day: checked before, counted after (concurrent
        # uploads may overshoot by what they carry, each at most attachment_max_bytes)
        quota_key = f"quota:attachment_bytes:{principal.device_id}"
        per_day = self.settings.attachment_bytes_per_device_per_day
        left, retry_after = await self.limiter.remaining(quota_key, per_day)
        quota_detail = f"At most {per_day} attachment bytes per device and day"
        if left <= 0:
            raise RateLimited(retry_after or DAY, quota_detail)
        limit = min(self.settings.attachment_max_bytes, left)
        try:
            size, sha256 = await self.blobs.write(blob_id, chunks, limit)
        except BlobTooLarge:
            if limit < self.settings.attachment_max_bytes:
                raise RateLimited(retry_after or DAY, quota_detail) from None
            raise PayloadTooLarge(
                f"An attachment may be at most {limit} bytes", code="attachment_too_large"
            ) from None
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            # the operator must act: the blob store's disk (or quota) is full
            log.error(
                "attachment store full",
                extra={"error_type": errno.errorcode.get(exc.errno or 0, type(exc).__name__)},
            )
            raise InsufficientStorage(STORAGE_FULL_RETRY_SECONDS) from None
        if size == 0:
            await self.blobs.delete(blob_id)
            raise InvalidInput("The attachment is empty", code="attachment_empty")
        now = self.clock()
        expires = now + timedelta(days=self.settings.message_retention_days)
        try:
            async with self.db.transaction() as conn:
                thread = await self.access(conn, principal, thread.thread_id)
                if thread.new:
                    row = {"id": thread.thread_id, "case_id": thread.case_id,
                           "kind": thread.kind, "created_at": now}  # fmt: skip
                    await store.ensure_threads(conn, [row])
                await store.insert_attachment(
                    conn,
                    id=blob_id,
                    thread_id=thread.thread_id,
                    uploader_user_id=principal.user_id,
                    uploader_device_id=principal.device_id,
                    size=size,
                    sha256=sha256,
                    created_at=now,
                    expires_at=expires,
                )
        except BaseException:
            await self.blobs.delete(blob_id)
            raise
        await self.limiter.add(quota_key, DAY, size)
        log.info("attachment stored", extra={"thread_id": str(thread.thread_id), "size": size})
        return AttachmentOut(
            id=blob_id, thread_id=thread.thread_id, size=size, sha256=sha256, expires_at=expires
        )

    async def open(
        self, principal: Principal, attachment_id: UUID
    ) -> tuple[int, AsyncIterator[bytes]]:
        """(size, chunks) of a blob the caller may read; 404 for anyone outside its thread."""
        async with self.db.read() as conn:
            row = await store.get_attachment(conn, attachment_id)
            if row is None or row.expires_at <= self.clock():
                raise NotFound("No such attachment", code="attachment_not_found")
            try:
                thread = await self.access(conn, principal, row.thread_id)
            except NotFound:
                raise NotFound("No such attachment", code="attachment_not_found") from None
        await self.messaging.cases.note_read(principal, thread.case_id, thread.read_kind)
        try:
            chunks = await self.blobs.open(attachment_id)
        except FileNotFoundError:
            raise NotFound("No such attachment", code="attachment_not_found") from None
        return int(row.size), chunks
