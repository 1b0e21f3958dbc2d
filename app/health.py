"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
import logging

from litestar import Response, get
from litestar.di import NamedDependency

from app.runtime import Runtime

log = logging.getLogger("kaari.health")
PUBLIC = {"exclude_from_auth": True}


@get("/health", opt=PUBLIC, tags=["operations"], sync_to_thread=False)
def health() -> dict[str, str]:
    """The process is alive and its event loop answers."""
    return {"status": "ok"}


@get("/ready", opt=PUBLIC, tags=["operations"])
async def ready(runtime: NamedDependency[Runtime]) -> Response[dict[str, object]]:
    """200 ``ok``; 200 ``degraded`` while Redis is unreachable (this instance still
    serves: per-instance rate limits, sockets resynced from the database; taking every
    instance out of rotation would turn a Redis outage into a full one); 503
    ``unavailable`` when the database does not answer."""
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(runtime.db.ping(), timeout=3)
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready
        log.warning("database not ready", extra={"error_type": type(exc).__name__})
        checks["database"] = "unavailable"
    if runtime.redis is not None:
        try:
            await asyncio.wait_for(runtime.redis.ping(), timeout=3)
            checks["redis"] = "ok"
        except Exception:  # the bus and the limiter log the outage once, not each probe
            checks["redis"] = "unavailable"
        checks["bus"] = "ok" if runtime.bus.healthy else "degraded"
        # without Redis the limits are per instance; with it back they are shared again
        # from the next request on (app/ratelimit.py tries Redis every few seconds)
        checks["rateLimits"] = "ok" if checks["redis"] == "ok" else "degraded"
    if checks["database"] != "ok":
        status, code = "unavailable", 503
    elif any(v != "ok" for v in checks.values()):
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return Response({"status": status, "checks": checks}, status_code=code)
