"""Fixed-window rate limits, in memory (one instance) or in Redis (shared by instances).

With Redis configured the limits are shared (``SharedRateLimitStore``); while Redis is
unreachable they fall back to this instance's memory (each instance then counts on its
own, so a limit is at most that many times looser), logged once at warning and shown in
``/ready``, and Redis is tried again every few seconds. Nothing is refused because Redis
is down.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from redis.asyncio import Redis

from app.core.digests import keyed_digest
from app.core.errors import OUTAGES, RateLimited
from app.observability import counters

log = logging.getLogger("kaari.ratelimit")
T = TypeVar("T")
#: while Redis is unreachable, it is tried again this often (seconds)
RETRY_SECONDS = 5.0


class RateLimitStore(Protocol):
    async def hit(self, key: str, window: int, amount: int = 1) -> tuple[int, int]:
        """Count ``amount`` (one event, or bytes) under ``key``; returns (count in this
        window, seconds left)."""
        ...

    async def peek(self, key: str) -> tuple[int, int]:
        """The count in the current window and seconds left, without counting."""
        ...

    async def reset(self, key: str) -> None: ...


class MemoryRateLimitStore:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, float]] = {}

    def _current(self, key: str) -> tuple[int, float] | None:
        entry = self._windows.get(key)
        if entry is not None and entry[1] <= time.monotonic():
            del self._windows[key]
            return None
        return entry

    async def hit(self, key: str, window: int, amount: int = 1) -> tuple[int, int]:
        entry = self._current(key)
        if len(self._windows) > 100_000:  # bound memory under a flood of distinct keys
            now = time.monotonic()
            self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        count, ends = entry if entry is not None else (0, time.monotonic() + window)
        self._windows[key] = (count + amount, ends)
        return count + amount, math.ceil(ends - time.monotonic())

    async def peek(self, key: str) -> tuple[int, int]:
        entry = self._current(key)
        if entry is None:
            return 0, 0
        return entry[0], math.ceil(entry[1] - time.monotonic())

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)


class RedisRateLimitStore:
    """Counters in Redis under keyed digests of their names: a name holds a client's
    address (``login:ip:…``) or a user's id, and Redis (its dumps, ``MONITOR``, its
    operators) must see neither, as the audit log keeps only ``ip_hash``."""

    def __init__(self, redis: Redis, prefix: str, secret_key: str) -> None:
        self._redis = redis
        self._prefix = prefix + "rl:"
        self._secret = secret_key

    def _full(self, key: str) -> str:
        return self._prefix + keyed_digest(self._secret, "rl:" + key).hex()[:40]

    async def hit(self, key: str, window: int, amount: int = 1) -> tuple[int, int]:
        full = self._full(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(full, amount)
            pipe.expire(full, window, nx=True)
            pipe.ttl(full)
            count, _, ttl = await pipe.execute()
        return int(count), max(int(ttl), 1)

    async def peek(self, key: str) -> tuple[int, int]:
        full = self._full(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(full)
            pipe.ttl(full)
            count, ttl = await pipe.execute()
        return int(count or 0), max(int(ttl), 0)

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._full(key))


class SharedRateLimitStore:
    """Redis, or this instance's memory while Redis is unreachable."""

    def __init__(
        self, redis: Redis, prefix: str, secret_key: str, retry_seconds: float = RETRY_SECONDS
    ) -> None:
        self._shared = RedisRateLimitStore(redis, prefix, secret_key)
        self._local = MemoryRateLimitStore()
        self._retry_seconds = retry_seconds
        self._retry_at = 0.0
        self.degraded = False

    async def _run(self, op: Callable[[RateLimitStore], Awaitable[T]]) -> T:
        if time.monotonic() >= self._retry_at:
            try:
                result = await op(self._shared)
            except OUTAGES as exc:
                self._retry_at = time.monotonic() + self._retry_seconds
                if not self.degraded:
                    self.degraded = True
                    log.warning(
                        "redis unreachable: rate limits are per instance until it is back",
                        extra={"error_type": type(exc).__name__},
                    )
            else:
                if self.degraded:
                    self.degraded = False
                    log.warning("redis reachable again: rate limits are shared")
                return result
        return await op(self._local)

    async def hit(self, key: str, window: int, amount: int = 1) -> tuple[int, int]:
        return await self._run(lambda store: store.hit(key, window, amount))

    async def peek(self, key: str) -> tuple[int, int]:
        return await self._run(lambda store: store.peek(key))

    async def reset(self, key: str) -> None:
        await self._run(lambda store: store.reset(key))


class RateLimiter:
    """Named limits over one store; raises ``RateLimited`` with Retry-After when over."""

    def __init__(self, store: RateLimitStore) -> None:
        self.store = store

    async def hit(self, key: str, limit: int, window: int, detail: str | None = None) -> None:
        count, retry_after = await self.store.hit(key, window)
        if count > limit:
            counters.rate_limited(key)
            raise RateLimited(retry_after, detail)

    async def check(self, key: str, limit: int, detail: str | None = None) -> None:
        """Refuse if ``key`` already reached ``limit`` in its window (without counting)."""
        count, retry_after = await self.store.peek(key)
        if count >= limit:
            counters.rate_limited(key)
            raise RateLimited(retry_after, detail)

    async def remaining(self, key: str, limit: int) -> tuple[int, int]:
        """(what is left of ``limit`` in the window, seconds until the window ends)."""
        count, retry_after = await self.store.peek(key)
        return max(0, limit - count), retry_after

    async def add(self, key: str, window: int, amount: int) -> None:
        """Count ``amount`` (bytes, say) under ``key`` without refusing."""
        await self.store.hit(key, window, amount)
