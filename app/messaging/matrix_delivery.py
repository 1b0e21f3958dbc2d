"""The Matrix sync over the WebSocket (docs/matrix-api.md, docs/realtime.md).

A device sends ``{"type": "matrix_sync", "since": <next_batch or null>}``; the server
answers with one ``{"type": "matrix_sync", "body": <the /sync body>}`` as soon as there
is something after ``since`` (at once for an initial sync), exactly what ``GET /sync``
with that ``since`` would return, so the acknowledgement rule is the same: the next
request's ``since`` acknowledges the to-device messages of this answer. One request is
outstanding per socket; a new one replaces it. The wait is woken by the bus like a
long-poll, so a connected device gets a send within the time of one round trip.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from app.core.errors import KaariError
from app.messaging.sync import SyncService
from app.realtime.connection import Connection
from app.realtime.gateway import Gateway
from app.realtime.schemas import ErrorOut, InFrame, OutFrame

log = logging.getLogger("kaari.messaging")

STATE_KEY = "matrix_sync"
WAIT_MS = 30_000


class MatrixSyncIn(InFrame, tag="matrix_sync"):
    since: str | None = None


class MatrixSyncOut(OutFrame, tag="matrix_sync"):
    body: dict[str, Any]


class MatrixSyncDelivery:
    def __init__(self, sync: SyncService) -> None:
        self.sync = sync

    def install(self, gateway: Gateway) -> None:
        gateway.on(MatrixSyncIn, self.on_request)
        gateway.on_close(self.on_close)

    async def on_request(self, conn: Connection, frame: MatrixSyncIn) -> None:
        if frame.since is not None and len(frame.since) > 100:
            raise KaariError("Bad sync token", code="invalid_token")
        previous: asyncio.Task[None] | None = conn.state.get(STATE_KEY)
        if previous is not None:
            previous.cancel()
        task = asyncio.get_running_loop().create_task(self._answer(conn, frame.since))
        conn.state[STATE_KEY] = task

    async def on_close(self, conn: Connection) -> None:
        task: asyncio.Task[None] | None = conn.state.pop(STATE_KEY, None)
        if task is not None:
            task.cancel()

    async def _answer(self, conn: Connection, since: str | None) -> None:
        try:
            while not conn.closing:
                body, empty = await self.sync.sync_once_or_wait(conn.principal, since, WAIT_MS)
                if not empty or since is None:
                    conn.push(MatrixSyncOut(body=body))
                    return
        except asyncio.CancelledError:
            raise
        except KaariError as exc:
            conn.push(ErrorOut(code=exc.code, detail=exc.detail))
        except Exception as exc:
            log.error("matrix sync push failed", extra={"error_type": type(exc).__name__})
            conn.push(ErrorOut(code="internal_error", detail="The sync could not be answered"))
