"""Mailbox delivery over the WebSocket (docs/messaging.md).

A device sends ``sync`` with its last acknowledged sequence; the server pushes every
row after it in ``messages`` frames and keeps pushing as wake-ups arrive. ``ack``
deletes rows the device has stored. One pump task per connection reads the mailbox
(never two at once, so rows go out once and in order) and waits while the socket's
outgoing queue is half full, so a large backlog drains at the device's pace instead
of overflowing into a resync.
"""

from __future__ import annotations

import asyncio
import logging

from app.messaging.schemas import AckedOut, AckIn, MailboxItem, MessagesOut, SyncIn
from app.messaging.service import MessagingService
from app.realtime.connection import Connection
from app.realtime.gateway import Gateway
from app.realtime.schemas import CLOSE_RESYNC, WakeOut

log = logging.getLogger("kaari.messaging")

STATE_KEY = "mailbox"
PAGE = 50
#: ciphertext bytes per ``messages`` frame (a client's default frame limit is 1 MiB)
FRAME_BYTES = 256 * 1024


class _Cursor:
    __slots__ = ("after", "again", "task")

    def __init__(self, after: int) -> None:
        self.after = after
        self.again = False
        self.task: asyncio.Task[None] | None = None


class MailboxDelivery:
    def __init__(self, messaging: MessagingService, queue_frames: int) -> None:
        self.messaging = messaging
        self.high_water = max(1, queue_frames // 2)

    def install(self, gateway: Gateway) -> None:
        gateway.on(SyncIn, self.on_sync)
        gateway.on(AckIn, self.on_ack)
        gateway.on_wake(self.on_wake)

    async def on_sync(self, conn: Connection, frame: SyncIn) -> None:
        cursor = conn.state.get(STATE_KEY)
        if cursor is None:
            cursor = conn.state[STATE_KEY] = _Cursor(frame.after_seq)
        else:
            cursor.after = frame.after_seq
        self._kick(conn, cursor)

    async def on_wake(self, conn: Connection, up_to: int | None) -> None:
        cursor = conn.state.get(STATE_KEY)
        if cursor is None:  # the device has not synced yet: tell it to
            conn.push(WakeOut(up_to_seq=up_to))
            return
        if up_to is not None and up_to <= cursor.after:
            return
        self._kick(conn, cursor)

    async def on_ack(self, conn: Connection, frame: AckIn) -> None:
        result = await self.messaging.acknowledge(conn.principal, frame.up_to_seq)
        conn.push(AckedOut(up_to_seq=result.up_to_seq, removed=result.removed))

    def _kick(self, conn: Connection, cursor: _Cursor) -> None:
        if cursor.task is not None and not cursor.task.done():
            cursor.again = True
            return
        cursor.again = False
        cursor.task = asyncio.get_running_loop().create_task(self._pump(conn, cursor))

    async def _pump(self, conn: Connection, cursor: _Cursor) -> None:
        try:
            while not conn.closing:
                # poll (10 ms) only while this socket is backlogged
                while conn.backlog >= self.high_water and not conn.closing:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
                after = cursor.after
                page = await self.messaging.fetch(conn.principal, after, PAGE)
                if cursor.after != after:  # a new sync moved the cursor meanwhile
                    continue
                for items in _frames(page.items):
                    if not conn.push(MessagesOut(items=items, up_to_seq=items[-1].seq)):
                        return
                cursor.after = page.up_to_seq
                if page.more:
                    continue
                if not cursor.again:
                    return
                cursor.again = False
        except Exception as exc:
            # e.g. the database was unreachable: without a pump, rows would wait for the
            # next wake-up; closing makes the device reconnect and sync from its cursor
            log.error("mailbox push failed", extra={"error_type": type(exc).__name__})
            conn.close(CLOSE_RESYNC, "resync")


def _frames(items: list[MailboxItem]) -> list[list[MailboxItem]]:
    frames: list[list[MailboxItem]] = []
    size = 0
    for item in items:
        n = len(item.ciphertext)
        if frames and size + n <= FRAME_BYTES:
            frames[-1].append(item)
            size += n
        else:
            frames.append([item])
            size = n
    return frames
