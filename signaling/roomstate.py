"""Where a room's seats live: shared by every instance (docs/signaling.md, "Across instances").

A room is one small msgpack value (its seats, the auto-admit flag, the admission
counter) under one key, changed only by an atomic read-modify-write:

* :class:`RedisRoomStore` (when ``KAARI_REDIS_URL`` is set): ``WATCH``/``MULTI`` on the
  room's key, retried when another instance changed it meanwhile; the key expires
  shortly after the room closes, so nothing outlives an appointment.
* :class:`MemoryRoomStore` (the embedded default, one process): a dict and a lock.

Rooms are not kept in the database: they are short-lived (an hour or two), changed on
every join, drop and admission, and read on every relayed signal, and nothing in them
must survive the appointment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal, Protocol, TypeVar

import msgspec
from redis.asyncio import Redis
from redis.exceptions import WatchError

T = TypeVar("T")

SeatStatus = Literal["waiting", "admitted"]
SeatRole = Literal["therapist", "guardian", "child"]

#: keep a room's value this long after the room closes (seconds)
EXPIRY_SLACK = 60.0
MAX_RETRIES = 50


class Seat(msgspec.Struct, kw_only=True):
    """One device's place in a room (keyed by device id; one seat per user)."""

    user_id: str
    device_id: str
    role: SeatRole
    case_id: str | None
    status: SeatStatus
    #: admission order (0 while waiting): of two peers the later admitted one offers
    order: int
    joined_at: float
    #: the socket holding the seat ("" while dropped)
    conn: str
    #: wall-clock time the socket dropped (None while connected)
    dropped_at: float | None = None
    #: refreshed by the instance holding the socket; a stale seat counts as dropped
    seen_at: float
    #: how many times the device joined or resumed (relayed signals carry it)
    epoch: int = 1

    def gone_at(self, now: float, stale_after: float) -> float | None:
        """When the seat stopped being held (None: it is held)."""
        if self.dropped_at is not None:
            return self.dropped_at
        if now - self.seen_at > stale_after:
            return self.seen_at
        return None


class Room(msgspec.Struct, kw_only=True):
    closes_at: float
    auto_admit: bool = False
    next_order: int = 1
    seats: dict[str, Seat] = msgspec.field(default_factory=dict)


Change = Callable[[Room | None], tuple[Room | None, T]]
"""Given the room (None: no such value yet), the room to store (None: delete) and a result.
It may raise to refuse; then nothing is stored."""

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Room)


def encode(room: Room) -> bytes:
    return _encoder.encode(room)


def decode(data: bytes) -> Room:
    room: Room = _decoder.decode(data)
    return room


class RoomStore(Protocol):
    async def get(self, room_id: str) -> Room | None: ...

    async def update(self, room_id: str, change: Change[T]) -> T: ...

    async def room_ids(self) -> list[str]:
        """Rooms this store knows (memory: all; Redis: none, keys expire by themselves)."""
        ...


class MemoryRoomStore:
    """One process: values in a dict, changes one at a time."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._rooms: dict[str, bytes] = {}
        self._lock = asyncio.Lock()

    async def get(self, room_id: str) -> Room | None:
        data = self._rooms.get(room_id)
        return decode(data) if data is not None else None

    async def update(self, room_id: str, change: Change[T]) -> T:
        async with self._lock:
            data = self._rooms.get(room_id)
            room = decode(data) if data is not None else None
            if room is not None and room.closes_at + EXPIRY_SLACK < self._now():
                room = None
            new, result = change(room)
            if new is None:
                self._rooms.pop(room_id, None)
            else:
                self._rooms[room_id] = encode(new)
            return result

    async def room_ids(self) -> list[str]:
        return list(self._rooms)


class RedisRoomStore:
    """Shared by instances: ``<prefix>rtc:room:<id>`` holds the room."""

    def __init__(self, redis: Redis, prefix: str, now: Callable[[], float]) -> None:
        self._now = now
        self._redis = redis
        self._prefix = f"{prefix}rtc:room:"

    def _key(self, room_id: str) -> str:
        return self._prefix + room_id

    async def get(self, room_id: str) -> Room | None:
        data = await self._redis.get(self._key(room_id))
        return decode(_bytes(data)) if data is not None else None

    async def update(self, room_id: str, change: Change[T]) -> T:
        key = self._key(room_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            for _ in range(MAX_RETRIES):
                try:
                    await pipe.watch(key)
                    data = await pipe.get(key)
                    room = decode(_bytes(data)) if data is not None else None
                    new, result = change(room)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    if new is None:
                        pipe.delete(key)
                    else:
                        left_ms = int((new.closes_at + EXPIRY_SLACK - self._now()) * 1000)
                        pipe.set(key, encode(new), px=max(1, left_ms))
                    await pipe.execute()
                    return result
                except WatchError:
                    continue
                finally:
                    await pipe.reset()  # type: ignore[no-untyped-call]
        raise RuntimeError("room changed by others too often; try again")

    async def room_ids(self) -> list[str]:
        return []


def _bytes(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else data


def make_room_store(redis: Redis | None, prefix: str, now: Callable[[], float]) -> RoomStore:
    """Rooms expire ``EXPIRY_SLACK`` after they close by ``now`` (the app's clock)."""
    if redis is not None:
        return RedisRoomStore(redis, prefix, now)
    return MemoryRoomStore(now)
