"""The long-lived parts one app instance shares: built at start-up, closed at shutdown.

The instance's one :data:`~app.core.time.Clock` is among them: the audit writer and the
WebSocket tickets built here read it, and ``app/services.py`` hands it to every service."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from app.accounts.passwords import Passwords
from app.audit.service import Audit
from app.config import Settings
from app.core.time import Clock
from app.observability import counters
from app.ratelimit import MemoryRateLimitStore, RateLimiter, RateLimitStore, SharedRateLimitStore
from app.realtime.bus import Bus
from app.realtime.buses import make_bus
from app.realtime.gateway import Gateway
from app.realtime.leases import MemorySocketLeases, RedisSocketLeases, SocketLeases
from app.realtime.notifier import Notifier
from app.realtime.service import TicketService
from app.storage.blobs import BlobStore
from app.storage.engine import Database

log = logging.getLogger("kaari")


@dataclass(slots=True)
class Runtime:
    settings: Settings
    clock: Clock
    db: Database
    passwords: Passwords
    limiter: RateLimiter
    audit: Audit
    redis: Redis | None
    bus: Bus
    gateway: Gateway
    notifier: Notifier
    blobs: BlobStore
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(cls, settings: Settings, clock: Clock) -> Runtime:
        """``clock`` is what every rule of the instance reads as now."""
        db = Database(settings.effective_database_url)
        redis: Redis | None = None
        store: RateLimitStore
        if settings.redis_url:
            redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
            store = SharedRateLimitStore(redis, settings.redis_prefix, settings.secret_key)
        else:
            store = MemoryRateLimitStore()
        passwords = await asyncio.to_thread(
            Passwords,
            settings.argon2_memory_kib,
            settings.argon2_time_cost,
            settings.argon2_parallelism,
            settings.password_hash_workers or None,
        )
        limiter = RateLimiter(store)
        bus = make_bus(redis, settings.redis_prefix)
        # a connection's lease outlives three missed heartbeats (its instance died)
        lease_ttl = 3 * settings.ws_heartbeat_seconds
        leases: SocketLeases = (
            RedisSocketLeases(redis, settings.redis_prefix, lease_ttl)
            if redis is not None
            else MemorySocketLeases(lease_ttl)
        )
        gateway = Gateway(settings, db, bus, TicketService(db, settings, limiter, clock), leases)
        await bus.start()
        await gateway.start()
        return cls(
            settings=settings,
            clock=clock,
            db=db,
            passwords=passwords,
            limiter=limiter,
            audit=Audit(settings.secret_key, clock),
            redis=redis,
            bus=bus,
            gateway=gateway,
            notifier=Notifier(bus, settings.redis_prefix),
            blobs=BlobStore(settings.effective_blob_dir),
        )

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run a background job until shutdown (e.g. the purge loop)."""
        self.tasks.append(asyncio.get_running_loop().create_task(coro, name=name))

    def every(self, seconds: float, job: Callable[[], Awaitable[object]], name: str) -> None:
        """Run ``job`` now and then every ``seconds`` until shutdown; a failed run is
        logged (its error type only) and the next one comes on time."""
        self.spawn(_periodic(seconds, job, name), name)

    async def close(self) -> None:
        await _cancel_all(self.tasks)
        await self.gateway.close()
        await self.bus.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()
        self.passwords.close()


async def _cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the jobs and wait until each has ended. A job that lost its cancellation
    (``asyncio.wait_for`` before Python 3.12 drops one that meets a finished wait in the
    same turn) is cancelled again each second instead of being waited for forever."""
    pending = {task for task in tasks if not task.done()}
    for task in pending:
        task.cancel()
    while pending:
        _, pending = await asyncio.wait(pending, timeout=1.0)
        for task in pending:
            log.warning("background job ignored its cancellation", extra={"route": task.get_name()})
            task.cancel()
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.warning(
                "background job ended with an error",
                extra={"route": task.get_name(), "error_type": type(task.exception()).__name__},
            )


async def _periodic(seconds: float, job: Callable[[], Awaitable[object]], name: str) -> None:
    while True:
        started = time.perf_counter()
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            counters.job_failed(name, time.perf_counter() - started)
            log.warning(
                "background job failed", extra={"route": name, "error_type": type(exc).__name__}
            )
        else:
            counters.job_succeeded(name, time.perf_counter() - started)
        await asyncio.sleep(seconds)
