"""How other domains reach devices: wake-ups, live events and closing connections.

Every call publishes on the bus, so it reaches the device on whichever instance
its socket is. Nothing here waits for delivery and nothing fails the caller: the
bus only wakes, and the database stays the truth (a lost message only delays).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from uuid import UUID

from app.realtime import bus as busmod
from app.realtime.bus import Bus
from app.realtime.schemas import CLOSE_REVOKED

log = logging.getLogger("kaari.realtime")

EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ID_KEY = re.compile(r"^[a-z][A-Za-z0-9]{0,31}$")
MAX_IDS = 8
MAX_ID_LENGTH = 64


class Notifier:
    def __init__(self, bus: Bus, prefix: str) -> None:
        self.bus = bus
        self.prefix = prefix

    async def wake(self, device_id: UUID, up_to_seq: int) -> None:
        """The device has new mailbox rows up to ``up_to_seq`` (after the commit)."""
        await self._publish([device_id], busmod.Wake(up_to=up_to_seq))

    async def wake_sync(self, device_ids: Iterable[UUID]) -> None:
        """The devices' Matrix sync has something new (after the commit)."""
        await self._publish(device_ids, busmod.SyncWake())

    async def send_event(
        self, device_ids: Iterable[UUID], event: str, ids: Mapping[str, str | UUID] | None = None
    ) -> None:
        """A live event to each device: a name and a few ids, never content."""
        if not EVENT_NAME.match(event):
            raise ValueError("an event name is lower_snake_case")
        clean: dict[str, str] = {}
        for key, value in (ids or {}).items():
            text = str(value)
            if not ID_KEY.match(key) or len(text) > MAX_ID_LENGTH:
                raise ValueError("event ids are camelCase keys with short values")
            clean[key] = text
        if len(clean) > MAX_IDS:
            raise ValueError(f"an event carries at most {MAX_IDS} ids")
        await self._publish(device_ids, busmod.Event(name=event, ids=clean))

    async def push_frame(self, device_ids: Iterable[UUID], text: str) -> None:
        """An encoded frame (an ``OutFrame``'s JSON) to each device's sockets, on whichever
        instance they are. At most ``MAX_FRAME_TEXT`` characters (ValueError beyond).
        Delivery is best effort, like every bus message: nothing is stored."""
        if len(text) > busmod.MAX_FRAME_TEXT:
            raise ValueError(f"a pushed frame is at most {busmod.MAX_FRAME_TEXT} characters")
        await self._publish(device_ids, busmod.Frame(text=text))

    async def close_devices(self, device_ids: Iterable[UUID], reason: str = "revoked") -> None:
        """Close every connection of these devices (4403 and the reason)."""
        await self._publish(device_ids, busmod.Close(code=CLOSE_REVOKED, reason=reason))

    async def _publish(self, device_ids: Iterable[UUID], message: busmod.BusMessage) -> None:
        data = busmod.encode(message)
        targets = [(busmod.device_channel(self.prefix, d), data) for d in dict.fromkeys(device_ids)]
        if not targets:
            return
        try:
            await self.bus.publish(targets)
        except Exception as exc:
            # the caller's work is committed; devices catch up on their next sync, and
            # revoked devices are closed by the heartbeat's session check
            log.warning(
                "bus publish failed",
                extra={"error_type": type(exc).__name__, "count": len(targets)},
            )
