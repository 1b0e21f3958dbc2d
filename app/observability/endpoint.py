"""``GET /metrics`` (Prometheus text format) and the middleware that counts requests.

In production ``/metrics`` answers only with ``Authorization: Bearer
$KAARI_METRICS_TOKEN``: 404 while no token is configured (the endpoint is off), 401
for a missing or wrong token. In development it is open unless a token is set.

Gauges that need the database (the outbox backlog, the mailbox depth) are sampled: at
most once per ``SAMPLE_SECONDS`` per instance, whatever the scrape rate.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.types import ASGIApp, Receive, Scope, Send
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from app.logs import observe_http
from app.observability import counters
from app.runtime import Runtime
from app.services import Services

log = logging.getLogger("kaari.metrics")

SAMPLE_SECONDS = 10.0
#: the classic text format (what ``generate_latest`` writes for these ASCII names);
#: every Prometheus since 2.0 reads it (litestar adds the charset)
CONTENT_TYPE = "text/plain; version=0.0.4"
PUBLIC = {"exclude_from_auth": True}


class MetricsMiddleware:
    """Counts every HTTP request by method, route template and status, with its time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        def done(status: int, seconds: float) -> None:
            method = str(scope.get("method", ""))
            route = scope.get("path_template") or "unmatched"  # never the path as requested
            counters.http_request(method, route, status, seconds)

        await observe_http(self.app, scope, receive, send, done)


@dataclass
class Sample:
    taken: float
    outbox_pending: int
    outbox_oldest_age: float
    outbox_failed: int
    mailbox_rows: int
    ok: bool


class _Sampled(Collector):
    """The gauges of one scrape: this instance's sockets and the sampled backlogs."""

    def __init__(self, websockets: int, sample: Sample) -> None:
        self.websockets = websockets
        self.sample = sample

    def collect(self) -> Iterator[Metric]:
        s = self.sample
        yield GaugeMetricFamily(
            "kaari_websocket_connections",
            "Open device WebSockets on this instance",
            value=self.websockets,
        )
        yield GaugeMetricFamily(
            "kaari_outbox_pending",
            "Notices (push, e-mail, SMS) waiting to be sent, on every instance",
            value=s.outbox_pending,
        )
        yield GaugeMetricFamily(
            "kaari_outbox_oldest_pending_age_seconds",
            "Age of the oldest notice still waiting to be sent (0 when none waits)",
            value=s.outbox_oldest_age,
        )
        yield GaugeMetricFamily(
            "kaari_outbox_failed",
            "Notices given up (too many attempts or refused for good)",
            value=s.outbox_failed,
        )
        yield GaugeMetricFamily(
            "kaari_mailbox_pending_rows",
            "To-device messages waiting in device mailboxes, on every instance",
            value=s.mailbox_rows,
        )
        yield GaugeMetricFamily(
            "kaari_metrics_sample_ok",
            "1 when the last sample of the database gauges succeeded",
            value=1 if s.ok else 0,
        )
        yield GaugeMetricFamily(
            "kaari_metrics_sample_age_seconds",
            "How old the sampled database gauges are",
            value=max(0.0, time.monotonic() - s.taken),
        )


class Sampler:
    """Takes the database gauges at most once per ``SAMPLE_SECONDS`` (one query each)."""

    def __init__(self) -> None:
        self._last: Sample | None = None
        self._lock = asyncio.Lock()

    async def sample(self, services: Services) -> Sample:
        async with self._lock:
            last = self._last
            if last is not None and time.monotonic() - last.taken < SAMPLE_SECONDS:
                return last
            try:
                async with asyncio.timeout(5):
                    pending, oldest, failed = await services.outbox.backlog()
                    rows = await services.messaging.mailbox_depth()
                age = max(0.0, (services.clock() - oldest).total_seconds()) if oldest else 0.0
                self._last = Sample(time.monotonic(), pending, age, failed, rows, ok=True)
            except Exception as exc:  # a scrape must answer even when the database does not
                log.warning("metrics sample failed", extra={"error_type": type(exc).__name__})
                stale = last or Sample(0.0, 0, 0.0, 0, 0, ok=False)
                self._last = Sample(
                    time.monotonic(),
                    stale.outbox_pending,
                    stale.outbox_oldest_age,
                    stale.outbox_failed,
                    stale.mailbox_rows,
                    ok=False,
                )
            return self._last


def _authorised(token: str, header: str | None) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@get("/metrics", opt=PUBLIC, tags=["operations"], include_in_schema=False)
async def metrics(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    services: NamedDependency[Services],
) -> Response[bytes]:
    """Prometheus text format; behind ``KAARI_METRICS_TOKEN`` in production."""
    token = runtime.settings.metrics_token
    if runtime.settings.is_production and not token:
        raise NotFoundException()  # the same answer as any unknown path
    if token and not _authorised(token, request.headers.get("authorization")):
        raise NotAuthorizedException(headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    sampler: Sampler | None = getattr(request.app.state, "metrics_sampler", None)
    if sampler is None:
        sampler = request.app.state.metrics_sampler = Sampler()
    sample = await sampler.sample(services)
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_Sampled(runtime.gateway.connection_count, sample))
    body = generate_latest(counters.REGISTRY) + generate_latest(scrape)
    return Response(body, media_type=CONTENT_TYPE)
