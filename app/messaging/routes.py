"""HTTP routes of messaging (docs/messaging.md); the WebSocket side is delivery.py."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream

from app.core.principal import Principal
from app.core.wire import INT64_MAX
from app.messaging.attachments import AttachmentService, PayloadTooLarge
from app.messaging.schemas import (
    AckRequest,
    AckResult,
    AttachmentOut,
    DeliveriesOut,
    MailboxPage,
    SendRequest,
    SendResult,
    ThreadDevices,
    ThreadOut,
)
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

    @get("/threads/{thread_id:uuid}/devices")
    async def devices(
        self,
        thread_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        messaging: NamedDependency[MessagingService],
    ) -> ThreadDevices:
        """The devices a message to this thread must be encrypted for."""
        return await messaging.thread_devices(principal, thread_id)

    @post("/threads/{thread_id:uuid}/messages", status_code=201, opt=quota("message_send"))
    async def send(
        self,
        thread_id: FromPath[UUID],
        data: JSONBody[SendRequest],
        principal: NamedDependency[Principal],
        messaging: NamedDependency[MessagingService],
    ) -> Response[SendResult]:
        """One message: a ciphertext per recipient device. 201 when stored, 200 when this
        client message id was already stored (the first result)."""
        result, created = await messaging.send(principal, thread_id, data)
        return Response(result, status_code=201 if created else 200)

    @get("/messages/{envelope_id:uuid}/deliveries")
    async def deliveries(
        self,
        envelope_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        messaging: NamedDependency[MessagingService],
    ) -> DeliveriesOut:
        """Which recipient devices have received the caller's message."""
        return await messaging.deliveries(principal, envelope_id)


class MailboxController(Controller):
    path = "/mailbox"
    tags = ["messaging"]

    @get()
    async def fetch(
        self,
        principal: NamedDependency[Principal],
        messaging: NamedDependency[MessagingService],
        after: Annotated[int, QueryParameter(name="after", ge=0, le=INT64_MAX)] = 0,
        limit: Annotated[int, QueryParameter(name="limit", ge=1, le=200)] = 100,
    ) -> MailboxPage:
        """The calling device's mailbox rows after a sequence number, oldest first."""
        return await messaging.fetch(principal, after, limit)

    @post("/ack", status_code=200)
    async def ack(
        self,
        data: JSONBody[AckRequest],
        principal: NamedDependency[Principal],
        messaging: NamedDependency[MessagingService],
    ) -> AckResult:
        """Rows up to ``upToSeq`` are stored on the device: delete them."""
        return await messaging.acknowledge(principal, data.up_to_seq)


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
