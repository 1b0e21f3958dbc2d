"""The Redis bus: one pub/sub connection per instance, reconnecting with backoff.

Publishing uses the instance's Redis pool. If Redis drops, the reader rebuilds its
pub/sub connection (backoff 0.1 s doubling to 5 s, with jitter), subscribes to every
wanted channel again and tells the gateway to resume (messages in the gap are lost:
they only delayed a wake-up; the database is the truth).

While Redis is unreachable the bus is not ``healthy``: a publish goes to this instance's
own receiver (its sockets hear at once), and the gateway has every socket re-read its
mailbox every ``KAARI_BUS_RESYNC_SECONDS`` so rows sent through other instances still
arrive within seconds. The loss and the recovery are logged once each, at warning.
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

from app.core.errors import OUTAGES
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
        self._reader_up = False
        self._publish_failed = False
        self._down_logged = False

    def attach(self, receiver: Receiver, on_resume: Resume) -> None:
        self._receiver = receiver
        self._on_resume = on_resume

    async def start(self) -> None:
        """Start the reader and give it a moment to connect (it keeps trying after)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="kaari-redis-bus")
        for _ in range(40):
            if self._reader_up or self._task.done():
                return
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drop_pubsub()

    @property
    def healthy(self) -> bool:
        return self._reader_up and not self._publish_failed

    async def publish(self, messages: Sequence[tuple[str, bytes]]) -> None:
        try:
            if len(messages) == 1:
                await self._redis.publish(*messages[0])
            else:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for channel, data in messages:
                        pipe.publish(channel, data)
                    await pipe.execute()
        except OUTAGES as exc:
            self._publish_failed = True
            self._went_down(exc)
            for channel, data in messages:  # this instance's sockets still hear at once
                self._receiver(channel, data)
            return
        if self._publish_failed:
            self._publish_failed = False
            if self._reader_up:
                self._came_back()

    def _went_down(self, exc: BaseException) -> None:
        if not self._down_logged:
            self._down_logged = True
            log.warning(
                "redis bus unreachable: delivering from the database until it is back",
                extra={"error_type": type(exc).__name__},
            )

    def _came_back(self) -> None:
        self._reader_up = True
        self._publish_failed = False
        if self._down_logged:
            self._down_logged = False
            log.warning("redis bus reachable again")

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
                # typed from redis 8.2 on, untyped before: either is fine
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]

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
        self._came_back()
        self.reconnects += 1
        log.info("redis bus reconnected")
        self._on_resume()

    async def _run(self) -> None:
        delay = BACKOFF_START
        first = True
        while True:
            try:
                pubsub = await self._connect()
                self._came_back()
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
                self._reader_up = False
                self._went_down(exc)
                log.debug("redis bus retrying", extra={"error_type": type(exc).__name__})
                first = False
                await self._drop_pubsub()
                await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311
                delay = min(delay * 2, BACKOFF_MAX)
