"""WebSocket frames of rooms and the call relay (docs/signaling.md, docs/realtime.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from signaling.ports import InFrame, OutFrame

#: the largest ``payload`` of a ``signal`` (an SDP with many candidates and its signature)
MAX_SIGNAL_PAYLOAD = 40_000
MAX_ADMIT = 32

SignalKind = Literal["offer", "answer", "candidate", "restart", "hangup", "mute"]


class RoomJoinIn(InFrame, tag="room_join"):
    """Take (or resume) this device's seat in the room of a video appointment."""

    room_id: UUID


class RoomLeaveIn(InFrame, tag="room_leave"):
    room_id: UUID


class RoomAdmitIn(InFrame, tag="room_admit"):
    """A therapist in the room admits waiting devices (``deviceIds``; omitted: all
    waiting) and/or sets auto-admit (on: everyone waiting is admitted at once too)."""

    room_id: UUID
    device_ids: Annotated[list[UUID], msgspec.Meta(max_length=MAX_ADMIT)] | None = None
    auto_admit: bool | None = None


class SignalIn(InFrame, tag="signal"):
    """A call message for one admitted peer device of the same room, relayed as it is."""

    room_id: UUID
    to: UUID
    kind: SignalKind
    #: any JSON value, at most MAX_SIGNAL_PAYLOAD bytes; the server never reads it
    payload: msgspec.Raw


class ParticipantOut(msgspec.Struct, rename="camel", kw_only=True):
    user_id: UUID
    device_id: UUID
    role: Literal["therapist", "guardian", "child"]
    case_id: UUID | None
    status: Literal["waiting", "admitted"]
    #: admission order (0 while waiting): of two admitted peers the one with the larger
    #: order makes the offer; the other is the polite callee
    order: int
    #: False while the device's socket is away (its seat is kept for the grace period)
    connected: bool


class RoomStateOut(OutFrame, tag="room_state"):
    """Everyone in the room, waiting or admitted; sent to each participant's device on
    every change, and to a device that left (without it)."""

    room_id: UUID
    auto_admit: bool
    closes_at: datetime | None
    participants: list[ParticipantOut]


class SignalOut(OutFrame, tag="signal"):
    room_id: UUID
    from_device: UUID = msgspec.field(name="from")
    from_user: UUID
    kind: SignalKind
    #: the sender's join count: ``seq`` starts again at 1 when it grows (a resume)
    epoch: int
    #: 1, 2, 3 … per (sender device, recipient device, epoch): the order they were sent
    seq: int
    payload: msgspec.Raw
