"""The device's WebSocket: live delivery of the mailbox and live events.

``Live`` gets a ticket, opens ``/ws``, sends ``sync`` from the device's cursor and then
hands every pushed row to :meth:`client.messenger.Messenger.receive` (decrypt, store,
move the cursor, atomically) before acknowledging it; a room key among them is imported
there too, never handed on as a message. A dropped socket is reopened
with backoff and syncs from the cursor again, so nothing is lost and nothing reaches
the application twice. A revoked device (4403) or a refused sign-in stops for good.

Every transport failure (the server gone, a refused connection, a timeout, a 5xx or
429 while getting a ticket, a dropped socket) is a reconnect with backoff, never an
exception out of :meth:`Live.poll`; and ``poll`` always returns the messages it stored:
an error that must reach the caller (a revoked device, a bug in a handler) is raised by
the next call once those messages are in the caller's hands.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from client.api import ApiError
from client.messenger import Message, Messenger

log = logging.getLogger("kaari.client")

FATAL_CLOSE_CODES = {4403}
MAX_FRAME = 4 * 1024 * 1024
#: acknowledgements are coalesced: sent once the socket is quiet for ACK_QUIET seconds,
#: or ACK_EVERY seconds after the first unacknowledged row (each ack is a write)
ACK_QUIET = 0.05
ACK_EVERY = 0.25


class DeviceRevoked(Exception):
    pass


#: failures of the network or of a server that is restarting: reconnect with backoff
TRANSPORT_ERRORS = (
    OSError,  # refused, reset, unreachable (ConnectionError is one)
    TimeoutError,
    httpx.TransportError,  # the ticket request: ConnectError, ReadTimeout, ...
    InvalidHandshake,
    InvalidURI,
    ConnectionClosed,
)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiError):
        return exc.status >= 500 or exc.status == 429
    return isinstance(exc, TRANSPORT_ERRORS)


class Live:
    def __init__(
        self,
        messenger: Messenger,
        *,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.messenger = messenger
        self.on_event = on_event
        self.events: list[dict[str, Any]] = []
        self._ws: ClientConnection | None = None
        self._backoff = 0.2
        self.connects = 0
        self._acked = 0
        self._ack_due: float | None = None
        # an error to raise at the next poll, after this one returned what it stored
        self._pending: BaseException | None = None

    # connection

    def connect(self, timeout: float = 10.0) -> None:
        api = self.messenger.api
        ws = connect(api.ws_url(api.ws_ticket()), max_size=MAX_FRAME, open_timeout=timeout)
        ws.__enter__()  # this object owns the connection (closed in close())
        try:
            hello = json.loads(ws.recv(timeout=timeout))
        except ValueError:  # not JSON: a proxy's error page, say
            hello = {}
        if not isinstance(hello, dict) or hello.get("type") != "hello":
            ws.close()
            raise ConnectionError("the server did not greet with hello")
        cursor = self.messenger.cursor
        ws.send(json.dumps({"type": "sync", "afterSeq": cursor}))
        if cursor > 0:  # rows stored before a drop may not have been acknowledged yet
            ws.send(json.dumps({"type": "ack", "upToSeq": cursor}))
        self._ws = ws
        self._acked = cursor
        self._ack_due = None
        self._backoff = 0.2
        self.connects += 1

    def close(self) -> None:
        self._flush_ack()
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(*TRANSPORT_ERRORS):
                ws.close()

    def _reconnect(self, deadline: float) -> bool:
        self.close()
        while time.monotonic() < deadline:
            try:
                self.connect(timeout=max(0.5, min(10.0, deadline - time.monotonic())))
                return True
            except ApiError as exc:
                if exc.status in (401, 403):
                    raise DeviceRevoked(exc.code) from exc
                if not _transient(exc):
                    raise
            except TRANSPORT_ERRORS as exc:
                log.info("reconnecting", extra={"error_type": type(exc).__name__})
            self._pause(deadline)
        return False

    def _pause(self, deadline: float) -> None:
        pause = min(self._backoff, max(0.0, deadline - time.monotonic()))
        time.sleep(pause * (0.5 + random.random() / 2))  # noqa: S311 (jitter)
        self._backoff = min(self._backoff * 2, 5.0)

    def _flush_ack(self) -> None:
        """Acknowledge everything stored so far (the server deletes those rows)."""
        self._ack_due = None
        cursor = self.messenger.cursor
        if self._ws is None or cursor <= self._acked:
            return
        try:
            self._ws.send(json.dumps({"type": "ack", "upToSeq": cursor}))
            self._acked = cursor
        except TRANSPORT_ERRORS:
            self._ws = None  # the next connect acknowledges from the cursor

    # receiving

    def poll(self, seconds: float) -> list[Message]:
        """Handle frames for up to ``seconds``; the new messages (reconnecting, with
        backoff, whenever the connection fails). Raises only what the caller must act
        on (``DeviceRevoked``, a handler's bug), and then only with nothing stored left
        unreturned."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            raise pending
        new: list[Message] = []
        try:
            self._poll(time.monotonic() + seconds, new)
        except Exception as exc:
            if not new:
                raise
            self._pending = exc  # hand over what was stored first
        return new

    def _poll(self, deadline: float, new: list[Message]) -> None:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self._ws is None and not self._reconnect(deadline):
                return
            assert self._ws is not None
            wait = left
            if self._ack_due is not None:
                wait = max(0.0, min(left, ACK_QUIET, self._ack_due - time.monotonic()))
            try:
                raw = self._ws.recv(timeout=wait)
            except TimeoutError:
                if self._ack_due is not None:
                    self._flush_ack()
                    continue
                return
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                self._ws = None
                if code in FATAL_CLOSE_CODES:
                    raise DeviceRevoked("revoked") from exc
                continue
            try:
                new.extend(self._handle(json.loads(raw)))
            except Exception as exc:
                # a row was not consumed (e.g. the key directory was unreachable): drop
                # the socket, so the next connect syncs from the cursor instead of
                # acknowledging past the row with a later frame
                self._ack_due = None
                self.close()
                if not _transient(exc):
                    raise
                self._pause(deadline)
            if self._ack_due is not None and time.monotonic() >= self._ack_due:
                self._flush_ack()

    def wait_for(self, predicate: Callable[[list[Message]], bool], seconds: float) -> list[Message]:
        """Poll until ``predicate(all new messages so far)`` holds or time runs out."""
        deadline = time.monotonic() + seconds
        got: list[Message] = []
        while not predicate(got) and time.monotonic() < deadline:
            got.extend(self.poll(min(0.2, max(0.0, deadline - time.monotonic()))))
        return got

    def _handle(self, frame: dict[str, Any]) -> list[Message]:
        kind = frame.get("type")
        ws = self._ws
        if kind == "messages":
            new = self.messenger.receive(frame["items"])  # stored before it is acknowledged
            if self._ack_due is None:
                self._ack_due = time.monotonic() + ACK_EVERY
            return new
        if kind == "wake" and ws is not None:
            ws.send(json.dumps({"type": "sync", "afterSeq": self.messenger.cursor}))
        elif kind == "ping" and ws is not None:
            ws.send('{"type":"pong"}')
        elif kind == "event":
            self.events.append(frame)
            if self.on_event is not None:
                self.on_event(frame)
        elif kind == "error":
            log.warning("the server refused a frame", extra={"code": frame.get("code")})
        return []
