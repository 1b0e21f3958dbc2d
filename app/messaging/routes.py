"""HTTP routes of the thread directory and attachments (docs/messaging.md); messages are
Matrix room events (matrix_routes.py)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from app.core.principal import Principal
from app.messaging.attachments import AttachmentService, PayloadTooLarge
from app.messaging.schemas import AttachmentOut, ThreadOut
from app.messaging.service import MessagingService
from app.quotas import quota


class ThreadController(Controller):
    tags = ["messaging"]

    @get("/threads")
    async def list_threads(
        self, principal: NamedDependency[Principal], messaging: NamedDependency[MessagingService]
    ) -> list[ThreadOut]:
        """The threads of every case the caller belongs to."""
        return await messaging.list_threads(principal)

    @get("/cases/{case_id:uuid}/threads")
    async def case_threads(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        messaging: NamedDependency[MessagingService],
    ) -> list[ThreadOut]:
        """The case's threads the caller belongs to (family and/or child)."""
        return await messaging.list_threads(principal, case_id)


class AttachmentController(Controller):
    tags = ["messaging"]

    @post(
        "/threads/{thread_id:uuid}/attachments",
        status_code=201,
        opt=quota("attachment_upload"),
        request_max_body_size=None,  # streamed; AttachmentService enforces its own limit
    )
    async def upload(
        self,
        thread_id: FromPath[UUID],
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        attachments: NamedDependency[AttachmentService],
    ) -> AttachmentOut:
        """An encrypted blob (the raw request body), streamed to the blob store."""
        limit = attachments.settings.attachment_max_bytes
        announced = request.headers.get("content-length")
        if announced is not None and announced.isdigit() and int(announced) > limit:
            raise PayloadTooLarge(f"An attachment may be at most {limit} bytes")
        return await attachments.upload(principal, thread_id, request.stream())

    @get("/attachments/{attachment_id:uuid}")
    async def download(
        self,
        attachment_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        attachments: NamedDependency[AttachmentService],
    ) -> Stream:
        """The encrypted blob, for members of the thread it was posted to."""
        size, chunks = await attachments.open(principal, attachment_id)
        return Stream(
            chunks,
            media_type="application/octet-stream",
            headers={"Content-Length": str(size), "Cache-Control": "no-store"},
        )
