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
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, Union
from uuid import UUID

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from app.config import Settings
from app.core.errors import OUTAGES, KaariError, Unavailable
from app.core.wire import find_out_of_range
from app.realtime import bus as busmod
from app.realtime import store
from app.realtime.bus import Bus
from app.realtime.connection import PING_TEXT, PONG_TEXT, Connection, encode_frame
from app.realtime.leases import SocketLeases
from app.realtime.schemas import (
    CLOSE_GOING_AWAY,
    CLOSE_IDLE,
    CLOSE_INTERNAL,
    CLOSE_RATE_LIMITED,
    CLOSE_REVOKED,
    CLOSE_TICKET_INVALID,
    CLOSE_TOO_BIG,
    ErrorOut,
    EventOut,
    Hello,
    InFrame,
    PingIn,
    PongIn,
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


class _Head(msgspec.Struct):
    type: str


_head_decoder = msgspec.json.Decoder(_Head)


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
        # long-polls (GET /sync) of this instance waiting for a SyncWake, by channel
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._resyncer: asyncio.Task[None] | None = None
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

    @contextlib.asynccontextmanager
    async def listen(self, device_id: UUID) -> AsyncIterator[asyncio.Event]:
        """An event set when the device gets ``Notifier.wake_sync`` (or the bus resumed),
        on whichever instance it was sent: for a long-poll waiting on this instance."""
        channel = busmod.device_channel(self.prefix, device_id)
        event = asyncio.Event()
        waiters = self._waiters.setdefault(channel, set())
        waiters.add(event)
        if len(waiters) == 1 and channel not in self._by_channel:
            await self._subscribe(channel)
        try:
            yield event
        finally:
            waiters.discard(event)
            if not waiters:
                del self._waiters[channel]
                if channel not in self._by_channel:
                    await self._unsubscribe(channel)

    def on_close(self, handler: CloseHandler) -> None:
        """Run ``handler(conn)`` after a connection ended (any reason), e.g. to keep a call
        seat for a grace period. Errors are logged; handlers must not block for long."""
        self._close_handlers.append(handler)

    # inspection

    def connections(self, device_id: UUID) -> list[Connection]:
        return list(self._by_channel.get(busmod.device_channel(self.prefix, device_id), ()))

    # lifecycle

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._sweeper = loop.create_task(self._sweep(), name="kaari-ws-sweeper")
        self._resyncer = loop.create_task(self._resync(), name="kaari-ws-resync")

    async def close(self) -> None:
        self._closing = True
        for task in (self._sweeper, self._resyncer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
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
        conn.receiver = asyncio.current_task()
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
            conn.stop_close_wait()
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
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if conn.peer_gone and task is not None and task.uncancel() == 0:
                    return  # our own close wait ran out, not a shutdown
                raise
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
        except OUTAGES as exc:  # e.g. call room state in Redis: nothing else is safe
            log.warning("websocket frame needs redis", extra={"error_type": type(exc).__name__})
            conn.push(ErrorOut(code=Unavailable.code, detail=Unavailable().detail))
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
        if len(conns) == 1 and conn.channel not in self._waiters:
            await self._subscribe(conn.channel)

    async def _subscribe(self, channel: str) -> None:
        try:
            await self.bus.subscribe(channel)
        except Exception as exc:  # the bus retries; the heartbeat still protects
            log.warning("bus subscribe failed", extra={"error_type": type(exc).__name__})

    async def _unsubscribe(self, channel: str) -> None:
        try:
            await self.bus.unsubscribe(channel)
        except Exception as exc:
            log.warning("bus unsubscribe failed", extra={"error_type": type(exc).__name__})

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
            if conn.channel not in self._waiters:
                await self._unsubscribe(conn.channel)

    def _deliver(self, channel: str, data: bytes) -> None:
        conns = self._by_channel.get(channel)
        waiters = self._waiters.get(channel)
        if not conns and not waiters:
            return
        try:
            message = busmod.decode(data)
        except msgspec.DecodeError:
            log.warning("undecodable bus message dropped")
            return
        if isinstance(message, busmod.SyncWake):
            for event in waiters or ():
                event.set()
            return
        if not conns:
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
        conns = [c for cs in self._by_channel.values() for c in cs]
        self._wake(conns, None)
        self._wake_waiters()

    def _wake_waiters(self) -> None:
        """Every sync waiting on this instance (``listen``) looks at the database again."""
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    # while the bus is down

    async def _resync(self) -> None:
        """While the bus is not healthy (wake-ups may be lost), every socket re-reads its
        mailbox (a wake with no sequence) and every waiting sync (``listen``: a GET sync
        long-poll, a ``matrix_sync`` frame) looks again every ``bus_resync_seconds``, so
        what is sent through any instance still arrives within seconds."""
        every = self.settings.bus_resync_seconds
        degraded = False
        while True:
            await asyncio.sleep(every)
            try:
                healthy = self.bus.healthy
                if healthy == degraded:
                    degraded = not healthy
                    log.warning(
                        "event bus degraded: sockets resync from the database"
                        if degraded
                        else "event bus healthy: sockets are woken by the bus again",
                        extra={"count": self.connection_count},
                    )
                if degraded:
                    self._wake([c for cs in self._by_channel.values() for c in cs], None)
                    self._wake_waiters()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("websocket resync failed", extra={"error_type": type(exc).__name__})

    @property
    def connection_count(self) -> int:
        return sum(len(cs) for cs in self._by_channel.values())

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
