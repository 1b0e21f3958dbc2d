"""One device's socket on this instance: its bounded outgoing queue, the writer task
that exists only while frames wait, and its inbound token bucket (docs/realtime.md).
The registry of connections, the bus and the dispatch of frames are the gateway's
(``gateway.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any, Protocol
from uuid import UUID, uuid4

import msgspec
from litestar import WebSocket

from app.config import Settings
from app.core.principal import Principal
from app.realtime import bus as busmod
from app.realtime.schemas import (
    CLOSE_GOING_AWAY,
    CLOSE_RESYNC,
    OutFrame,
    PingOut,
    PongOut,
)

log = logging.getLogger("kaari.realtime")

_encoder = msgspec.json.Encoder()


#: after the server's close frame, how long it waits for the peer's; a peer that never
#: answers is let go then, or its handler (and the app's shutdown) would wait for ever
PEER_CLOSE_WAIT_SECONDS = 5.0


class Owner(Protocol):
    """What a connection reads of the gateway that holds it."""

    prefix: str
    settings: Settings


def encode_frame(frame: OutFrame) -> str:
    return _encoder.encode(frame).decode()


PING_TEXT = encode_frame(PingOut())
PONG_TEXT = encode_frame(PongOut())


class Connection:
    """One device's socket on this instance. Handlers get it to reply or close."""

    __slots__ = (
        "_close_wait",
        "_flusher",
        "_gateway",
        "_queue",
        "_refill_at",
        "_strikes",
        "_tokens",
        "channel",
        "close_code",
        "id",
        "last_received",
        "peer_gone",
        "principal",
        "receiver",
        "socket",
        "state",
    )

    def __init__(
        self, gateway: Owner, socket: WebSocket[Any, Any, Any], principal: Principal
    ) -> None:
        now = time.monotonic()
        self._gateway = gateway
        self.socket = socket
        self.principal = principal
        self.channel = busmod.device_channel(gateway.prefix, principal.device_id)
        self._queue: deque[str | tuple[int, str]] = deque()
        self._flusher: asyncio.Task[None] | None = None
        self._tokens = float(gateway.settings.ws_rate_burst)
        self._refill_at = now
        self._strikes = 0
        self.last_received = now
        self.close_code: int | None = None
        #: the task reading this socket, and the timer that stops it when the peer never
        #: answers the server's close frame
        self.receiver: asyncio.Task[None] | None = None
        self._close_wait: asyncio.TimerHandle | None = None
        self.peer_gone = False
        # unique per socket (a reconnecting device gets a new one)
        self.id = uuid4().hex
        # per-connection state of other domains' handlers, under their own key
        self.state: dict[str, Any] = {}

    @property
    def device_id(self) -> UUID:
        return self.principal.device_id

    @property
    def closing(self) -> bool:
        return self.close_code is not None

    @property
    def backlog(self) -> int:
        """Frames queued and not yet written to the socket."""
        return len(self._queue)

    def push(self, frame: OutFrame) -> bool:
        """Queue a frame for the device; False if the connection is closing.

        A full queue closes the connection with 4008 "resync" (the device syncs on
        reconnect) instead of growing without bound."""
        return self.push_text(encode_frame(frame))

    def push_text(self, text: str) -> bool:
        if self.close_code is not None:
            return False
        if len(self._queue) >= self._gateway.settings.ws_queue_frames:
            self.close(CLOSE_RESYNC, "resync")
            return False
        self._queue.append(text)
        self._kick()
        return True

    def close(self, code: int, reason: str, *, drop_queued: bool = True) -> None:
        """Close with ``code``; frames not yet sent are dropped unless ``drop_queued`` is
        False (then they go out first, e.g. the ``error`` frame explaining the close)."""
        if self.close_code is not None:
            return
        self.close_code = code
        if drop_queued:
            self._queue.clear()
        self._queue.append((code, reason))
        self._kick()

    def _kick(self) -> None:
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        timeout = self._gateway.settings.ws_idle_timeout_seconds
        try:
            while self._queue:
                item = self._queue.popleft()
                if isinstance(item, str):
                    async with asyncio.timeout(timeout):
                        await self.socket.send_text(item)
                else:
                    code, reason = item
                    async with asyncio.timeout(timeout):
                        await self.socket.close(code, reason)
                    log.info(
                        "websocket closed by server",
                        extra={"device_id": str(self.device_id), "status": code},
                    )
                    self._close_wait = asyncio.get_running_loop().call_later(
                        PEER_CLOSE_WAIT_SECONDS, self._give_up_on_peer
                    )
                    return
        except TimeoutError:
            # the device reads nothing: drop what is queued and close (resync)
            self._flusher = None
            if self.close_code is None:
                self.close(CLOSE_RESYNC, "resync")
            return
        except Exception:  # the socket is gone; the receive loop ends it
            self.close_code = self.close_code or CLOSE_GOING_AWAY
            self._queue.clear()
        finally:
            if self._flusher is asyncio.current_task():
                self._flusher = None

    def _give_up_on_peer(self) -> None:
        """The peer never sent its close frame back: stop reading (RFC 6455 §7.1.1)."""
        self.peer_gone = True
        if self.receiver is not None:
            self.receiver.cancel()

    def stop_close_wait(self) -> None:
        """The receive loop ended: the close timer must not cancel what runs next."""
        if self._close_wait is not None:
            self._close_wait.cancel()
            self._close_wait = None

    def _take_token(self, now: float) -> bool:
        s = self._gateway.settings
        self._tokens = min(
            float(s.ws_rate_burst), self._tokens + (now - self._refill_at) * s.ws_rate_per_second
        )
        self._refill_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self._strikes = 0
            return True
        self._strikes += 1
        return False

    async def _drain(self, seconds: float) -> None:
        task = self._flusher
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(task), seconds)
