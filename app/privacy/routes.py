"""The caller's data protection requests: ``GET /me/export`` (thin over ``ExportService``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from app.core.principal import Principal
from app.privacy.service import ExportService
from app.quotas import quota


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
