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
    """The database (and Redis, when configured) answer; 503 otherwise."""
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
        except Exception as exc:
            log.warning("redis not ready", extra={"error_type": type(exc).__name__})
            checks["redis"] = "unavailable"
    ok = all(v == "ok" for v in checks.values())
    return Response(
        {"status": "ok" if ok else "unavailable", "checks": checks},
        status_code=200 if ok else 503,
    )
