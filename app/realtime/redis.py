"""The Redis bus: one pub/sub connection per instance, reconnecting with backoff.

Publishing uses the instance's Redis pool. If Redis drops, the reader rebuilds its
pub/sub connection (backoff 0.1 s doubling to 5 s, with jitter), subscribes to every
wanted channel again and tells the gateway to resume (messages in the gap are lost:
they only delayed a wake-up; the database is the truth).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from app.realtime.bus import Receiver, Resume

log = logging.getLogger("kaari.realtime.bus")

BACKOFF_START = 0.1
BACKOFF_MAX = 5.0
POLL_SECONDS = 1.0


def _drop(channel: str, data: bytes) -> None:
    return None


def _nothing() -> None:
    return None


class RedisBus:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        # always subscribed, so the pub/sub connection is never idle-unsubscribed
        self._control = f"{prefix}rt:all"
        self._wanted: set[str] = {self._control}
        self._active: set[str] = set()
        self._lock = asyncio.Lock()
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._receiver: Receiver = _drop
        self._on_resume: Resume = _nothing
        self.reconnects = 0

    def attach(self, receiver: Receiver, on_resume: Resume) -> None:
        self._receiver = receiver
        self._on_resume = on_resume

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="kaari-redis-bus")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drop_pubsub()

    async def publish(self, messages: Sequence[tuple[str, bytes]]) -> None:
        if len(messages) == 1:
            await self._redis.publish(*messages[0])
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for channel, data in messages:
                pipe.publish(channel, data)
            await pipe.execute()

    async def subscribe(self, channel: str) -> None:
        self._wanted.add(channel)
        await self._reconcile(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._wanted.discard(channel)
        await self._reconcile(channel)

    async def _reconcile(self, channel: str) -> None:
        # Under the lock, bring one channel to its latest wanted state, so a quick
        # unsubscribe/subscribe pair from two sockets can never end unsubscribed.
        async with self._lock:
            pubsub = self._pubsub
            if pubsub is None:
                return  # the reader subscribes to everything wanted when it connects
            want, have = channel in self._wanted, channel in self._active
            try:
                if want and not have:
                    await pubsub.subscribe(channel)
                    self._active.add(channel)
                elif have and not want:
                    self._active.discard(channel)
                    await pubsub.unsubscribe(channel)
            except Exception as exc:  # the reader notices too and rebuilds
                log.warning(
                    "redis bus subscription failed", extra={"error_type": type(exc).__name__}
                )

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        self._active = set()
        if pubsub is not None:
            if pubsub.connection is not None:
                # the connection returns to the pool: it must not resume us later
                pubsub.connection.deregister_connect_callback(self._reconnected)
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _connect(self) -> PubSub:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        async with self._lock:
            channels = sorted(self._wanted)
            await pubsub.subscribe(*channels)
            self._pubsub = pubsub
            self._active = set(channels)
        if pubsub.connection is not None:
            # redis-py may reconnect (and resubscribe) by itself inside a read; a message
            # published in that gap is lost, so resume exactly as after our own rebuild
            pubsub.connection.register_connect_callback(self._reconnected)
        return pubsub

    async def _reconnected(self, connection: Any) -> None:
        self.reconnects += 1
        log.info("redis bus reconnected")
        self._on_resume()

    async def _run(self) -> None:
        delay = BACKOFF_START
        first = True
        while True:
            try:
                pubsub = await self._connect()
                if not first:
                    self.reconnects += 1
                    log.info("redis bus reconnected")
                    self._on_resume()
                first = False
                delay = BACKOFF_START
                while True:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=POLL_SECONDS
                    )
                    if message is None or message.get("type") != "message":
                        continue
                    channel = message["channel"]
                    if isinstance(channel, bytes):
                        channel = channel.decode()
                    try:
                        self._receiver(channel, message["data"])
                    except Exception as exc:
                        log.error(
                            "redis bus message not handled",
                            extra={"error_type": type(exc).__name__},
                        )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "redis bus connection lost; retrying",
                    extra={"error_type": type(exc).__name__},
                )
                first = False
                await self._drop_pubsub()
                await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311
                delay = min(delay * 2, BACKOFF_MAX)
