"""The signalling parts one app instance holds: built at start-up, closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from signaling.ports import RateLimiter, Settings
from signaling.precall import PrecallEchoes


@dataclass(slots=True)
class Signaling:
    settings: Settings
    limiter: RateLimiter
    echoes: PrecallEchoes

    @classmethod
    def start(cls, settings: Settings, limiter: RateLimiter) -> Signaling:
        return cls(settings=settings, limiter=limiter, echoes=PrecallEchoes(settings))

    async def close(self) -> None:
        await self.echoes.close()
