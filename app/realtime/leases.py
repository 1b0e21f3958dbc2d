"""How many WebSocket connections a device and a user hold, across instances.

Each connection takes a lease under its device and its user when it opens; the
instance holding it renews its leases every heartbeat and returns them on close. A
lease nobody renews (its instance died) lapses after ``ttl`` seconds, so a crash
never locks a device out for longer. With Redis the leases are sorted sets (score =
expiry) shared by every instance; without it, a dict of this instance's.

Lease times are durations, not rules on "now": the in-memory leases count on
``time.monotonic``; the Redis scores are compared by every instance, so they are the
machines' shared real time (:func:`app.core.time.unix_seconds` on the system clock),
never an instance's own clock (a test or ``KAARI_TEST_CLOCK_START`` may shift or stop
that, and two instances started apart would disagree on it).
"""

from __future__ import annotations

import time
from typing import Protocol
from uuid import UUID

from redis.asyncio import Redis

from app.core.time import unix_seconds

_ACQUIRE = """
local now, expires, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for i, key in ipairs(KEYS) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    if redis.call('ZSCORE', key, member) == false
        and redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then
        return i
    end
end
for _, key in ipairs(KEYS) do
    redis.call('ZADD', key, expires, member)
    redis.call('EXPIRE', key, math.ceil(expires - now) + 1)
end
return 0
"""


class SocketLeases(Protocol):
    async def acquire(
        self, conn_id: str, device_id: UUID, user_id: UUID, per_device: int, per_user: int
    ) -> str | None:
        """Take a lease; None, or what is full (``"device"`` or ``"user"``)."""
        ...

    async def renew(self, leases: list[tuple[str, UUID, UUID]]) -> None: ...

    async def release(self, conn_id: str, device_id: UUID, user_id: UUID) -> None: ...


_FULL = {1: "device", 2: "user"}


class MemorySocketLeases:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._held: dict[str, dict[str, float]] = {}

    def _live(self, key: str, now: float) -> dict[str, float]:
        held = self._held.setdefault(key, {})
        for member in [m for m, expires in held.items() if expires <= now]:
            del held[member]
        return held

    async def acquire(
        self, conn_id: str, device_id: UUID, user_id: UUID, per_device: int, per_user: int
    ) -> str | None:
        now = time.monotonic()
        keys = (f"dev:{device_id}", f"user:{user_id}")
        for n, (key, limit) in enumerate(zip(keys, (per_device, per_user), strict=True), 1):
            held = self._live(key, now)
            if conn_id not in held and len(held) >= limit:
                return _FULL[n]
        for key in keys:
            self._held[key][conn_id] = now + self.ttl
        return None

    async def renew(self, leases: list[tuple[str, UUID, UUID]]) -> None:
        expires = time.monotonic() + self.ttl
        for conn_id, device_id, user_id in leases:
            for key in (f"dev:{device_id}", f"user:{user_id}"):
                if conn_id in self._held.get(key, {}):
                    self._held[key][conn_id] = expires

    async def release(self, conn_id: str, device_id: UUID, user_id: UUID) -> None:
        for key in (f"dev:{device_id}", f"user:{user_id}"):
            held = self._held.get(key)
            if held is not None:
                held.pop(conn_id, None)
                if not held:
                    del self._held[key]


class RedisSocketLeases:
    def __init__(self, redis: Redis, prefix: str, ttl: float) -> None:
        self._redis = redis
        self._prefix = prefix + "ws:leases:"
        self.ttl = ttl
        self._acquire = redis.register_script(_ACQUIRE)

    def _keys(self, device_id: UUID, user_id: UUID) -> list[str]:
        return [f"{self._prefix}dev:{device_id}", f"{self._prefix}user:{user_id}"]

    async def acquire(
        self, conn_id: str, device_id: UUID, user_id: UUID, per_device: int, per_user: int
    ) -> str | None:
        now = unix_seconds()
        full = await self._acquire(
            keys=self._keys(device_id, user_id),
            args=[now, now + self.ttl, conn_id, per_device, per_user],
        )
        return _FULL.get(int(full))

    async def renew(self, leases: list[tuple[str, UUID, UUID]]) -> None:
        if not leases:
            return
        expires = unix_seconds() + self.ttl
        async with self._redis.pipeline(transaction=False) as pipe:
            for conn_id, device_id, user_id in leases:
                for key in self._keys(device_id, user_id):
                    pipe.zadd(key, {conn_id: expires}, xx=True)
                    pipe.expire(key, int(self.ttl) + 1)
            await pipe.execute()

    async def release(self, conn_id: str, device_id: UUID, user_id: UUID) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in self._keys(device_id, user_id):
                pipe.zrem(key, conn_id)
            await pipe.execute()
