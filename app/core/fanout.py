"""What a change tells others, written once: notices recorded in its transaction, the
outbox woken and live events sent only after the commit.

A domain service opens an :class:`Announcement` for one change, adds to it inside its
transaction (the notices commit with the change or not at all; the devices of the live
events are read in the same snapshot), and calls :meth:`Announcement.send` after the
transaction has committed. A change that rolls back sends nothing.

The collaborators are interfaces: accounts knows which devices are signed in, the
notification pipeline records notices, the realtime layer reaches devices. The
composition root (``app/services.py``) hands them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.events import DomainEvent, EventSink

Ids = Mapping[str, str | UUID]


class DeviceDirectory(Protocol):
    async def signed_in_devices(
        self, conn: AsyncConnection, user_ids: Iterable[UUID]
    ) -> Mapping[UUID, UUID]:
        """device id -> user id of every signed-in device of the users."""
        ...


class LiveSender(Protocol):
    async def send_event(
        self, device_ids: Iterable[UUID], event: str, ids: Ids | None = None
    ) -> None:
        """A live event (a name and a few ids, never content) to each device."""
        ...


class FanOut:
    def __init__(self, devices: DeviceDirectory, sink: EventSink, live: LiveSender) -> None:
        self.devices = devices
        self.sink = sink
        self.live_sender = live

    def begin(self, actor_device: UUID) -> Announcement:
        """An announcement of one change by ``actor_device``, which gets no live event."""
        return Announcement(self, actor_device)


class Announcement:
    def __init__(self, fanout: FanOut, actor_device: UUID) -> None:
        self._fanout = fanout
        self._actor_device = actor_device
        self._noticed = False
        self._live: list[tuple[list[UUID], str, dict[str, str | UUID]]] = []

    async def notice(self, conn: AsyncConnection, event: DomainEvent) -> None:
        """In the transaction: the push, e-mail and SMS notices of ``event``."""
        if event.recipients:
            await self._fanout.sink.record(conn, event)
            self._noticed = True

    async def live(
        self, conn: AsyncConnection, users: Iterable[UUID], event: str, ids: Ids
    ) -> None:
        """In the transaction: ``event`` for every signed-in device of ``users``."""
        devices = await self._fanout.devices.signed_in_devices(conn, list(dict.fromkeys(users)))
        self._live.append((list(devices), event, dict(ids)))

    async def send(self) -> None:
        """After the commit: wake the outbox, then the live events to every device but
        the actor's."""
        if self._noticed:
            self._fanout.sink.wake()
        for devices, event, ids in self._live:
            others = [d for d in devices if d != self._actor_device]
            if others:
                await self._fanout.live_sender.send_event(others, event, ids)
