""" "Delivered to device" for room events (docs/matrix-api.md, *Deliveries*).

A room event is stored once, so delivery is not the deletion of a per-device copy: it is
a member's device acknowledging a sync position past the event (the ``since`` of its next
sync, as for to-device messages). When a device's acknowledged room position advances,
one row per newly covered event is recorded: events of the rooms the user is in (up to
the leave of a room left), encrypted, sent by another device, at or after the time this
device published its keys (a device that signed in later was not a recipient). The
sender's live devices are told at once (``room_event_delivered``, the newest event per
room); ``GET …/kaari.deliveries/{eventId}`` answers the sender who has received it.
Nothing about content is involved: positions, ids and times only.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.events import ROOM_EVENT_DELIVERED
from app.core.matrix import MatrixError, MatrixIds
from app.core.principal import Principal
from app.core.time import Clock
from app.keys.directory import KeyDirectory
from app.messaging import matrix_store as mx
from app.messaging.rooms import RoomService
from app.realtime.notifier import Notifier
from app.storage.engine import Database


def _not_found() -> MatrixError:
    return MatrixError(
        404, "M_NOT_FOUND", "No such event of yours in this room", code="event_not_found"
    )


class DeliveryReceipts:
    def __init__(
        self,
        db: Database,
        rooms: RoomService,
        keys: KeyDirectory,
        notifier: Notifier,
        ids: MatrixIds,
        clock: Clock,
    ) -> None:
        self.db = db
        self.clock = clock
        self.rooms = rooms
        self.keys = keys
        self.notifier = notifier
        self.ids = ids

    async def acknowledge(self, principal: Principal, room_pos: int) -> int:
        """The device's sync acknowledged the room stream up to ``room_pos``: record the
        deliveries this covers and tell the senders; how many were recorded."""
        now = self.clock()
        async with self.db.transaction() as conn:
            before = await mx.advance_room_ack(conn, principal.device_id, room_pos, now)
            if before is None:
                return 0
            keyed = await self.keys.keyed_at(conn, principal.device_id)
            if keyed is None:
                return 0  # a device without keys receives no room keys: nothing delivered
            rows = await mx.events_delivered_to(
                conn,
                principal.device_id,
                principal.user_id,
                (before, room_pos),
                int(keyed.timestamp() * 1000),
            )
            await mx.insert_deliveries(
                conn,
                [
                    {
                        "event_pos": r.pos,
                        "device_id": principal.device_id,
                        "user_id": principal.user_id,
                        "delivered_at": now,
                    }
                    for r in rows
                ],
            )
            senders = {r.sender_user_id for r in rows}
            audience = await self.keys.live_devices(conn, senders) if senders else {}
        newest: dict[tuple[UUID, UUID], str] = {}
        for r in rows:  # in stream order: the last one per (sender, room) is the newest
            newest[(r.sender_user_id, r.room_id)] = r.event_id
        for (sender, room_id), event_id in newest.items():
            devices = [d for d, u in audience.items() if u == sender]
            await self.notifier.send_event(
                devices,
                ROOM_EVENT_DELIVERED,
                {
                    "roomId": self.ids.room(room_id),
                    "eventId": event_id,
                    "deviceId": principal.device_id,
                },
            )
        return len(rows)

    async def deliveries(
        self, principal: Principal, room_mxid: str, event_id: str
    ) -> dict[str, Any]:
        """Which devices have received the caller's event (the sender's devices only)."""
        async with self.db.read() as conn:
            room = await self.rooms.access(conn, principal, room_mxid)
            event = await mx.event_in_room(conn, room.id, event_id)
            if event is None or event.sender_user_id != principal.user_id:
                raise _not_found()
            rows = await mx.deliveries_of(conn, event.pos)
            recipients = await self._recipients(conn, event)
        return {
            "event_id": event_id,
            "recipients": recipients,
            "delivered": [
                {
                    "user_id": self.ids.user(r.user_id),
                    "device_id": str(r.device_id),
                    "delivered_ts": int(r.delivered_at.timestamp() * 1000),
                }
                for r in rows
            ],
        }

    async def _recipients(self, conn: AsyncConnection, event: Any) -> int:
        """The room's live keyed devices that existed when the event was sent, but its own."""
        members = await mx.joined_users(conn, event.room_id)
        count = 0
        for _, device_id, _, _ in await self.keys.device_set(conn, members):
            if device_id == event.sender_device_id:
                continue
            keyed = await self.keys.keyed_at(conn, device_id)
            if keyed is not None and int(keyed.timestamp() * 1000) <= event.origin_server_ts:
                count += 1
        return count
