"""``GET /_matrix/client/v3/sync`` and ``keys/changes`` (docs/matrix-api.md).

The subset a crypto client needs: ``to_device.events``, ``device_lists.changed/left``,
``device_one_time_keys_count``, ``device_unused_fallback_key_types``, and per room
``rooms.join.<id>.timeline`` (``events``, ``limited``, ``prev_batch``, plus the Kaari
extension ``kaari.device_epoch``) and ``rooms.leave`` for the rooms the user has left.

* A token is ``k<room stream>_<to-device seq>_<device-list stream>_<history tag>``. A
  ``since`` token acknowledges the to-device messages up to its sequence (they are
  deleted) and the room events up to its room position (recorded as delivered:
  app/messaging/receipts.py).
* The history tag names the room event at the token's position. If that event is no
  longer there, the database was restored to an earlier point (positions are reused): the
  token is not trusted, nothing is acknowledged, and the answer is a first sync marked
  ``kaari.resync: true``, so the device resynchronises instead of skipping what comes.
* With ``since`` and nothing new, the request waits up to ``timeout`` ms (at most 30 s)
  for a wake-up on the bus (``Gateway.listen``), then looks again; the database is the
  truth, the wake-up only ends the wait early.
* ``device_lists.changed``: users who share a case with the caller whose keys changed,
  users who joined one of the caller's rooms, and every member of a room the caller
  joined; ``left``: users who left a room of the caller (or whose room the caller left)
  and share no case with the caller any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.matrix import MatrixError, MatrixIds
from app.core.principal import Principal
from app.core.time import Clock
from app.keys.directory import KeyDirectory
from app.messaging import matrix_store as mx
from app.messaging.receipts import DeliveryReceipts
from app.messaging.rooms import RoomService, epoch_of
from app.realtime.gateway import Gateway
from app.storage.engine import Database

log = logging.getLogger("kaari.messaging")

TIMELINE_LIMIT = 20
TO_DEVICE_LIMIT = 100
MAX_TIMEOUT_MS = 30_000

_decoder = msgspec.json.Decoder(dict[str, Any])
_TAG = re.compile(r"[0-9a-f]{8}")


def history_tag(event_id: str | None) -> str:
    """Names the room event at a token's position: ``0`` for none, else 8 hex digits of
    its id's SHA-256. A database restored to an earlier point has another event (or none)
    at that position, so the tag shows the token is from a history that is gone."""
    if event_id is None:
        return "0"
    return hashlib.sha256(event_id.encode()).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class Token:
    room: int
    to_device: int
    device_lists: int
    tag: str | None = None
    """:func:`history_tag` of the room event at ``room`` (absent in three-part tokens)"""

    def text(self) -> str:
        base = f"k{self.room}_{self.to_device}_{self.device_lists}"
        return base if self.tag is None else f"{base}_{self.tag}"

    @classmethod
    def parse(cls, text: str) -> Token:
        parts = text.removeprefix("k").split("_")
        numbers, tag = parts[:3], parts[3] if len(parts) == 4 else None
        if (
            not text.startswith("k")
            or len(parts) not in (3, 4)
            or not all(p.isdigit() and len(p) <= 18 for p in numbers)
            or (tag is not None and not (tag == "0" or _TAG.fullmatch(tag)))
        ):
            raise MatrixError(400, "M_INVALID_PARAM", "Bad sync token", code="invalid_token")
        return cls(int(numbers[0]), int(numbers[1]), int(numbers[2]), tag)


class SyncService:
    def __init__(
        self,
        db: Database,
        rooms: RoomService,
        keys: KeyDirectory,
        gateway: Gateway,
        ids: MatrixIds,
        receipts: DeliveryReceipts,
        clock: Clock,
    ) -> None:
        self.db = db
        self.clock = clock
        self.rooms = rooms
        self.keys = keys
        self.gateway = gateway
        self.receipts = receipts
        self.ids = ids

    async def sync(
        self, principal: Principal, since: str | None, timeout_ms: int
    ) -> dict[str, Any]:
        body, _ = await self.sync_once_or_wait(principal, since, timeout_ms)
        return body

    async def sync_once_or_wait(
        self, principal: Principal, since: str | None, timeout_ms: int
    ) -> tuple[dict[str, Any], bool]:
        """The sync body and whether it is empty (nothing new after ``since``)."""
        token = Token.parse(since) if since else None
        timeout = max(0, min(timeout_ms, MAX_TIMEOUT_MS)) / 1000
        await self.rooms.ensure(principal)
        rewound = token is not None and not await self._history_holds(token)
        if rewound:
            # The database was restored to before this token (a backup): what the device
            # saw is gone and positions are reused. Acknowledge nothing and answer as a
            # first sync, marked, so the device resynchronises instead of skipping.
            log.warning("sync token from a history the database no longer has: resync")
            token = None
        if token is not None:
            await self._acknowledge(principal, token.to_device)
            await self.receipts.acknowledge(principal, token.room)
        deadline = time.monotonic() + timeout
        async with self.gateway.listen(principal.device_id) as woken:
            while True:
                woken.clear()
                async with self.db.read() as conn:
                    body, empty = await self._compute(conn, principal, token)
                if rewound:
                    body["kaari.resync"] = True
                    return body, False
                left = deadline - time.monotonic()
                if token is None or not empty or left <= 0:
                    return body, empty
                with contextlib.suppress(TimeoutError):  # not wait_for: see Outbox.loop
                    async with asyncio.timeout(left):
                        await woken.wait()

    async def _history_holds(self, token: Token) -> bool:
        """Is the room event the token names still at its position (or no tag to check)?"""
        if token.tag is None:
            return True
        async with self.db.read() as conn:
            event_id = await mx.event_id_at(conn, token.room)
        return history_tag(event_id) == token.tag

    async def _acknowledge(self, principal: Principal, up_to: int) -> None:
        async with self.db.read() as conn:
            pending = await mx.has_to_device_upto(conn, principal.device_id, up_to)
        if pending:
            async with self.db.transaction() as conn:
                await mx.delete_to_device(conn, principal.device_id, up_to)

    async def _compute(
        self, conn: AsyncConnection, principal: Principal, since: Token | None
    ) -> tuple[dict[str, Any], bool]:
        room_head = await mx.room_head(conn)
        list_head = await self.keys.device_list_head(conn)
        after_room = since.room if since else 0
        after_seq = since.to_device if since else 0
        to_device = await mx.to_device_after(
            conn, principal.device_id, after_seq, TO_DEVICE_LIMIT, self.clock()
        )
        memberships = await mx.rooms_of_user(conn, principal.user_id)
        join: dict[str, Any] = {}
        leave: dict[str, Any] = {}
        for m in memberships:
            up_to = room_head if m.joined else m.pos
            if not m.joined and (since is None or m.pos <= after_room):
                continue
            rows = await mx.events_between(
                conn, m.room_id, after_room, up_to, TIMELINE_LIMIT + 1, newest_first=True
            )
            limited, rows = len(rows) > TIMELINE_LIMIT, rows[:TIMELINE_LIMIT][::-1]
            if m.joined and since is not None and not rows:
                continue
            entry: dict[str, Any] = {
                "timeline": {
                    "events": [self.rooms.client_event(r, principal.device_id) for r in rows],
                    "limited": limited,
                    "prev_batch": f"p{rows[0].pos - 1}" if rows else f"p{after_room}",
                },
                "state": {"events": []},
            }
            if m.joined:
                members = await mx.joined_users(conn, m.room_id)
                entry["kaari.device_epoch"] = await self.keys_epoch(conn, members)
                join[self.ids.room(m.room_id)] = entry
            else:
                leave[self.ids.room(m.room_id)] = entry
        changed: set[UUID] = set()
        gone: set[UUID] = set()
        if since is not None:
            changed, gone = await self.device_lists(
                conn,
                principal,
                memberships,
                (after_room, room_head),
                (since.device_lists, list_head),
            )
        counts, fallback = await self.keys.key_counts(conn, principal.device_id)
        last_seq = to_device[-1].seq if to_device else after_seq
        body: dict[str, Any] = {
            "next_batch": Token(
                room_head, last_seq, list_head, history_tag(await mx.event_id_at(conn, room_head))
            ).text(),
            "rooms": {"join": join, "leave": leave, "invite": {}},
            "to_device": {
                "events": [
                    {
                        "sender": self.ids.user(r.sender_user_id),
                        "type": r.type,
                        "content": _decoder.decode(r.content),
                    }
                    for r in to_device
                ]
            },
            "device_lists": {
                "changed": sorted(self.ids.user(u) for u in changed),
                "left": sorted(self.ids.user(u) for u in gone),
            },
            "device_one_time_keys_count": counts,
            "device_unused_fallback_key_types": fallback,
        }
        empty = not (to_device or join or leave or changed or gone)
        return body, empty

    async def keys_epoch(self, conn: AsyncConnection, members: set[UUID]) -> str:
        return epoch_of(await self.keys.device_set(conn, members))

    async def device_lists(
        self,
        conn: AsyncConnection,
        principal: Principal,
        memberships: list[Any],
        rooms: tuple[int, int],
        lists: tuple[int, int],
    ) -> tuple[set[UUID], set[UUID]]:
        me = principal.user_id
        co = await self.keys.co_members(conn, me)
        changed = await self.keys.changed_users(conn, lists[0], lists[1], co)
        gone: set[UUID] = set()
        room_ids = [m.room_id for m in memberships]
        for e in await mx.membership_events(conn, room_ids, rooms[0], rooms[1]):
            membership = _decoder.decode(e.content).get("membership")
            if membership == "join":
                if e.sender_user_id == me:
                    changed |= await mx.joined_users(conn, e.room_id)
                else:
                    changed.add(e.sender_user_id)
            elif membership == "leave":
                if e.sender_user_id == me:
                    gone |= await mx.joined_users(conn, e.room_id)
                else:
                    gone.add(e.sender_user_id)
        gone = {u for u in gone if u not in co}
        return changed - gone, gone

    async def key_changes(self, principal: Principal, frm: str, to: str) -> dict[str, Any]:
        start, end = Token.parse(frm), Token.parse(to)
        async with self.db.read() as conn:
            memberships = await mx.rooms_of_user(conn, principal.user_id)
            changed, gone = await self.device_lists(
                conn,
                principal,
                memberships,
                (start.room, end.room),
                (start.device_lists, end.device_lists),
            )
        return {
            "changed": sorted(self.ids.user(u) for u in changed),
            "left": sorted(self.ids.user(u) for u in gone),
        }
