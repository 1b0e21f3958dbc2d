"""HTTP and WebSocket routes of the realtime layer: the ticket and the gateway."""

from __future__ import annotations

from typing import Any

from litestar import Controller, WebSocket, post, websocket
from litestar.di import NamedDependency

from app.core.principal import Principal
from app.realtime.schemas import TicketOut
from app.realtime.service import TicketService
from app.runtime import Runtime

PUBLIC = {"exclude_from_auth": True}


class TicketController(Controller):
    path = "/ws"
    tags = ["realtime"]

    @post("/ticket", status_code=200)
    async def ticket(
        self, principal: NamedDependency[Principal], tickets: NamedDependency[TicketService]
    ) -> TicketOut:
        """A short-lived, single-use ticket for opening this device's WebSocket at
        ``/ws?ticket=…`` (on any instance). See docs/realtime.md."""
        return await tickets.issue(principal)


@websocket("/ws", opt=PUBLIC)
async def gateway(socket: WebSocket[Any, Any, Any], runtime: NamedDependency[Runtime]) -> None:
    """The device's WebSocket; authenticated by the ticket in the query string."""
    await runtime.gateway.serve(socket)
