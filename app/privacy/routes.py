"""The caller's data protection requests: ``GET /me/export`` and ``DELETE /me`` (thin
over ``ExportService`` and ``ErasureService``)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from msgspec import Meta

from app.core.principal import Principal
from app.core.wire import Camel
from app.privacy.erasure import ErasureService
from app.privacy.service import ExportService
from app.quotas import quota


class ErasureIn(Camel):
    password: Annotated[str, Meta(min_length=1, max_length=256)]
    """the caller's current password: a stolen session alone cannot erase an account"""


class ExportController(Controller):
    path = "/me/export"
    tags = ["privacy"]

    @get(opt=quota("data_export"))
    async def export(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        export: NamedDependency[ExportService],
    ) -> Response[bytes]:
        """Everything stored about the caller, as a JSON download (docs/data-protection.md)."""
        body = await export.export(principal, request.client.host if request.client else None)
        day = export.clock().date().isoformat()
        return Response(
            body,
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="kaari-export-{day}.json"',
                "Cache-Control": "no-store",
            },
        )


class ErasureController(Controller):
    path = "/me"
    tags = ["privacy"]

    @delete(status_code=204)
    async def erase_me(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ErasureIn],
        principal: NamedDependency[Principal],
        erasure: NamedDependency[ErasureService],
    ) -> None:
        """Erase my account (guardians and caregivers; docs/data-protection.md, *Erasure*)."""
        address = request.client.host if request.client else None
        await erasure.erase_me(principal, data.password, address)


class CaseErasureController(Controller):
    path = "/org/cases"
    tags = ["privacy"]

    @delete("/{case_id:uuid}", status_code=204)
    async def erase_case(
        self,
        request: Request[Any, Any, Any],
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        erasure: NamedDependency[ErasureService],
    ) -> None:
        """An admin erases a closed case (docs/data-protection.md, *Erasing a case*)."""
        address = request.client.host if request.client else None
        await erasure.erase_case(principal, case_id, address)
