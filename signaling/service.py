"""The signalling parts one app instance holds: built at start-up, closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from signaling.ports import AppointmentFactsSource, Gateway, Notifier, RateLimiter, Settings
from signaling.precall import PrecallEchoes
from signaling.rooms import Rooms
from signaling.roomstate import make_room_store


@dataclass(slots=True)
class Signaling:
    settings: Settings
    limiter: RateLimiter
    echoes: PrecallEchoes
    rooms: Rooms | None = None

    @classmethod
    def start(
        cls,
        settings: Settings,
        limiter: RateLimiter,
        *,
        gateway: Gateway | None = None,
        notifier: Notifier | None = None,
        facts: AppointmentFactsSource | None = None,
        redis: Redis | None = None,
    ) -> Signaling:
        """With ``gateway``, ``notifier`` and ``facts``: rooms and the relay on the socket
        (call ``start_rooms`` on the running loop)."""
        rooms = None
        if gateway is not None and notifier is not None and facts is not None:
            store = make_room_store(redis, settings.redis_prefix)
            rooms = Rooms(settings, store, facts, notifier)
            rooms.install(gateway)
        return cls(settings=settings, limiter=limiter, echoes=PrecallEchoes(settings), rooms=rooms)

    async def start_rooms(self) -> None:
        if self.rooms is not None:
            await self.rooms.start()

    async def close(self) -> None:
        if self.rooms is not None:
            await self.rooms.close()
        await self.echoes.close()
