"""WebSocket tickets: short-lived, single-use, stored only as a SHA-256 digest.

A ticket lets a socket authenticate on any instance without putting the session
token in a URL (DESIGN.md section 7).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from app.config import Settings
from app.core.principal import Principal
from app.core.time import Clock
from app.ratelimit import RateLimiter
from app.realtime import store
from app.realtime.schemas import TicketOut
from app.storage.engine import Database

MAX_TICKET_LENGTH = 100
TICKETS_PER_MINUTE = 30
#: the window of ``ws_oversize_strikes``
STRIKE_WINDOW = 3600

log = logging.getLogger("kaari.realtime")


def digest(ticket: str) -> bytes:
    return hashlib.sha256(ticket.encode()).digest()


class TicketService:
    def __init__(
        self, db: Database, settings: Settings, limiter: RateLimiter, clock: Clock
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.limiter = limiter

    async def issue(self, principal: Principal) -> TicketOut:
        await self.limiter.check(
            f"ws:oversize:{principal.device_id}",
            self.settings.ws_oversize_strikes,
            "This device sent too many frames over the size limit; try again later",
        )
        await self.limiter.hit(f"ws:ticket:{principal.device_id}", TICKETS_PER_MINUTE, 60)
        ticket = secrets.token_urlsafe(32)
        ttl = self.settings.ws_ticket_ttl_seconds
        async with self.db.transaction() as conn:
            await store.insert_ticket(
                conn,
                digest(ticket),
                principal.device_id,
                principal.user_id,
                self.clock() + timedelta(seconds=ttl),
            )
        return TicketOut(ticket=ticket, expires_in=ttl)

    async def strike(self, principal: Principal) -> None:
        """A frame over the size limit: counted; past ``ws_oversize_strikes`` in an hour
        the device gets no ticket until the hour is over."""
        try:
            await self.limiter.add(f"ws:oversize:{principal.device_id}", STRIKE_WINDOW, 1)
        except Exception as exc:  # the socket closes anyway
            log.warning("strike not counted", extra={"error_type": type(exc).__name__})

    async def redeem(self, ticket: str | None) -> Principal | None:
        """Use the ticket up; the device's principal if the ticket and session are valid."""
        if not ticket or len(ticket) > MAX_TICKET_LENGTH:
            return None
        async with self.db.transaction() as conn:
            row = await store.use_ticket(conn, digest(ticket), self.clock())
            if row is None:
                return None
            live = await store.live_session(conn, row.device_id, row.user_id)
        if live is None:
            return None
        device_id, user_id, org_id, role = live
        return Principal(user_id=user_id, org_id=org_id, role=role, device_id=device_id)

    async def purge(self) -> int:
        """Forget tickets that expired more than an hour ago."""
        async with self.db.transaction() as conn:
            return await store.purge_tickets(conn, self.clock() - timedelta(hours=1))
