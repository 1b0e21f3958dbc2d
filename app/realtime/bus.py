"""The event bus: tiny wake-ups between app instances (DESIGN.md sections 6 and 7).

The bus only wakes. The database is the truth, so a lost message may delay a
delivery (until the next heartbeat check or sync) but never loses data. Each
instance subscribes to the channels of the devices connected to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol
from uuid import UUID

import msgspec

Receiver = Callable[[str, bytes], None]
"""Called with (channel, data) for each message; must not block (it only enqueues)."""
Resume = Callable[[], None]
"""Called after the bus reconnected: messages in the gap may have been lost."""


class Bus(Protocol):
    def attach(self, receiver: Receiver, on_resume: Resume) -> None:
        """Set who gets this instance's messages (the gateway); call before ``start``."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Publish each (channel, data). While the bus is unreachable, hand them to this
        instance's own receiver instead (its sockets still hear at once; the others'
        instances catch up by their resync)."""
        ...

    @property
    def healthy(self) -> bool:
        """False while messages may be lost (the bus is unreachable): the gateway then
        has its sockets re-read their mailboxes every few seconds."""
        ...

    async def subscribe(self, channel: str) -> None: ...

    async def unsubscribe(self, channel: str) -> None: ...


# Messages on the bus: small, msgpack, never content.


class BusMessage(msgspec.Struct, tag_field="t", array_like=True, frozen=True):
    pass


class Wake(BusMessage, tag="w", frozen=True):
    """The device has new mailbox rows up to ``up_to`` (None: unknown, sync)."""

    up_to: int | None


class Event(BusMessage, tag="e", frozen=True):
    """A live event: a name and ids, never content."""

    name: str
    ids: dict[str, str]


class Close(BusMessage, tag="c", frozen=True):
    """Close the device's connections (e.g. revoked)."""

    code: int
    reason: str


class Frame(BusMessage, tag="f", frozen=True):
    """A frame for the device, already encoded (e.g. a relayed call signal). Bounded by
    ``MAX_FRAME_TEXT``: the bus carries wake-ups and small events, not bulk data."""

    text: str


class SyncWake(BusMessage, tag="s", frozen=True):
    """Something the device's Matrix sync reports changed (docs/matrix-api.md): a waiting
    ``GET /sync`` returns and a ``matrix_sync`` socket request is answered."""


MAX_FRAME_TEXT = 48 * 1024
"""The longest frame text a ``Frame`` bus message may carry (characters)."""

AnyBusMessage = Wake | Event | Close | Frame | SyncWake

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(AnyBusMessage)


def encode(message: BusMessage) -> bytes:
    return _encoder.encode(message)


def decode(data: bytes) -> AnyBusMessage:
    message: AnyBusMessage = _decoder.decode(data)
    return message


def device_channel(prefix: str, device_id: UUID) -> str:
    return f"{prefix}rt:d:{device_id}"
