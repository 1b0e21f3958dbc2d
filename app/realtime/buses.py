"""Which bus an instance runs: the in-process one, or Redis when it is configured.

Kept apart from the interface (``bus.py``), which imports none of its backends (as
litestar's ``channels/backends/base.py`` does)."""

from __future__ import annotations

from redis.asyncio import Redis

from app.realtime.bus import Bus
from app.realtime.memory import MemoryBus
from app.realtime.redis import RedisBus


def make_bus(redis: Redis | None, prefix: str) -> Bus:
    """The in-process bus, or the Redis bus when Redis is configured."""
    if redis is not None:
        return RedisBus(redis, prefix)
    return MemoryBus()
