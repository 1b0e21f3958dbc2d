"""HTTP routes for therapy documents: a case's documents and requests, a document and its
versions, receipts and the doctor flag, a request's withdrawal, the therapist's caseload."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from app.core.principal import Principal
from app.documents.requests import DocumentRequests
from app.documents.schemas import (
    CaseloadDocumentsOut,
    DocumentOut,
    DocumentRoomOut,
    DocumentShare,
    GivenToDoctor,
    RequestCreate,
    RequestOut,
)
from app.documents.service import DocumentService
from app.quotas import quota

Versions = Annotated[Literal["current", "all"], QueryParameter(name="versions")]
StatusFilter = Annotated[
    Literal["open", "fulfilled", "withdrawn"] | None, QueryParameter(name="status")
]


class CaseDocumentController(Controller):
    path = "/cases/{case_id:uuid}"
    tags = ["documents"]

    @post("/documents", opt=quota("case_record_create"))
    async def share(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[DocumentShare],
        principal: NamedDependency[Principal],
        documents: NamedDependency[DocumentService],
        address: NamedDependency[str],
    ) -> Response[DocumentOut]:
        """A therapist or guardian shares a document (or a new version of one) whose file
        and encrypted event are already in the documents room: 201, or 200 for a retried id."""
        out, created = await documents.share(principal, case_id, data, address)
        return Response(out, status_code=201 if created else 200)

    @get("/documents")
    async def list_documents(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        documents: NamedDependency[DocumentService],
        versions: Versions = "current",
    ) -> list[DocumentOut]:
        """The case's documents, newest first: the current version of each, or every
        version (``versions=all``)."""
        return await documents.list_documents(principal, case_id, all_versions=versions == "all")

    @get("/documents/room")
    async def room(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        documents: NamedDependency[DocumentService],
    ) -> DocumentRoomOut:
        """The Matrix room a document's encrypted event and file go to (the case's
        documents room)."""
        return await documents.room(principal, case_id)

    @post("/document-requests", opt=quota("case_record_create"))
    async def request(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[RequestCreate],
        principal: NamedDependency[Principal],
        document_requests: NamedDependency[DocumentRequests],
        address: NamedDependency[str],
    ) -> Response[RequestOut]:
        """A guardian asks for a document by a day: 201, or 200 for a retried id."""
        out, created = await document_requests.create(principal, case_id, data, address)
        return Response(out, status_code=201 if created else 200)

    @get("/document-requests")
    async def list_requests(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        document_requests: NamedDependency[DocumentRequests],
        status: StatusFilter = None,
    ) -> list[RequestOut]:
        """The case's requests, due first."""
        return await document_requests.list_requests(principal, case_id, status)


class DocumentController(Controller):
    path = "/documents"
    tags = ["documents"]

    @get("/caseload")
    async def caseload(
        self,
        principal: NamedDependency[Principal],
        document_requests: NamedDependency[DocumentRequests],
    ) -> CaseloadDocumentsOut:
        """A therapist's open requests and the periods ending within 60 days without a
        therapy statement, across their cases."""
        return await document_requests.caseload(principal)

    @get("/{version_id:uuid}")
    async def get_version(
        self,
        version_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        documents: NamedDependency[DocumentService],
    ) -> DocumentOut:
        return await documents.get(principal, version_id)

    @get("/{document_id:uuid}/versions")
    async def versions(
        self,
        document_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        documents: NamedDependency[DocumentService],
    ) -> list[DocumentOut]:
        """Every version of the document, first first."""
        return await documents.versions(principal, document_id)

    @post("/{version_id:uuid}/opened", status_code=200)
    async def opened(
        self,
        version_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        documents: NamedDependency[DocumentService],
    ) -> DocumentOut:
        """The caller opened this version (the "opened by" receipt; the first time counts)."""
        return await documents.opened(principal, version_id)

    @put("/{document_id:uuid}/given-to-doctor")
    async def given_to_doctor(
        self,
        document_id: FromPath[UUID],
        data: JSONBody[GivenToDoctor],
        principal: NamedDependency[Principal],
        documents: NamedDependency[DocumentService],
        address: NamedDependency[str],
    ) -> DocumentOut:
        """A therapist marks the document as also given to the child's doctor (or not)."""
        return await documents.set_given_to_doctor(principal, document_id, data.given, address)


class DocumentRequestController(Controller):
    path = "/document-requests"
    tags = ["documents"]

    @delete("/{request_id:uuid}", status_code=200)
    async def withdraw(
        self,
        request_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        document_requests: NamedDependency[DocumentRequests],
        address: NamedDependency[str],
    ) -> RequestOut:
        """A guardian withdraws an open request."""
        return await document_requests.withdraw(principal, request_id, address)
