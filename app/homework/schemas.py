"""Homework on the wire (docs/homework.md).

The server sees schedules, statuses and ticks. A task's title, instructions and media,
and a tick's note or emoji, are Megolm room events in the case's homework room
(``roomId``), referenced here by their event id.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, Meta, UnsetType

from app.core.content_rooms import EventId
from app.core.wire import Camel

TickBy = Literal["child", "guardian", "both"]
Status = Literal["active", "paused", "finished"]
Kind = Literal["once", "daily", "weekly", "perWeek"]
StreakUnit = Literal["times", "weeks"]
AwareDateTime = Annotated[datetime, Meta(tz=True)]
#: the attachments of the homework room that a task's content points at (its pictures
#: and videos, client/homework_content.py allows 20): kept as long as the room's events
MediaBlobIds = Annotated[list[UUID], Meta(max_length=20)]
ReminderTime = Annotated[str, Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class ScheduleIn(Camel):
    kind: Kind
    #: ISO weekdays, 1 = Monday … 7 = Sunday (``weekly`` only)
    weekdays: Annotated[list[Annotated[int, Meta(ge=1, le=7)]], Meta(max_length=7)] = []
    #: ``perWeek`` only
    times_per_week: Annotated[int, Meta(ge=1, le=7)] | None = None


class ScheduleOut(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """Only the fields of its kind: ``weekdays`` (weekly) or ``timesPerWeek`` (perWeek)."""

    kind: Kind
    weekdays: list[int] = []
    times_per_week: int | None = None


class TaskCreate(Camel):
    #: chosen by the therapist's device: the encrypted content names it
    id: UUID
    #: the ``org.kaari.homework.task`` event this device sent to the homework room
    content_event_id: EventId
    schedule: ScheduleIn
    starts_on: date
    ends_on: date | None = None
    tick_by: TickBy = "both"
    media_blob_ids: MediaBlobIds = []


class TaskUpdate(Camel):
    """Absent fields stay as they are; a schedule or status change takes effect today."""

    content_event_id: EventId | UnsetType = UNSET
    #: the new content's attachments (with ``contentEventId``)
    media_blob_ids: MediaBlobIds | UnsetType = UNSET
    schedule: ScheduleIn | UnsetType = UNSET
    ends_on: date | UnsetType | None = UNSET
    tick_by: TickBy | UnsetType = UNSET
    status: Status | UnsetType = UNSET


class SegmentOut(Camel):
    starts_on: date
    #: None: paused or finished from ``startsOn`` on
    schedule: ScheduleOut | None


class TaskOut(Camel):
    id: UUID
    case_id: UUID
    #: the case's homework room, where ``contentEventId`` is
    room_id: str
    content_event_id: str
    content_version: int
    schedule: ScheduleOut | None
    starts_on: date
    ends_on: date | None
    tick_by: TickBy
    status: Status
    segments: list[SegmentOut]
    created_by: UUID
    created_at: datetime
    updated_at: datetime


class TickIn(Camel):
    #: the device's clock when the child ticked (an offline tick arrives later)
    client_time: AwareDateTime
    #: an ``org.kaari.homework.note`` event this device sent to the homework room
    note_event_id: EventId | None = None


class TickOut(Camel):
    task_id: UUID
    day: date
    user_id: UUID
    device_id: UUID
    client_time: datetime
    received_at: datetime
    note_event_id: str | None


class WeekOut(Camel):
    week_start: date
    expected: int
    done: int


class TaskProgressOut(Camel):
    task_id: UUID
    status: Status
    weeks: list[WeekOut]
    streak: int
    streak_unit: StreakUnit
    expected: int
    done: int


class SummaryTaskOut(Camel):
    task_id: UUID
    expected: int
    done: int


class SummaryOut(Camel):
    """From the day after the last past session (or the first task's start) to today."""

    since: date
    until: date
    expected: int
    done: int
    tasks: list[SummaryTaskOut]


class ProgressOut(Camel):
    case_id: UUID
    today: date
    tasks: list[TaskProgressOut]
    weeks: list[WeekOut]
    streak: int
    summary: SummaryOut


class TodayTaskOut(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    task_id: UUID
    case_id: UUID
    room_id: str
    content_event_id: str
    done: bool
    may_tick: bool
    week_done: int | None = None
    week_target: int | None = None


class TodayOut(Camel):
    day: date
    tasks: list[TodayTaskOut]


class HomeworkRoomOut(Camel):
    """The case's homework room: its members are those who see the case's homework."""

    case_id: UUID
    room_id: str


class ReminderIn(Camel):
    #: local time (Europe/Helsinki) of the child's daily reminder; null: none
    time: ReminderTime | None


class ReminderOut(Camel):
    case_id: UUID
    time: str | None


class SickDaysOut(Camel):
    """The case's sick days (local dates), oldest first."""

    case_id: UUID
    days: list[date]
