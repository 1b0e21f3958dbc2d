"""The in-process bus: one instance (``kaari serve`` without Redis)."""

from __future__ import annotations

from collections.abc import Sequence

from app.realtime.bus import Receiver, Resume


def _drop(channel: str, data: bytes) -> None:
    return None


def _nothing() -> None:
    return None


class MemoryBus:
    def __init__(self) -> None:
        self._channels: set[str] = set()
        self._receiver: Receiver = _drop
        self._on_resume: Resume = _nothing

    def attach(self, receiver: Receiver, on_resume: Resume) -> None:
        self._receiver = receiver
        self._on_resume = on_resume

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._channels.clear()

    @property
    def healthy(self) -> bool:
        return True

    async def publish(self, messages: Sequence[tuple[str, bytes]]) -> None:
        # Delivered synchronously: the receiver only enqueues frames.
        for channel, data in messages:
            if channel in self._channels:
                self._receiver(channel, data)

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
