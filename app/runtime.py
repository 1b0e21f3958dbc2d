"""The long-lived parts one app instance shares: built at start-up, closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from app.accounts.passwords import Passwords
from app.audit.service import Audit
from app.config import Settings
from app.ratelimit import MemoryRateLimitStore, RateLimiter, RateLimitStore, RedisRateLimitStore
from app.storage.engine import Database


@dataclass(slots=True)
class Runtime:
    settings: Settings
    db: Database
    passwords: Passwords
    limiter: RateLimiter
    audit: Audit
    redis: Redis | None

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        db = Database(settings.effective_database_url)
        redis: Redis | None = None
        store: RateLimitStore
        if settings.redis_url:
            redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
            store = RedisRateLimitStore(redis, settings.redis_prefix)
        else:
            store = MemoryRateLimitStore()
        import asyncio

        passwords = await asyncio.to_thread(
            Passwords,
            settings.argon2_memory_kib,
            settings.argon2_time_cost,
            settings.argon2_parallelism,
            settings.password_hash_workers or None,
        )
        return cls(
            settings=settings,
            db=db,
            passwords=passwords,
            limiter=RateLimiter(store),
            audit=Audit(settings.secret_key),
            redis=redis,
        )

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()
        self.passwords.close()
