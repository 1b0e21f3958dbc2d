"""Rooms at the Matrix paths (docs/matrix-api.md): a room is a Kaari thread, its members
the case's (``THREAD_ROLES``), its timeline of Megolm room events stored once each at a
global stream position.

* Membership is derived from the case, as for threads; the room's timeline records it as
  ``m.room.member`` events, written when a member's arrival or departure is first seen
  (by a send, a sync, ``messages`` or ``joined_members``), so a removed member's sync can
  say ``rooms.leave`` once, and nothing of the room after it.
* Only Megolm ciphertexts are accepted (``m.room.encrypted``, ``m.megolm.v1.aes-sha2``):
  the server never stores a room event's plaintext.
* The device-set check (a Kaari extension, stronger than Matrix): ``kaari.device_epoch``
  names the room's current device set (every live, keyed device of its members). A send
  must carry the epoch the client encrypted for (``?kaari_device_epoch=``); any other is
  refused with 409 ``device_set_changed`` and the current epoch, so no device that
  existed when an event was accepted misses its room key.
* A send is idempotent by (room, device, transaction id); the event's ``sender`` is the
  authenticated user. The members' devices are woken after the commit.
* A send to a family or child room is a content-free ``message`` notice (push by default)
  to the room's other members, in the send's transaction: at most one per member and room
  in ``message_notice_minutes`` (remembered per instance), none for an event the sender
  marks ``?kaari_notify=0`` (appointment details and cancellation notes, which their own
  notices announce). The server cannot tell a text from other content: that is the hint.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from app.cases.service import CaseService, ReadKind
from app.config import Settings
from app.core import events as ev
from app.core.body import decode_body
from app.core.content_rooms import ContentRoom
from app.core.errors import BadRequest, NotFound
from app.core.events import DomainEvent, EventSink
from app.core.matrix import MatrixError, MatrixIds
from app.core.principal import Principal
from app.core.time import Clock
from app.keys.directory import KeyDirectory
from app.messaging import matrix_store as mx
from app.messaging import store
from app.messaging.room_kinds import (
    CHILD,
    DOCUMENTS,
    FAMILY,
    HOMEWORK,
    ROOM_ROLES,
    ROOM_SCOPES,
    may_join,
    room_kinds_for,
)
from app.messaging.service import thread_id_of
from app.realtime.notifier import Notifier
from app.storage.engine import Database

MEGOLM = "m.megolm.v1.aes-sha2"
MAX_EVENT_BYTES = 65_536
MAX_PAGE = 100
EPOCH_PARAM = "kaari_device_epoch"
NOTIFY_PARAM = "kaari_notify"
#: the rooms whose events are a "new message" notice
NOTICE_ROOMS = (FAMILY, CHILD)
#: the most (member, room) pairs remembered for the notice interval
MAX_NOTICE_MEMORY = 100_000
#: what a read of a room's events is in the family's access log (else ``messages``)
READ_KINDS: dict[str, ReadKind] = {HOMEWORK: "homework", DOCUMENTS: "documents"}

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(dict[str, Any])


@dataclass(frozen=True, slots=True)
class Room:
    id: UUID
    case_id: UUID
    kind: str


def not_found() -> MatrixError:
    return MatrixError(404, "M_NOT_FOUND", "No such room", code="room_not_found")


def device_set_changed(epoch: str) -> MatrixError:
    return MatrixError(
        409,
        "FI.KAARI.DEVICE_SET_CHANGED",
        "The room's devices changed: query keys, share the session with the new devices, "
        "encrypt again and send with the new kaari_device_epoch",
        code="device_set_changed",
        extra={"kaari.device_epoch": epoch},
    )


def epoch_of(devices: Iterable[tuple[UUID, UUID, str, str]]) -> str:
    """The device epoch: a digest of the (user, device, keys) set, so it changes exactly
    when the set does (a member joins or leaves, a device appears, is revoked or re-keyed)."""
    lines = sorted(f"{u}|{d}|{c}|{e}" for u, d, c, e in devices)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:32]


class RoomService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        cases: CaseService,
        keys: KeyDirectory,
        notifier: Notifier,
        ids: MatrixIds,
        clock: Clock,
        notices: EventSink,
    ) -> None:
        self.notices = notices
        self._noticed: dict[tuple[UUID, UUID], datetime] = {}
        self.db = db
        self.clock = clock
        self.settings = settings
        self.cases = cases
        self.keys = keys
        self.notifier = notifier
        self.ids = ids

    # rooms and members

    async def rooms_of(self, conn: AsyncConnection, principal: Principal) -> list[Room]:
        """The rooms the caller is in now (by the case), created if new."""
        rooms: list[Room] = []
        for m in await self.cases.memberships(conn, principal):
            rooms += [Room(thread_id_of(m.case_id, k), m.case_id, k) for k in room_kinds_for(m)]
        return rooms

    async def ensure(self, principal: Principal) -> list[Room]:
        """Create the caller's rooms if new and bring each room's membership events up to
        date with the case (a write only when something changed)."""
        async with self.db.read() as conn:
            rooms = await self.rooms_of(conn, principal)
            known = {r.room_id for r in await mx.rooms_of_user(conn, principal.user_id) if r.joined}
            stale = [r for r in rooms if not await self._in_step(conn, r)]
            for room_id in known - {r.id for r in rooms}:
                row = await store.get_thread(conn, room_id)
                if row is not None:
                    stale.append(Room(row.id, row.case_id, row.kind))
        if stale:
            async with self.db.transaction() as conn:
                for room in stale:
                    await self.reconcile(conn, room)
        return rooms

    async def _members_now(self, conn: AsyncConnection, room: Room) -> set[UUID]:
        roles = ROOM_ROLES[room.kind]
        scope = ROOM_SCOPES.get(room.kind)
        if scope is None:
            return set(await self.cases.active_members(conn, room.case_id, roles))
        return set(await self.cases.active_members_granted(conn, room.case_id, roles, scope))

    async def _in_step(self, conn: AsyncConnection, room: Room) -> bool:
        return await mx.joined_users(conn, room.id) == await self._members_now(conn, room)

    async def reconcile(self, conn: AsyncConnection, room: Room) -> set[UUID]:
        """In a transaction: write the membership events the case implies; the members."""
        now = self.clock()
        await store.ensure_threads(
            conn, [{"id": room.id, "case_id": room.case_id, "kind": room.kind, "created_at": now}]
        )
        await mx.lock_room_stream(conn)
        members = await self._members_now(conn, room)
        rows = await mx.room_member_rows(conn, room.id)
        joined = {u for u, r in rows.items() if r.joined}
        for user_id, membership in sorted(
            [(u, "join") for u in members - joined] + [(u, "leave") for u in joined - members]
        ):
            pos = await mx.insert_event(
                conn,
                event_id=_event_id(),
                room_id=room.id,
                sender_user_id=user_id,
                sender_device_id=None,
                type="m.room.member",
                state_key=self.ids.user(user_id),
                content=_encoder.encode({"membership": membership}).decode(),
                origin_server_ts=_ms(now),
                txn_id=None,
                expires_at=now + timedelta(days=self.settings.room_event_retention_days),
            )
            await mx.put_member(conn, room.id, user_id, joined=membership == "join", pos=pos)
        return members

    async def access(self, conn: AsyncConnection, principal: Principal, room_mxid: str) -> Room:
        """The room, if the caller is a member now; 404 for anyone else (no enumeration)."""
        room_id = self.ids.parse_room(room_mxid)
        if room_id is None:
            raise not_found()
        row = await store.get_thread(conn, room_id)
        if row is None:  # a room of the caller's case not used yet
            for room in await self.rooms_of(conn, principal):
                if room.id == room_id:
                    return room
            raise not_found()
        try:
            membership = await self.cases.access(conn, principal, row.case_id)
        except NotFound:
            raise not_found() from None
        if not may_join(row.kind, membership.role, membership.scopes):
            raise not_found()
        return Room(row.id, row.case_id, row.kind)

    async def device_epoch(self, conn: AsyncConnection, room: Room, members: set[UUID]) -> str:
        return epoch_of(await self.keys.device_set(conn, members))

    async def joined_members(self, principal: Principal, room_mxid: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            room = await self.access(conn, principal, room_mxid)
            in_step = await self._in_step(conn, room)
        if not in_step:
            async with self.db.transaction() as conn:
                await self.reconcile(conn, room)
        async with self.db.read() as conn:
            members = await mx.joined_users(conn, room.id)
            epoch = await self.device_epoch(conn, room, members)
        return {
            "joined": {self.ids.user(u): {} for u in sorted(members, key=str)},
            "kaari.device_epoch": epoch,
        }

    # sending

    async def send(
        self,
        principal: Principal,
        room_mxid: str,
        event_type: str,
        txn_id: str,
        body: bytes,
        epoch: str | None,
        notify: bool = True,
    ) -> dict[str, str]:
        content = _check_event(event_type, txn_id, body)
        now = self.clock()
        async with self.db.transaction() as conn:
            room = await self.access(conn, principal, room_mxid)
            first = await mx.event_by_txn(conn, room.id, principal.device_id, txn_id)
            if first is not None:
                return {"event_id": first.event_id}
            members = await self.reconcile(conn, room)
            current = await self.device_epoch(conn, room, members)
            if epoch != current:
                raise device_set_changed(current)
            event_id = _event_id()
            await mx.insert_event(
                conn,
                event_id=event_id,
                room_id=room.id,
                sender_user_id=principal.user_id,
                sender_device_id=principal.device_id,
                type=event_type,
                state_key=None,
                content=_encoder.encode(content).decode(),
                origin_server_ts=_ms(now),
                txn_id=txn_id,
                expires_at=now + timedelta(days=self.settings.room_event_retention_days),
            )
            devices = await self.keys.live_devices(conn, members)
            noticed = await self._notice(conn, room, members, principal.user_id) if notify else []
        if noticed:  # remembered once committed: a send that rolls back silences nobody
            now = self.clock()
            if len(self._noticed) > MAX_NOTICE_MEMORY:
                self._noticed.clear()  # at worst one notice too many, never a lost one
            self._noticed.update(((u, room.id), now) for u in noticed)
            self.notices.wake()
        await self.notifier.wake_sync(devices)
        return {"event_id": event_id}

    async def _notice(
        self, conn: AsyncConnection, room: Room, members: Iterable[UUID], sender: UUID
    ) -> list[UUID]:
        """The ``message`` notice of a new event, in the send's transaction; whom it went
        to (nobody: none queued)."""
        if room.kind not in NOTICE_ROOMS:
            return []
        now = self.clock()
        quiet_for = timedelta(minutes=self.settings.message_notice_minutes)
        recipients = [
            u for u in members
            if u != sender and now - self._noticed.get((u, room.id), _LONG_AGO) >= quiet_for
        ]  # fmt: skip
        if not recipients:
            return []
        ids = {"caseId": room.case_id, "room": room.kind}
        event = DomainEvent(ev.MESSAGE, ids, recipients, case_id=room.case_id)
        return recipients if await self.notices.record(conn, event) > 0 else []

    # reading

    def client_event(self, row: Any, device_id: UUID | None) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": row.type,
            "content": _decoder.decode(row.content),
            "event_id": row.event_id,
            "sender": self.ids.user(row.sender_user_id),
            "origin_server_ts": row.origin_server_ts,
            "room_id": self.ids.room(row.room_id),
            "unsigned": {},
        }
        if row.state_key is not None:
            event["state_key"] = row.state_key
        if row.txn_id is not None and row.sender_device_id == device_id:
            event["unsigned"]["transaction_id"] = row.txn_id
        return event

    async def event(self, principal: Principal, room_mxid: str, event_id: str) -> dict[str, Any]:
        """One event of the room, for a current member (``rooms/{id}/event/{eventId}``)."""
        async with self.db.read() as conn:
            room = await self.access(conn, principal, room_mxid)
            row = await mx.event_by_id(conn, event_id) if len(event_id) <= 255 else None
        if row is None or row.room_id != room.id:
            raise MatrixError(404, "M_NOT_FOUND", "No such event", code="event_not_found")
        await self.cases.note_read(principal, room.case_id, _read_kind(room.kind))
        return self.client_event(row, principal.device_id)

    # case content (other domains ask through app.core.content_rooms.ContentRooms)

    def content_room(self, case_id: UUID, kind: ContentRoom) -> str:
        """The Matrix id of the case's room of this kind (``homework``: homework content;
        ``family``: appointment details and cancellation notes; ``documents``: therapy
        documents and requests' notes)."""
        return self.ids.room(thread_id_of(case_id, kind))

    async def event_from(
        self, conn: AsyncConnection, case_id: UUID, kind: ContentRoom, event_id: str,
        device_id: UUID,
    ) -> bool:  # fmt: skip
        """Is ``event_id`` an encrypted event of the case's room of this kind sent by
        this device?"""
        row = await mx.event_by_id(conn, event_id) if len(event_id) <= 255 else None
        return (
            row is not None
            and row.room_id == thread_id_of(case_id, kind)
            and row.sender_device_id == device_id
            and row.type == "m.room.encrypted"
        )

    async def keep_file(
        self, conn: AsyncConnection, case_id: UUID, kind: ContentRoom, blob_id: UUID,
        device_id: UUID,
    ) -> int | None:  # fmt: skip
        """The size of ``blob_id`` if it is a live attachment this device uploaded to the
        case's room of this kind (None otherwise); it is then kept as long as the room's
        events (a document outlives the 30 days of a message's file)."""
        row = await store.get_attachment(conn, blob_id)
        if (
            row is None
            or row.thread_id != thread_id_of(case_id, kind)
            or row.uploader_device_id != device_id
            or row.expires_at <= self.clock()
        ):
            return None
        until = self.clock() + timedelta(days=self.settings.room_event_retention_days)
        if row.expires_at < until:
            await store.extend_attachment(conn, blob_id, until)
        return int(row.size)

    async def messages(
        self,
        principal: Principal,
        room_mxid: str,
        start: int | None,
        end: int | None,
        backwards: bool,
        limit: int,
    ) -> dict[str, Any]:
        limit = max(1, min(limit, MAX_PAGE))
        async with self.db.read() as conn:
            room = await self.access(conn, principal, room_mxid)
            head = await mx.room_head(conn)
            if backwards:
                frm = head if start is None else min(start, head)
                stop = end or 0
                rows = await mx.events_between(
                    conn, room.id, stop, frm, limit + 1, newest_first=True
                )
            else:
                frm = 0 if start is None else start
                stop = head if end is None else min(end, head)
                rows = await mx.events_between(
                    conn, room.id, frm, stop, limit + 1, newest_first=False
                )
        await self.cases.note_read(principal, room.case_id, _read_kind(room.kind))
        more, rows = len(rows) > limit, rows[:limit]
        out: dict[str, Any] = {
            "start": f"p{frm}",
            "chunk": [self.client_event(r, principal.device_id) for r in rows],
        }
        if more and rows:
            out["end"] = f"p{rows[-1].pos - 1}" if backwards else f"p{rows[-1].pos}"
        return out


_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


def _read_kind(kind: str) -> ReadKind:
    """The access log's kind of a read of this room's events."""
    return READ_KINDS.get(kind, "messages")


def _check_event(event_type: str, txn_id: str, body: bytes) -> dict[str, Any]:
    """The event's content, decoded by the rules of every body (app/core/body.py: no
    duplicate keys, integers within 64 bits, no NUL), before anything else is checked."""
    if len(body) > MAX_EVENT_BYTES:
        raise MatrixError(413, "M_TOO_LARGE", "An event is at most 64 KiB", code="event_too_large")
    try:
        content = decode_body(body, Any)
    except BadRequest:
        content = None
    if not isinstance(content, dict):
        raise MatrixError(400, "M_NOT_JSON", "The content is not a JSON object", code="not_json")
    if not (0 < len(txn_id) <= 255) or not txn_id.isprintable():
        raise MatrixError(400, "M_INVALID_PARAM", "Bad transaction id", code="invalid_txn_id")
    if event_type != "m.room.encrypted":
        raise MatrixError(
            400,
            "M_FORBIDDEN",
            "Kaari's rooms take only m.room.encrypted events (never plaintext)",
            code="encrypted_events_only",
        )
    if (
        content.get("algorithm") != MEGOLM
        or not isinstance(content.get("ciphertext"), str)
        or not isinstance(content.get("session_id"), str)
    ):
        raise MatrixError(
            400,
            "M_BAD_JSON",
            f"Content must be {MEGOLM} with ciphertext and session_id",
            code="not_megolm",
        )
    return content


def _event_id() -> str:
    return "$" + secrets.token_urlsafe(32)


def _ms(at: Any) -> int:
    return int(at.timestamp() * 1000)


def parse_position(token: str | None) -> int | None:
    """A pagination token: ``p<pos>`` (from ``messages`` or a ``prev_batch``) or a sync
    token (``next_batch``); None when absent."""
    if token is None or token == "":
        return None
    text = token[1:] if token.startswith("p") else token.partition("_")[0].removeprefix("k")
    if not text.isdigit() or len(text) > 18:
        raise MatrixError(400, "M_INVALID_PARAM", "Bad pagination token", code="invalid_token")
    return int(text)
