"""The sender: takes due outbox rows and sends them, with retries.

Every instance runs ``loop``. A row is claimed by moving its ``next_attempt_at`` to the
end of a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so instances never take the
same row), sent outside the transaction, then settled: delivered, retried later with
exponential backoff (429, 5xx, network errors; a push service's ``Retry-After`` is
honoured), or given up (other 4xx, too many attempts). A push service's 404/410 means
the subscription is gone: it is deleted. Push requests go through ``PushGuard.client``
(app/notifications/egress.py): an endpoint whose host now resolves to an address that is
not allowed (DNS rebinding, or a changed allow-list) is never connected to; its row is
given up and its subscription deleted. The e-mail/SMS gateway is the operator's own URL
and has a plain client. Delivery is at-least-once: a crash after the
push service accepted a message but before it was settled sends it again after the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import msgspec

from app.accounts.service import contacts
from app.config import Settings
from app.core import events as ev
from app.core.time import Clock
from app.notifications import store
from app.notifications.egress import (
    PushEndpointError,
    PushEndpointUnresolvable,
    PushGuard,
)
from app.notifications.texts import text
from app.notifications.webpush import Vapid, encrypt
from app.storage.engine import Database

log = logging.getLogger("kaari.notifications")

LEASE = timedelta(seconds=60)
BATCH = 50
CONCURRENCY = 10
MAX_DELAY_SECONDS = 3600.0
PUSH_TTL_SECONDS = 24 * 3600
SEND_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to: delivered, retry (after at least ``retry_after``), or
    given up; ``error`` is a short stable code, never a response body."""

    delivered: bool = False
    retry: bool = False
    error: str | None = None
    retry_after: float = 0.0
    subscription_gone: bool = False


def _http_outcome(response: httpx.Response, *, push: bool) -> Outcome:
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(delivered=True)
    error = f"http_{status}"
    if push and status in (404, 410):
        return Outcome(error="subscription_gone", subscription_gone=True)
    if status == 429 or status >= 500:
        after = 0.0
        try:
            after = float(response.headers.get("retry-after", "0"))
        except ValueError:
            after = 0.0
        return Outcome(retry=True, error=error, retry_after=min(max(after, 0.0), 86_400.0))
    return Outcome(error=error)


def push_payload(kind: str, ids: dict[str, str]) -> bytes:
    """The whole push message before encryption: a type and ids, no content."""
    return msgspec.json.encode({"type": kind, "ids": ids})


class Outbox:
    """The sender of this instance: leases due notices and delivers them."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        vapid: Vapid,
        clock: Clock,
        guard: PushGuard,
        http: httpx.AsyncClient | None = None,
        push_http: httpx.AsyncClient | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.vapid = vapid
        self.clock = clock
        self.guard = guard
        self.http = http  # the gateway's
        self.push_http = push_http  # the push services', through the guard
        self._kick = asyncio.Event()

    async def backlog(self) -> tuple[int, datetime | None, int]:
        """For metrics: notices waiting (or being sent), the oldest one's creation time,
        and the notices given up."""
        async with self.db.read() as conn:
            return await store.outbox_backlog(conn)

    def wake(self) -> None:
        """Look at the outbox now (rows were just committed by this instance)."""
        self._kick.set()

    async def run_once(self) -> int:
        """Send what is due now; how many rows were attempted."""
        now = self.clock()
        async with self.db.transaction() as conn:
            rows = await store.claim_due(conn, now, now + LEASE, BATCH)
        if not rows:
            return 0
        async with self.db.read() as conn:
            people = await contacts(conn, {r.user_id for r in rows})
            subs = {
                r.subscription_id: await store.get_subscription(conn, r.subscription_id)
                for r in rows
                if r.subscription_id is not None
            }
        gate = asyncio.Semaphore(CONCURRENCY)

        async def attempt(row: Any) -> Outcome:
            async with gate:
                try:
                    return await self._send(row, people.get(row.user_id), subs)
                except PushEndpointUnresolvable:
                    return Outcome(retry=True, error="unresolvable")
                except PushEndpointError:  # not allowed (any more): never connected to
                    return Outcome(error="endpoint_refused", subscription_gone=True)
                except httpx.TimeoutException:
                    return Outcome(retry=True, error="timeout")
                except httpx.HTTPError:
                    return Outcome(retry=True, error="network")

        outcomes = await asyncio.gather(*(attempt(r) for r in rows))
        settled = self.clock()
        async with self.db.transaction() as conn:
            for row, outcome in zip(rows, outcomes, strict=True):
                await self._settle(conn, row, outcome, settled)
        delivered = sum(o.delivered for o in outcomes)
        log.info(
            "notices sent",
            extra={"count": len(rows), "delivered": delivered, "failed": len(rows) - delivered},
        )
        return len(rows)

    async def _send(self, row: Any, person: Any, subs: dict[UUID, Any]) -> Outcome:
        if person is None:
            return Outcome(error="recipient_gone")
        if row.channel == "push":
            sub = subs.get(row.subscription_id) if row.subscription_id else None
            if sub is None:
                return Outcome(error="subscription_gone")
            body = encrypt(push_payload(row.kind, dict(row.ids)), sub.p256dh, sub.auth)
            urgent = row.kind == ev.APPOINTMENT_CANCELLED
            assert self.push_http is not None, "the sender needs its clients (loop() makes them)"
            response = await self.push_http.post(
                sub.endpoint,
                content=body,
                headers={
                    "authorization": self.vapid.authorization(sub.endpoint),
                    "content-encoding": "aes128gcm",
                    "content-type": "application/octet-stream",
                    "ttl": str(PUSH_TTL_SECONDS),
                    "urgency": "high" if urgent else "normal",
                },
                timeout=SEND_TIMEOUT,
            )
            return _http_outcome(response, push=True)
        if not self.settings.notify_gateway_url:
            return Outcome(error="gateway_off")
        assert self.http is not None, "the sender needs its clients (loop() makes them)"
        message = {
            "id": str(row.id),
            "channel": row.channel,
            "userId": str(row.user_id),
            "to": person.email if row.channel == "email" else None,
            "locale": person.locale,
            "text": text(row.kind, person.locale, child=person.role == "child"),
        }
        if row.kind == ev.PASSWORD_RESET:
            message["text"] = f"{message['text']} {row.ids.get('link', '')}"
        response = await self.http.post(
            self.settings.notify_gateway_url,
            content=msgspec.json.encode(message),
            headers={"content-type": "application/json", "idempotency-key": str(row.id)},
            timeout=SEND_TIMEOUT,
        )
        return _http_outcome(response, push=False)

    async def _settle(self, conn: Any, row: Any, outcome: Outcome, now: datetime) -> None:
        # a reset link is a secret: it stays in the row only while it may still be sent
        done: dict[str, Any] = {"ids": {}} if row.kind == ev.PASSWORD_RESET else {}
        if outcome.delivered:
            await store.settle(
                conn, row.id, delivered_at=now, next_attempt_at=None, last_error=None, **done
            )
            return
        if outcome.subscription_gone and row.subscription_id is not None:
            await store.delete_subscription(conn, row.subscription_id)
        attempts = row.attempts + 1
        if outcome.retry and attempts < self.settings.notify_max_attempts:
            delay = min(
                self.settings.notify_retry_base_seconds * 2 ** (attempts - 1), MAX_DELAY_SECONDS
            )
            delay *= 0.8 + 0.4 * random.random()  # noqa: S311 (jitter)
            delay = max(delay, outcome.retry_after)
            await store.settle(
                conn,
                row.id,
                next_attempt_at=now + timedelta(seconds=delay),
                last_error=outcome.error,
            )
            return
        await store.settle(
            conn,
            row.id,
            failed_at=now,
            next_attempt_at=None,
            last_error=outcome.error if not outcome.retry else "gave_up",
            **done,
        )

    async def _batch(self) -> int:
        """One ``run_once`` that a shutdown lets finish: notices handed to a push service
        or the gateway are marked sent before the instance stops, so a restart does not
        send them again (a ``kill -9`` still can: delivery is at least once)."""
        batch = asyncio.ensure_future(self.run_once())
        try:
            return await asyncio.shield(batch)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(batch, SEND_TIMEOUT + 5)
            raise

    async def loop(self) -> None:
        async with (
            httpx.AsyncClient(follow_redirects=False) as http,
            self.guard.client(SEND_TIMEOUT) as push_http,
        ):
            self.http, self.push_http = http, push_http
            while True:
                self._kick.clear()
                try:
                    while await self._batch() >= BATCH:
                        pass
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("sending notices failed", extra={"error_type": type(exc).__name__})
                # asyncio.timeout, not wait_for: on 3.11 wait_for drops a shutdown's
                # cancellation that meets a wake-up in the same turn
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.notify_poll_seconds):
                        await self._kick.wait()
