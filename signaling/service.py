"""The signalling parts one app instance holds: built at start-up, closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from signaling.ports import (
    AppointmentFactsSource,
    Clock,
    Gateway,
    Notifier,
    RateLimiter,
    Settings,
    unix_seconds,
)
from signaling.precall import PrecallEchoes
from signaling.rooms import Rooms
from signaling.roomstate import make_room_store


@dataclass(slots=True)
class Signaling:
    settings: Settings
    limiter: RateLimiter
    clock: Clock
    echoes: PrecallEchoes
    rooms: Rooms

    @classmethod
    def start(
        cls,
        settings: Settings,
        limiter: RateLimiter,
        *,
        clock: Clock,
        gateway: Gateway,
        notifier: Notifier,
        facts: AppointmentFactsSource,
        redis: Redis | None,
    ) -> Signaling:
        """Rooms and the relay on the socket (call ``start_rooms`` on the running loop)."""

        def seconds() -> float:
            return unix_seconds(clock)

        store = make_room_store(redis, settings.redis_prefix, seconds)
        rooms = Rooms(settings, store, facts, notifier, clock=seconds)
        rooms.install(gateway)
        return cls(
            settings=settings,
            limiter=limiter,
            clock=clock,
            echoes=PrecallEchoes(settings, seconds),
            rooms=rooms,
        )

    def now(self) -> float:
        """The app's clock in seconds since the epoch (passes, TURN credentials)."""
        return unix_seconds(self.clock)

    async def start_rooms(self) -> None:
        await self.rooms.start()

    async def close(self) -> None:
        await self.rooms.close()
        await self.echoes.close()
