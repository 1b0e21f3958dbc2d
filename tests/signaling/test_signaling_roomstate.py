"""The room store: read-modify-write is atomic in memory and across Redis clients."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

import pytest
from redis.asyncio import Redis
from support import REDIS_URL, reachable, run, service_missing

from signaling.roomstate import MemoryRoomStore, RedisRoomStore, Room, RoomStore, Seat

LIMIT = 5


def take_seat(device: str) -> Callable[[Room | None], tuple[Room, bool]]:
    def change(room: Room | None) -> tuple[Room, bool]:
        room = room or Room(closes_at=time.time() + 600)
        if len(room.seats) >= LIMIT:
            return room, False
        now = time.time()
        room.seats[device] = Seat(
            user_id=device, device_id=device, role="guardian", case_id=None,
            status="waiting", order=0, joined_at=now, conn="c", seen_at=now,
        )  # fmt: skip
        return room, True

    return change


async def race(stores: list[RoomStore], room_id: str) -> tuple[int, int]:
    results = await asyncio.gather(
        *(stores[n % len(stores)].update(room_id, take_seat(f"d{n}")) for n in range(30))
    )
    room = await stores[0].get(room_id)
    assert room is not None
    return sum(1 for r in results if r), len(room.seats)


def test_memory_store_keeps_the_limit() -> None:
    assert run(race([MemoryRoomStore(time.time)], "r1")) == (LIMIT, LIMIT)


@pytest.mark.parametrize("clients", [1, 3])
def test_redis_store_keeps_the_limit_across_clients(clients: int) -> None:
    if not reachable(REDIS_URL):
        service_missing("Redis", REDIS_URL)
    prefix = f"kaari-roomstate-{os.getpid()}-{time.monotonic_ns()}:"

    async def go() -> tuple[int, int]:
        redises = [Redis.from_url(REDIS_URL) for _ in range(clients)]
        try:
            stores: list[RoomStore] = [RedisRoomStore(r, prefix, time.time) for r in redises]
            result = await race(stores, "r1")
            ttl = await redises[0].pttl(f"{prefix}rtc:room:r1")
            assert 0 < ttl <= 661_000  # expires a minute after the room closes
            await redises[0].delete(f"{prefix}rtc:room:r1")
            return result
        finally:
            for r in redises:
                await r.aclose()

    assert run(go()) == (LIMIT, LIMIT)
