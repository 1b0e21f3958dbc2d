"""The WebSocket gateway: one socket per device at ``/ws`` (docs/realtime.md).

Per connection the gateway keeps a few fields and a bounded outgoing queue; a
writer task exists only while frames are waiting. One sweeper task per instance
sends heartbeats, closes idle connections and re-checks device sessions in the
database. The gateway knows nothing about mailboxes: other domains register
handlers for their inbound frame types (``on``) and for wake-ups (``on_wake``),
and reach devices through ``Notifier``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, Union
from uuid import UUID, uuid4

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from app.config import Settings
from app.core.errors import KaariError
from app.core.principal import Principal
from app.core.wire import find_out_of_range
from app.realtime import bus as busmod
from app.realtime import store
from app.realtime.bus import Bus
from app.realtime.leases import SocketLeases
from app.realtime.schemas import (
    CLOSE_GOING_AWAY,
    CLOSE_IDLE,
    CLOSE_INTERNAL,
    CLOSE_RATE_LIMITED,
    CLOSE_RESYNC,
    CLOSE_REVOKED,
    CLOSE_TICKET_INVALID,
    CLOSE_TOO_BIG,
    ErrorOut,
    EventOut,
    Hello,
    InFrame,
    OutFrame,
    PingIn,
    PingOut,
    PongIn,
    PongOut,
    WakeOut,
)
from app.realtime.service import TicketService
from app.storage.engine import Database

log = logging.getLogger("kaari.realtime")


PURGE_EVERY_SECONDS = 600.0

F = TypeVar("F", bound=InFrame)
Handler = Callable[["Connection", F], Awaitable[None]]
WakeHandler = Callable[["Connection", int | None], Awaitable[None]]
CloseHandler = Callable[["Connection"], Awaitable[None]]

_encoder = msgspec.json.Encoder()


def encode_frame(frame: OutFrame) -> str:
    return _encoder.encode(frame).decode()


PING_TEXT = encode_frame(PingOut())
PONG_TEXT = encode_frame(PongOut())


class _Head(msgspec.Struct):
    type: str


_head_decoder = msgspec.json.Decoder(_Head)


class Connection:
    """One device's socket on this instance. Handlers get it to reply or close."""

    __slots__ = (
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
        "principal",
        "socket",
        "state",
    )

    def __init__(
        self, gateway: Gateway, socket: WebSocket[Any, Any, Any], principal: Principal
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


class Gateway:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        bus: Bus,
        tickets: TicketService,
        leases: SocketLeases,
    ) -> None:
        self.settings = settings
        self.leases = leases
        self.prefix = settings.redis_prefix
        self.db = db
        self.bus = bus
        self.tickets = tickets
        self._handlers: dict[type[InFrame], Callable[[Connection, Any], Awaitable[None]]] = {}
        self._tags: set[str] = set()
        self._decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(InFrame)
        self._wake_handler: WakeHandler | None = None
        self._close_handlers: list[CloseHandler] = []
        self._by_channel: dict[str, list[Connection]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._closing = False
        bus.attach(self._deliver, self._resume)
        self.on(PingIn, self._on_ping)
        self.on(PongIn, self._on_pong)

    # extension points for other domains

    def on(self, frame_type: type[F], handler: Handler[F]) -> None:
        """Handle inbound frames of ``frame_type`` (an ``InFrame`` subclass with a ``tag``).

        The handler runs on the connection's receive loop (frames of one connection are
        handled in order). A ``KaariError`` it raises becomes an ``error`` frame with the
        error's code; anything else an ``internal_error`` frame."""
        info = msgspec.inspect.type_info(frame_type)
        if not isinstance(info, msgspec.inspect.StructType) or not isinstance(info.tag, str):
            raise TypeError("an inbound frame type is an InFrame subclass with a string tag")
        if info.tag in self._tags:
            raise ValueError(f"a handler for frame type {info.tag!r} is already registered")
        self._tags.add(info.tag)
        self._handlers[frame_type] = handler
        types = tuple(self._handlers)
        self._decoder = msgspec.json.Decoder(Union[types])  # noqa: UP007

    def on_wake(self, handler: WakeHandler) -> None:
        """Replace the default reaction to ``Notifier.wake`` (a ``wake`` frame to the device),
        e.g. to push mailbox rows. ``up_to`` is None after a bus outage (sync everything)."""
        self._wake_handler = handler

    def on_close(self, handler: CloseHandler) -> None:
        """Run ``handler(conn)`` after a connection ended (any reason), e.g. to keep a call
        seat for a grace period. Errors are logged; handlers must not block for long."""
        self._close_handlers.append(handler)

    # inspection

    def connections(self, device_id: UUID) -> list[Connection]:
        return list(self._by_channel.get(busmod.device_channel(self.prefix, device_id), ()))

    # lifecycle

    async def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(
            self._sweep(), name="kaari-ws-sweeper"
        )

    async def close(self) -> None:
        self._closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        conns = [c for cs in self._by_channel.values() for c in cs]
        for conn in conns:
            conn.close(CLOSE_GOING_AWAY, "going_away")
        for conn in conns:
            await conn._drain(1.0)
        for task in list(self._background):
            task.cancel()

    # the endpoint

    async def serve(self, socket: WebSocket[Any, Any, Any]) -> None:
        """Run one connection from the upgrade to its end."""
        try:
            principal = await self.tickets.redeem(socket.query_params.get("ticket"))
        except Exception as exc:
            log.error("ticket check failed", extra={"error_type": type(exc).__name__})
            await socket.accept()
            await socket.close(CLOSE_INTERNAL, "internal_error")
            return
        await socket.accept()
        if principal is None:
            await socket.close(CLOSE_TICKET_INVALID, "ticket_invalid")
            return
        if self._closing:
            await socket.close(CLOSE_GOING_AWAY, "going_away")
            return
        conn = Connection(self, socket, principal)
        if not await self._lease(conn):
            return
        await self._register(conn)
        try:
            s = self.settings
            conn.push(
                Hello(
                    device_id=principal.device_id,
                    heartbeat_seconds=s.ws_heartbeat_seconds,
                    idle_timeout_seconds=s.ws_idle_timeout_seconds,
                )
            )
            await self._receive_loop(conn)
        finally:
            await self._unregister(conn)
            await self._release(conn)
            conn._queue.clear()
            flusher = conn._flusher
            if flusher is not None:
                flusher.cancel()
            await self._closed(conn)

    async def _receive_loop(self, conn: Connection) -> None:
        socket = conn.socket
        s = self.settings
        while True:
            try:
                message = await socket.receive()
            except WebSocketDisconnect:
                return
            if message["type"] != "websocket.receive":
                if message.get("code") == CLOSE_TOO_BIG:  # uvicorn: a frame over ws_max_size
                    await self.tickets.strike(conn.principal)
                return
            now = time.monotonic()
            conn.last_received = now
            if conn.close_code is not None:
                continue  # closing: wait for the peer's close
            if not conn._take_token(now):
                if conn._strikes == 1:
                    conn.push(ErrorOut(code="rate_limited", detail="Too many frames; slow down"))
                elif conn._strikes > s.ws_rate_strikes:
                    conn.close(CLOSE_RATE_LIMITED, "rate_limited", drop_queued=False)
                continue
            text = message.get("text")
            if text is None:
                conn.push(ErrorOut(code="malformed_frame", detail="Frames are JSON text"))
                continue
            size = len(text) if text.isascii() else len(text.encode())
            if size > s.ws_max_frame_bytes:
                # as uvicorn does past ws_max_size (the same number): close, and count
                # a strike against the device's next tickets
                await self.tickets.strike(conn.principal)
                limit = s.ws_max_frame_bytes
                detail = f"A frame may be at most {limit} bytes"
                conn.push(ErrorOut(code="frame_too_large", detail=detail))
                conn.close(CLOSE_TOO_BIG, "frame_too_large", drop_queued=False)
                continue
            frame = self._decode(conn, text)
            if frame is not None:
                await self._dispatch(conn, frame)

    def _decode(self, conn: Connection, text: str) -> InFrame | None:
        try:
            frame: InFrame = self._decoder.decode(text)
            found = find_out_of_range(frame)
            if found is None:
                return frame
            conn.push(ErrorOut(code="invalid_frame", detail=f"{found[1]} - at `{found[0]}`"))
            return None
        except msgspec.ValidationError as exc:
            try:
                head = _head_decoder.decode(text)
            except msgspec.DecodeError:
                conn.push(
                    ErrorOut(
                        code="malformed_frame",
                        detail="A frame is a JSON object with a string 'type'",
                    )
                )
                return None
            if head.type not in self._tags:
                conn.push(ErrorOut(code="unknown_type", detail="Unknown frame type"))
            else:
                conn.push(ErrorOut(code="invalid_frame", detail=str(exc)[:200]))
            return None
        except msgspec.DecodeError:
            conn.push(ErrorOut(code="malformed_frame", detail="A frame is a JSON object"))
            return None

    async def _dispatch(self, conn: Connection, frame: InFrame) -> None:
        handler = self._handlers[type(frame)]
        try:
            await handler(conn, frame)
        except KaariError as exc:
            conn.push(ErrorOut(code=exc.code, detail=exc.detail))
        except Exception as exc:
            log.error(
                "websocket frame handler failed",
                extra={"error_type": type(exc).__name__, "device_id": str(conn.device_id)},
            )
            conn.push(ErrorOut(code="internal_error", detail="The frame could not be handled"))

    async def _closed(self, conn: Connection) -> None:
        if conn.close_code is None:
            conn.close_code = 1000
        for handler in self._close_handlers:
            try:
                async with asyncio.timeout(5):
                    await handler(conn)
            except Exception as exc:
                log.error("close handler failed", extra={"error_type": type(exc).__name__})

    async def _on_ping(self, conn: Connection, frame: PingIn) -> None:
        conn.push_text(PONG_TEXT)

    async def _on_pong(self, conn: Connection, frame: PongIn) -> None:
        return None  # receiving it already counted as activity

    # the registry and the bus

    async def _register(self, conn: Connection) -> None:
        conns = self._by_channel.setdefault(conn.channel, [])
        conns.append(conn)
        log.info("websocket connected", extra={"device_id": str(conn.device_id)})
        if len(conns) == 1:
            try:
                await self.bus.subscribe(conn.channel)
            except Exception as exc:  # the bus retries; the heartbeat still protects
                log.warning("bus subscribe failed", extra={"error_type": type(exc).__name__})

    async def _lease(self, conn: Connection) -> bool:
        """Take the connection's lease under its device and user; close it if either
        holds its most already. Without Redis the count is this instance's (fail open)."""
        s, p = self.settings, conn.principal
        try:
            full = await self.leases.acquire(
                conn.id, p.device_id, p.user_id, s.ws_sockets_per_device, s.ws_sockets_per_user
            )
        except Exception as exc:
            log.warning("socket lease failed", extra={"error_type": type(exc).__name__})
            full = None
        if full is None:
            return True
        log.warning("too many sockets", extra={"kind": full, "device_id": str(p.device_id)})
        await conn.socket.close(CLOSE_RATE_LIMITED, f"too_many_sockets_per_{full}")
        return False

    async def _release(self, conn: Connection) -> None:
        with contextlib.suppress(Exception):
            await self.leases.release(conn.id, conn.device_id, conn.principal.user_id)

    async def _unregister(self, conn: Connection) -> None:
        conns = self._by_channel.get(conn.channel)
        if conns is None or conn not in conns:
            return
        conns.remove(conn)
        log.info("websocket disconnected", extra={"device_id": str(conn.device_id)})
        if not conns:
            del self._by_channel[conn.channel]
            try:
                await self.bus.unsubscribe(conn.channel)
            except Exception as exc:
                log.warning("bus unsubscribe failed", extra={"error_type": type(exc).__name__})

    def _deliver(self, channel: str, data: bytes) -> None:
        conns = self._by_channel.get(channel)
        if not conns:
            return
        try:
            message = busmod.decode(data)
        except msgspec.DecodeError:
            log.warning("undecodable bus message dropped")
            return
        if isinstance(message, busmod.Wake):
            self._wake(list(conns), message.up_to)
        elif isinstance(message, busmod.Frame):
            for conn in list(conns):
                conn.push_text(message.text)
        elif isinstance(message, busmod.Event):
            text = encode_frame(EventOut(event=message.name, ids=message.ids))
            for conn in list(conns):
                conn.push_text(text)
        else:
            for conn in list(conns):
                conn.close(message.code, message.reason)

    def _wake(self, conns: list[Connection], up_to: int | None) -> None:
        handler = self._wake_handler
        if handler is None:
            text = encode_frame(WakeOut(up_to_seq=up_to))
            for conn in conns:
                conn.push_text(text)
            return
        for conn in conns:
            if conn.closing:
                continue
            task = asyncio.get_running_loop().create_task(self._run_wake(handler, conn, up_to))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _run_wake(self, handler: WakeHandler, conn: Connection, up_to: int | None) -> None:
        try:
            await handler(conn, up_to)
        except Exception as exc:
            log.error("wake handler failed", extra={"error_type": type(exc).__name__})

    def _resume(self) -> None:
        # after a bus outage any wake-up may have been lost: every device syncs
        self._wake([c for cs in self._by_channel.values() for c in cs], None)

    # the heartbeat sweeper

    async def _sweep(self) -> None:
        s = self.settings
        tick = max(0.05, min(s.ws_heartbeat_seconds, s.ws_idle_timeout_seconds / 4))
        now = time.monotonic()
        next_ping, next_purge = now + s.ws_heartbeat_seconds, now
        while True:
            await asyncio.sleep(tick)
            try:
                now = time.monotonic()
                conns = [c for cs in self._by_channel.values() for c in cs]
                for conn in conns:
                    if now - conn.last_received > s.ws_idle_timeout_seconds:
                        conn.close(CLOSE_IDLE, "idle_timeout")
                if now >= next_ping:
                    next_ping = now + s.ws_heartbeat_seconds
                    for conn in conns:
                        conn.push_text(PING_TEXT)
                    await self._check_sessions(conns)
                if now >= next_purge:
                    next_purge = now + PURGE_EVERY_SECONDS
                    await self.tickets.purge()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("websocket sweep failed", extra={"error_type": type(exc).__name__})

    async def _check_sessions(self, conns: list[Connection]) -> None:
        """Close connections whose device was revoked (in case a bus message was lost)."""
        devices = {c.device_id for c in conns if not c.closing}
        if not devices:
            return
        try:
            await self.leases.renew([(c.id, c.device_id, c.principal.user_id) for c in conns])
        except Exception as exc:
            log.warning("socket lease renewal failed", extra={"error_type": type(exc).__name__})
        async with self.db.read() as db:
            live = await store.live_devices(db, devices)
        for conn in conns:
            if conn.device_id not in live:
                conn.close(CLOSE_REVOKED, "revoked")
