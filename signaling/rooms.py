"""Rooms of video appointments, the waiting room and the call relay (docs/signaling.md).

A room is the appointment (``roomId`` = appointment id). It is open from
``KAARI_ROOM_OPEN_BEFORE_MINUTES`` before the start to ``KAARI_ROOM_GRACE_MINUTES``
after the end. Its therapists, and the guardians and the child of its cases whose
attendance is not cancelled, may enter; caregivers and admins may not. Therapists are
admitted at once; family members wait until a therapist admits them (or auto-admit is
on). One seat per user, keyed by device: a dropped socket keeps the seat (and its
place in the waiting room) for ``KAARI_ROOM_SEAT_GRACE_SECONDS``; ``room_join`` again
from the same device resumes it.

Signals go to one admitted peer of the same room, through ``Notifier.push_frame``
(the bus), so peers may be on different instances. Room state is shared through
``signaling.roomstate`` (Redis when configured, else memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec

from signaling.ports import (
    AppointmentFacts,
    AppointmentFactsSource,
    Conflict,
    Connection,
    Forbidden,
    Gateway,
    Gone,
    InvalidInput,
    NotFound,
    Notifier,
    Principal,
    Settings,
)
from signaling.roomstate import Room, RoomStore, Seat, SeatRole
from signaling.schemas_rooms import (
    MAX_SIGNAL_PAYLOAD,
    ParticipantOut,
    RoomAdmitIn,
    RoomJoinIn,
    RoomLeaveIn,
    RoomStateOut,
    SignalIn,
    SignalOut,
)

log = logging.getLogger("kaari.signaling")

STATE_KEY = "rooms"
FAMILY_ROLES = ("guardian", "child")
#: each instance refreshes its seats this often; a seat not refreshed for STALE_AFTER
#: (its instance died) counts as dropped since its last refresh
TOUCH_EVERY = 10.0
STALE_AFTER = 3 * TOUCH_EVERY
_encoder = msgspec.json.Encoder()


@dataclass(slots=True)
class _Local:
    """This socket's view of one room it joined."""

    epoch: int
    seqs: dict[UUID, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Limits:
    participants: int
    children: int
    #: who the room waits for: its therapists and its attending cases (one party each)
    therapists: frozenset[str]
    cases: frozenset[str]


def _frame_text(frame: Any) -> str:
    return _encoder.encode(frame).decode()


def room_limits(settings: Settings, facts: AppointmentFacts) -> Limits:
    """Seats of a room: its therapists plus, for each case still attending, its guardians
    and its child; at most ``KAARI_ROOM_MAX_PARTICIPANTS``. Children: one per attending
    case (the group's booked size: the appointment rules allow 2-4 children or 3-5 adults
    per leading therapist), at most ``KAARI_ROOM_MAX_CHILDREN`` per leading therapist."""
    active = [c for c in facts.cases if c.status != "cancelled"]
    family = sum(1 for c in active for role in c.members.values() if role in FAMILY_ROLES)
    therapists = max(1, len(facts.therapist_ids))
    return Limits(
        participants=min(settings.room_max_participants, len(facts.therapist_ids) + family),
        children=min(len(active), settings.room_max_children * therapists),
        therapists=frozenset(str(t) for t in facts.therapist_ids),
        cases=frozenset(str(c.case_id) for c in active),
    )


def seat_refusal(
    room: Room, limits: Limits, role: SeatRole, case_id: str | None
) -> Conflict | None:
    """Why a new seat cannot be had, or None. While the room waits for some of its
    therapists or families, a family that already has a seat takes no more than leaves
    one free seat for each of them: every booked family gets in."""
    free = limits.participants - len(room.seats)
    if free <= 0:
        return Conflict("The room is full", code="room_full")
    if role == "child":
        children = sum(1 for s in room.seats.values() if s.role == "child")
        if children >= limits.children:
            return Conflict(f"The room seats at most {limits.children} children", code="room_full")
    seated_cases = {s.case_id for s in room.seats.values() if s.case_id is not None}
    if role != "therapist" and case_id in seated_cases:
        seated_users = {s.user_id for s in room.seats.values()}
        missing = len(limits.therapists - seated_users) + len(limits.cases - seated_cases)
        if free - 1 < missing:
            return Conflict(
                "The room's free seats are kept for those not here yet",
                code="room_seats_kept",
            )
    return None


def _not_found() -> NotFound:
    return NotFound("No such room", code="room_not_found")


class Rooms:
    def __init__(
        self,
        settings: Settings,
        store: RoomStore,
        facts: AppointmentFactsSource,
        notifier: Notifier,
        *,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.store = store
        self.facts = facts
        self.notifier = notifier
        self.clock = clock
        self.grace = settings.room_seat_grace_seconds
        # sockets on this instance holding seats: connection id -> (conn)
        self._local: dict[str, Connection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._toucher: asyncio.Task[None] | None = None

    def install(self, gateway: Gateway) -> None:
        gateway.on(RoomJoinIn, self.on_join)
        gateway.on(RoomLeaveIn, self.on_leave)
        gateway.on(RoomAdmitIn, self.on_admit)
        gateway.on(SignalIn, self.on_signal)
        gateway.on_close(self.on_close)

    async def start(self) -> None:
        self._toucher = asyncio.get_running_loop().create_task(
            self._touch_loop(), name="kaari-rooms-touch"
        )

    async def close(self) -> None:
        tasks = [t for t in (self._toucher, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # entering

    def _entry(
        self, facts: AppointmentFacts | None, principal: Principal
    ) -> tuple[SeatRole, str | None]:
        """The caller's role in the room and case, or the refusal (before the window)."""
        if facts is None or facts.org_id != principal.org_id:
            raise _not_found()
        role: SeatRole | None = None
        case_id: str | None = None
        if principal.user_id in facts.therapist_ids:
            role = "therapist"
        else:
            member_somewhere = False
            for case in facts.cases:
                case_role = case.members.get(principal.user_id)
                if case_role is None:
                    continue
                member_somewhere = True
                if case_role in FAMILY_ROLES:
                    if case.status == "cancelled":
                        raise Gone(
                            "Your family's place in this session was cancelled",
                            code="room_cancelled",
                        )
                    role = "guardian" if case_role == "guardian" else "child"
                    case_id = str(case.case_id)
                    break
            if role is None:
                if member_somewhere:
                    raise Forbidden(
                        "Only the session's therapists, guardians and child may enter",
                        code="room_not_allowed",
                    )
                raise _not_found()
        if facts.place_kind != "video":
            raise Conflict("This session is not a video session", code="room_not_video")
        if facts.status == "cancelled":
            raise Gone("This session was cancelled", code="room_cancelled")
        now = self.clock()
        opens = facts.starts_at - timedelta(minutes=self.settings.room_open_before_minutes)
        closes = facts.ends_at + timedelta(minutes=self.settings.room_grace_minutes)
        if now < opens.timestamp():
            raise Conflict(
                f"The room opens at {opens.isoformat()}",
                code="room_not_open_yet",
            )
        if now > closes.timestamp():
            raise Gone("The room has closed", code="room_closed")
        return role, case_id

    def _prune(self, room: Room) -> bool:
        """Drop seats whose grace period ran out; True if any was dropped."""
        now = self.clock()
        gone = []
        for key, seat in room.seats.items():
            since = seat.gone_at(now, STALE_AFTER)
            if since is not None and now - since > self.grace:
                gone.append(key)
        for key in gone:
            del room.seats[key]
        return bool(gone)

    async def on_join(self, conn: Connection, frame: RoomJoinIn) -> None:
        principal = conn.principal
        facts = await self.facts.room_facts(frame.room_id)
        role, case_id = self._entry(facts, principal)
        assert facts is not None
        limits = room_limits(self.settings, facts)
        closes_at = (
            facts.ends_at + timedelta(minutes=self.settings.room_grace_minutes)
        ).timestamp()
        device, user = str(principal.device_id), str(principal.user_id)

        def change(room: Room | None) -> tuple[Room, Seat]:
            now = self.clock()
            room = room or Room(closes_at=closes_at)
            room.closes_at = closes_at
            self._prune(room)
            seat = room.seats.get(device)
            if seat is not None:  # a resume: the same device, its seat and status kept
                seat.conn, seat.dropped_at, seat.seen_at = conn.id, None, now
                seat.epoch += 1
                return room, seat
            status, order = "waiting", 0
            for key, other in list(room.seats.items()):
                if other.user_id == user:
                    if other.gone_at(now, STALE_AFTER) is None:
                        raise Conflict(
                            "You are in this room on another device", code="room_already_joined"
                        )
                    # the user's other device dropped: this one takes its place
                    status, order = other.status, other.order
                    del room.seats[key]
            refusal = seat_refusal(room, limits, role, case_id)
            if refusal is not None:
                raise refusal
            if status == "waiting" and (role == "therapist" or room.auto_admit):
                status, order = "admitted", room.next_order
                room.next_order += 1
            seat = Seat(
                user_id=user,
                device_id=device,
                role=role,
                case_id=case_id,
                status=status,  # type: ignore[arg-type]
                order=order,
                joined_at=now,
                conn=conn.id,
                seen_at=now,
            )
            room.seats[device] = seat
            return room, seat

        room_id = str(frame.room_id)
        seat = await self.store.update(room_id, change)
        rooms: dict[str, _Local] = conn.state.setdefault(STATE_KEY, {})
        rooms[room_id] = _Local(epoch=seat.epoch)
        self._local[conn.id] = conn
        await self._broadcast(room_id)

    async def on_leave(self, conn: Connection, frame: RoomLeaveIn) -> None:
        room_id = str(frame.room_id)
        device = str(conn.device_id)

        def change(room: Room | None) -> tuple[Room | None, bool]:
            if room is None or device not in room.seats:
                return room, False
            del room.seats[device]
            self._prune(room)
            return (room if room.seats else None), True

        rooms: dict[str, _Local] = conn.state.get(STATE_KEY, {})
        rooms.pop(room_id, None)
        left = await self.store.update(room_id, change)
        if not left:
            raise NotFound("You are not in this room", code="room_not_joined")
        await self._broadcast(room_id, also=[conn.device_id])

    async def on_admit(self, conn: Connection, frame: RoomAdmitIn) -> None:
        room_id = str(frame.room_id)
        self._joined(conn, room_id)
        device = str(conn.device_id)
        wanted = None if frame.device_ids is None else {str(d) for d in frame.device_ids}

        def change(room: Room | None) -> tuple[Room, int]:
            me = room.seats.get(device) if room is not None else None
            if room is None or me is None or me.conn != conn.id:
                raise NotFound("You are not in this room", code="room_not_joined")
            if me.role != "therapist":
                raise Forbidden("Only a therapist admits", code="room_not_host")
            self._prune(room)
            if wanted is not None:
                missing = wanted - set(room.seats)
                if missing:
                    raise NotFound("No such participant in the room", code="participant_not_found")
            if frame.auto_admit is not None:
                room.auto_admit = frame.auto_admit
            admit_all = frame.auto_admit is True or (wanted is None and frame.auto_admit is None)
            admitted = 0
            for key in sorted(room.seats, key=lambda k: room.seats[k].joined_at):
                seat = room.seats[key]
                if seat.status == "waiting" and (admit_all or (wanted and key in wanted)):
                    seat.status, seat.order = "admitted", room.next_order
                    room.next_order += 1
                    admitted += 1
            return room, admitted

        await self.store.update(room_id, change)
        await self._broadcast(room_id)

    def _joined(self, conn: Connection, room_id: str) -> _Local:
        rooms: dict[str, _Local] = conn.state.get(STATE_KEY, {})
        local = rooms.get(room_id)
        if local is None:
            raise NotFound("Join the room first", code="room_not_joined")
        return local

    # the relay

    async def on_signal(self, conn: Connection, frame: SignalIn) -> None:
        room_id = str(frame.room_id)
        local = self._joined(conn, room_id)
        if len(frame.payload) > MAX_SIGNAL_PAYLOAD:
            raise InvalidInput(
                f"A signal's payload is at most {MAX_SIGNAL_PAYLOAD} bytes",
                code="signal_too_large",
            )
        if frame.to == conn.device_id:
            raise InvalidInput("A signal goes to another device", code="peer_not_in_room")
        room = await self.store.get(room_id)
        me = room.seats.get(str(conn.device_id)) if room is not None else None
        if room is None or me is None or me.conn != conn.id:
            raise NotFound("You are not in this room", code="room_not_joined")
        if me.status != "admitted":
            raise Forbidden("Wait until a therapist admits you", code="room_not_admitted")
        peer = room.seats.get(str(frame.to))
        if peer is None or peer.status != "admitted":
            raise NotFound("No such admitted participant in the room", code="peer_not_in_room")
        if peer.gone_at(self.clock(), STALE_AFTER) is not None:
            raise Conflict(
                "The participant's connection is away; it may resume", code="peer_unavailable"
            )
        seq = local.seqs.get(frame.to, 0) + 1
        local.seqs[frame.to] = seq
        text = _frame_text(
            SignalOut(
                room_id=frame.room_id,
                from_device=conn.device_id,
                from_user=self._user_as_seen(room_id, peer, me),
                kind=frame.kind,
                epoch=local.epoch,
                seq=seq,
                payload=frame.payload,
            )
        )
        await self.notifier.push_frame([frame.to], text)

    # sockets going away

    async def on_close(self, conn: Connection) -> None:
        self._local.pop(conn.id, None)
        rooms: dict[str, _Local] = conn.state.get(STATE_KEY, {})
        for room_id in list(rooms):

            def change(room: Room | None) -> tuple[Room | None, bool]:
                seat = room.seats.get(str(conn.device_id)) if room is not None else None
                if room is None or seat is None or seat.conn != conn.id:
                    return room, False
                seat.conn, seat.dropped_at = "", self.clock()
                return room, True

            try:
                if await self.store.update(room_id, change):
                    await self._broadcast(room_id)
                    self._later(self._expire(room_id, self.grace + 0.5))
            except Exception as exc:
                log.warning("room seat not released", extra={"error_type": type(exc).__name__})

    def _later(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _expire(self, room_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.sweep(room_id)

    async def sweep(self, room_id: str) -> None:
        """Drop seats whose grace ran out and tell the others."""

        def change(room: Room | None) -> tuple[Room | None, bool]:
            if room is None:
                return None, False
            pruned = self._prune(room)
            return (room if room.seats else None), pruned

        if await self.store.update(room_id, change):
            await self._broadcast(room_id)

    async def _touch_loop(self) -> None:
        """Keep this instance's seats fresh (a seat nobody refreshes counts as dropped,
        e.g. after its instance died) and expire seats of dead sockets."""
        every = TOUCH_EVERY
        while True:
            await asyncio.sleep(every)
            try:
                by_room: dict[str, set[str]] = {}
                for conn in list(self._local.values()):
                    for room_id in conn.state.get(STATE_KEY, {}):
                        by_room.setdefault(room_id, set()).add(conn.id)
                for room_id in set(by_room) | set(await self.store.room_ids()):
                    await self._touch(room_id, by_room.get(room_id, set()))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("room touch failed", extra={"error_type": type(exc).__name__})

    async def _touch(self, room_id: str, conns: set[str]) -> None:
        def change(room: Room | None) -> tuple[Room | None, bool]:
            if room is None:
                return None, False
            now = self.clock()
            for seat in room.seats.values():
                if seat.conn in conns:
                    seat.seen_at = now
            pruned = self._prune(room)
            return (room if room.seats else None), pruned

        if await self.store.update(room_id, change):
            await self._broadcast(room_id)

    # telling the room

    async def _broadcast(self, room_id: str, also: list[UUID] | None = None) -> None:
        room = await self.store.get(room_id)
        seats = sorted(room.seats.values(), key=lambda s: s.joined_at) if room is not None else []
        now = self.clock()

        def view(viewer: Seat | None) -> str:
            return _frame_text(
                RoomStateOut(
                    room_id=UUID(room_id),
                    auto_admit=room.auto_admit if room is not None else False,
                    closes_at=(
                        datetime.fromtimestamp(room.closes_at, UTC) if room is not None else None
                    ),
                    participants=[
                        ParticipantOut(
                            user_id=self._user_as_seen(room_id, viewer, s),
                            device_id=UUID(s.device_id),
                            role=s.role,
                            case_id=UUID(s.case_id) if s.case_id and sees(viewer, s) else None,
                            status=s.status,
                            order=s.order,
                            connected=s.gone_at(now, STALE_AFTER) is None,
                        )
                        for s in seats
                    ],
                )
            )

        # one frame per kind of viewer: therapists see everyone, a family its own case
        frames: dict[tuple[str, str | None], tuple[str, list[UUID]]] = {}
        viewers: list[tuple[Seat | None, UUID]] = [
            (s, UUID(s.device_id)) for s in seats if s.gone_at(now, STALE_AFTER) is None
        ]
        viewers += [(None, device) for device in also or []]
        for viewer, device in viewers:
            key = _view_key(viewer)
            if key not in frames:
                frames[key] = (view(viewer), [])
            frames[key][1].append(device)
        for text, devices in frames.values():
            await self.notifier.push_frame(devices, text)

    def _user_as_seen(self, room_id: str, viewer: Seat | None, seat: Seat) -> UUID:
        """The seat's user id, or for a viewer of another family a pseudonym stable in
        this room only: a group call must not tell one family who the others are."""
        if sees(viewer, seat):
            return UUID(seat.user_id)
        mac = hmac.new(
            self.settings.secret_key.encode(),
            f"room-peer:{room_id}:{seat.user_id}".encode(),
            hashlib.sha256,
        )
        return UUID(bytes=mac.digest()[:16], version=4)


def sees(viewer: Seat | None, seat: Seat) -> bool:
    """Whether ``viewer`` may know who sits in ``seat``: everyone knows the therapists;
    therapists know everyone; a family member knows their own case's seats."""
    if seat.role == "therapist":
        return True
    if viewer is None:
        return False
    return (
        viewer.role == "therapist"
        or viewer.user_id == seat.user_id
        or (seat.case_id is not None and viewer.case_id == seat.case_id)
    )


def _view_key(viewer: Seat | None) -> tuple[str, str | None]:
    if viewer is None:
        return ("outside", None)
    if viewer.role == "therapist":
        return ("therapist", None)
    return ("family", viewer.case_id)
