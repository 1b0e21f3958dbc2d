"""Homework on one device: task content and tick notes as Matrix room events.

The server keeps a task's schedule, status and ticks; its title, instructions and media,
and every tick's note, are Megolm-encrypted events of the case's homework room
(client.homework_content), and the server's records point at them by event id
(docs/homework.md). The device works through two clients signed in as the same device:

* :class:`client.matrix.MatrixClient` sends the events (encrypted for exactly the room's
  current devices, the keys backed up when the user has a backup) and reads them by id
  (fetched, decrypted and recorded once; a missing key makes it sync once and try again);
* :class:`client.api.Api` for Kaari's homework endpoints.

Checking: decrypted content must name the task (a note: the task, the day and the person
of its tick) it is served under, else the task or note is marked unreadable with a
``problem``; it is never shown under another task's title.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Literal

import msgspec

from client.api import Api
from client.homework_content import (
    NOTE_EVENT,
    TASK_EVENT,
    InvalidContent,
    NoteContent,
    TaskContent,
    note_of,
    task_of,
    wire,
)
from client.matrix import MatrixClient
from client.matrix.http import MatrixError
from crypto.payloads import AttachmentPointer

__all__ = [
    "Homework",
    "HomeworkError",
    "InvalidContent",
    "Schedule",
    "Task",
    "Tick",
    "Today",
    "TodayTask",
]

Kind = Literal["once", "daily", "weekly", "perWeek"]
TickBy = Literal["child", "guardian", "both"]
Status = Literal["active", "paused", "finished"]
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class HomeworkError(Exception):
    """Something this device cannot do (an unreadable task to edit part of, ...)."""


class Schedule(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    """A task's rule as the server sees it (see "Schedules" in docs/homework.md)."""

    kind: Kind
    weekdays: tuple[int, ...] | None = None  # ISO: 1 = Monday ... 7 = Sunday
    times_per_week: int | None = None

    @classmethod
    def once(cls) -> Schedule:
        return cls("once")

    @classmethod
    def daily(cls) -> Schedule:
        return cls("daily")

    @classmethod
    def weekly(cls, *weekdays: int) -> Schedule:
        return cls("weekly", weekdays=tuple(sorted(set(weekdays))))

    @classmethod
    def per_week(cls, times: int) -> Schedule:
        return cls("perWeek", times_per_week=times)

    def wire(self) -> dict[str, Any]:
        result: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self))
        return result

    def describe(self) -> str:
        if self.kind == "weekly" and self.weekdays:
            return "weekly on " + ", ".join(WEEKDAYS[d - 1] for d in self.weekdays)
        if self.kind == "perWeek":
            return f"{self.times_per_week} times a week"
        return self.kind


class Task(msgspec.Struct, frozen=True, kw_only=True):
    """A task as this device shows it: the server's fields and the decrypted content.

    ``readable`` is false when the content could not be opened or did not name this
    task; ``problem`` then says why and the title is empty.
    """

    id: str
    case_id: str
    schedule: Schedule
    starts_on: date
    ends_on: date | None
    tick_by: str
    status: str
    content_version: int
    readable: bool
    title: str = ""
    instructions: str = ""
    media: tuple[AttachmentPointer, ...] = ()
    room_id: str = ""  # the case's homework room
    content_event_id: str = ""
    author_user_id: str = ""  # whose device encrypted the content
    problem: str = ""


class TodayTask(msgspec.Struct, frozen=True, kw_only=True):
    """One task due today, ready to render (``GET /me/homework/today``)."""

    task_id: str
    case_id: str
    done: bool
    may_tick: bool
    readable: bool
    title: str = ""
    instructions: str = ""
    media: tuple[AttachmentPointer, ...] = ()
    week_done: int | None = None  # perWeek tasks only
    week_target: int | None = None
    problem: str = ""


class Today(msgspec.Struct, frozen=True):
    day: date
    tasks: tuple[TodayTask, ...]


class Tick(msgspec.Struct, frozen=True, kw_only=True):
    """A tick with its decrypted note (``note_readable`` false when it did not open)."""

    task_id: str
    day: date
    user_id: str
    device_id: str
    client_time: str
    received_at: str
    note: str = ""
    emoji: str = ""
    has_note: bool = False
    note_readable: bool = True
    problem: str = ""


class _Read(msgspec.Struct, frozen=True):
    message: dict[str, Any] | None
    problem: str = ""


class Homework:
    """Homework for the person signed in on ``matrix``'s device (``api``: the same device)."""

    def __init__(self, matrix: MatrixClient, api: Api) -> None:
        self.matrix = matrix
        self.api = api
        self._rooms: dict[str, str] = {}
        self._synced = False  # synced once for a missing key during the current call

    # -- the room --------------------------------------------------------------
    def room(self, case_id: str) -> str:
        """The case's homework room (whose members are those who see its homework)."""
        if case_id not in self._rooms:
            self._rooms[case_id] = str(self.api.get(f"/cases/{case_id}/homework/room")["roomId"])
        return self._rooms[case_id]

    def _send(self, room_id: str, event_type: str, content: TaskContent | NoteContent) -> str:
        return self.matrix.send_message(room_id, wire(content), event_type)

    # -- reading ---------------------------------------------------------------
    def _read(self, room_id: str, event_id: str) -> _Read:
        """The decrypted message of an event; sync once for a key not here yet."""
        while True:
            try:
                message = self.matrix.room_event(room_id, event_id)
            except MatrixError as exc:
                if exc.status == 404:
                    return _Read(None, "missing")
                raise
            if message is not None:
                return _Read(message)
            if self._synced:
                return _Read(None, "no_key")
            self._synced = True
            self.matrix.sync()

    def _content(self, wire_task: dict[str, Any]) -> tuple[TaskContent | None, str, str]:
        """(content, author, problem) of a task as the server serves it."""
        read = self._read(wire_task["roomId"], wire_task["contentEventId"])
        if read.message is None:
            return None, "", read.problem
        content, problem = task_of(read.message, wire_task.get("id") or wire_task["taskId"])
        return content, str(read.message.get("sender", "")), problem

    def _task(self, wire_task: dict[str, Any]) -> Task:
        content, author, problem = self._content(wire_task)
        ends = wire_task.get("endsOn")
        return Task(
            id=wire_task["id"],
            case_id=wire_task["caseId"],
            schedule=msgspec.convert(wire_task["schedule"], Schedule),
            starts_on=date.fromisoformat(wire_task["startsOn"]),
            ends_on=date.fromisoformat(ends) if ends else None,
            tick_by=wire_task["tickBy"],
            status=wire_task["status"],
            content_version=int(wire_task.get("contentVersion", 1)),
            readable=content is not None,
            title=content.title if content else "",
            instructions=content.instructions if content else "",
            media=tuple(content.media) if content else (),
            room_id=wire_task["roomId"],
            content_event_id=wire_task["contentEventId"],
            author_user_id=author.removeprefix("@").partition(":")[0] if content else "",
            problem=problem,
        )

    def _tick(self, room_id: str, wire_tick: dict[str, Any]) -> Tick:
        fields: dict[str, Any] = {}
        event_id = wire_tick.get("noteEventId")
        if event_id is not None:
            read = self._read(room_id, event_id)
            note: NoteContent | None = None
            problem = read.problem
            if read.message is not None:
                note, problem = note_of(
                    read.message, wire_tick["taskId"], wire_tick["day"], wire_tick["userId"]
                )
            if note is not None:
                fields = {"note": note.note, "emoji": note.emoji}
            fields.update(has_note=True, note_readable=note is not None, problem=problem)
        return Tick(
            task_id=wire_tick["taskId"],
            day=date.fromisoformat(wire_tick["day"]),
            user_id=wire_tick["userId"],
            device_id=wire_tick["deviceId"],
            client_time=wire_tick["clientTime"],
            received_at=wire_tick["receivedAt"],
            **fields,
        )

    def tasks(self, case_id: str, status: Status | None = None) -> list[Task]:
        """The case's tasks, decrypted (unreadable ones are kept, marked)."""
        self._synced = False
        return [self._task(t) for t in self.api.tasks(case_id, status)]

    def task(self, task_id: str) -> Task:
        self._synced = False
        return self._task(self.api.task(task_id))

    def today(self) -> Today:
        """What is due today in all of my cases, decrypted, in the server's order."""
        self._synced = False
        body = self.api.homework_today()
        items = []
        for t in body["tasks"]:
            content, _, problem = self._content(t)
            items.append(
                TodayTask(
                    task_id=t["taskId"],
                    case_id=t["caseId"],
                    done=bool(t["done"]),
                    may_tick=bool(t["mayTick"]),
                    readable=content is not None,
                    title=content.title if content else "",
                    instructions=content.instructions if content else "",
                    media=tuple(content.media) if content else (),
                    week_done=t.get("weekDone"),
                    week_target=t.get("weekTarget"),
                    problem=problem,
                )
            )
        return Today(date.fromisoformat(body["day"]), tuple(items))

    def ticks(
        self, task_id: str, since: date | None = None, until: date | None = None
    ) -> list[Tick]:
        """A task's ticks with their notes decrypted."""
        self._synced = False
        room_id = self.api.task(task_id)["roomId"]
        wires = self.api.ticks(
            task_id, since.isoformat() if since else None, until.isoformat() if until else None
        )
        return [self._tick(room_id, t) for t in wires]

    def progress(self, case_id: str, weeks: int | None = None) -> dict[str, Any]:
        """Done and expected per week, streaks and the summary (plain, from the server)."""
        return self.api.progress(case_id, weeks)

    # -- writing ---------------------------------------------------------------
    def assign(
        self,
        case_id: str,
        title: str,
        instructions: str = "",
        *,
        schedule: Schedule,
        starts_on: date,
        ends_on: date | None = None,
        tick_by: TickBy = "both",
        media: Sequence[AttachmentPointer] = (),
        task_id: str | None = None,
    ) -> Task:
        """Create a task (a therapist's device): the content event first, then the task
        pointing at it. A retry with the same ``task_id`` returns the first task."""
        task_id = task_id or str(uuid.uuid4())
        content = TaskContent(
            task_id=task_id, title=title, instructions=instructions, media=list(media)
        )
        wire(content)  # refused before anything is sent
        body: dict[str, Any] = {
            "id": task_id,
            "contentEventId": self._send(self.room(case_id), TASK_EVENT, content),
            "schedule": schedule.wire(),
            "startsOn": starts_on.isoformat(),
            "tickBy": tick_by,
        }
        if ends_on is not None:
            body["endsOn"] = ends_on.isoformat()
        if media:  # uploaded by this device to the homework room: kept as long as the task
            body["mediaBlobIds"] = [p.blob_id for p in media]
        self._synced = False
        return self._task(self.api.create_task(case_id, body))

    def edit(
        self,
        task_id: str,
        *,
        title: str | None = None,
        instructions: str | None = None,
        media: Iterable[AttachmentPointer] | None = None,
        schedule: Schedule | None = None,
        ends_on: date | msgspec.UnsetType | None = msgspec.UNSET,
        tick_by: TickBy | None = None,
        status: Status | None = None,
    ) -> Task:
        """Change a task (a therapist's device); what is not given stays as it is.

        New content is a new event made from the current decrypted content, so this
        device must be able to read the task to change only part of it.
        """
        body: dict[str, Any] = {}
        if title is not None or instructions is not None or media is not None:
            current = self.task(task_id)
            if not current.readable and (title is None or instructions is None or media is None):
                raise HomeworkError(f"cannot read task {task_id} to change part of it")
            content = TaskContent(
                task_id=task_id,
                title=current.title if title is None else title,
                instructions=current.instructions if instructions is None else instructions,
                media=list(current.media if media is None else media),
            )
            body["contentEventId"] = self._send(current.room_id, TASK_EVENT, content)
            kept = {p.blob_id for p in current.media}
            if new_media := [p.blob_id for p in content.media if p.blob_id not in kept]:
                body["mediaBlobIds"] = new_media
        if schedule is not None:
            body["schedule"] = schedule.wire()
        if not isinstance(ends_on, msgspec.UnsetType):
            body["endsOn"] = ends_on.isoformat() if ends_on else None
        if tick_by is not None:
            body["tickBy"] = tick_by
        if status is not None:
            body["status"] = status
        self._synced = False
        return self._task(self.api.update_task(task_id, body))

    def republish(self, case_id: str) -> int:
        """Send the content of the case's open tasks again as new events (a therapist's
        device), for members who joined the homework room since the tasks were set: a
        caregiver granted ``homework`` later gets no key for older events (Matrix shares
        no history with new members). What an app runs when it sees a join in the room.
        Returns how many tasks got a new content event."""
        done = 0
        for task in self.tasks(case_id):
            if task.status == "finished" or not task.readable:
                continue
            content = TaskContent(
                task_id=task.id,
                title=task.title,
                instructions=task.instructions,
                media=list(task.media),
            )
            event_id = self._send(task.room_id, TASK_EVENT, content)
            self.api.update_task(task.id, {"contentEventId": event_id})
            done += 1
        return done

    def tick(
        self,
        task_id: str,
        day: date | None = None,
        note: str = "",
        emoji: str = "",
        client_time: datetime | None = None,
    ) -> Tick:
        """Tick a day done (default: the device's today), with an optional encrypted note.

        ``client_time`` is the device's clock when the person ticked (with its offset): an
        offline tick sent later passes the time it was made.
        """
        client_time = client_time or datetime.now().astimezone()
        if client_time.tzinfo is None:
            raise ValueError("client_time needs a UTC offset")
        day = day or client_time.date()
        body: dict[str, Any] = {"clientTime": client_time.isoformat()}
        room_id = ""
        if note or emoji:
            room_id = self.api.task(task_id)["roomId"]
            payload = NoteContent(task_id=task_id, day=day.isoformat(), note=note, emoji=emoji)
            wire(payload)
            body["noteEventId"] = self._send(room_id, NOTE_EVENT, payload)
        wire_tick = self.api.tick(task_id, day.isoformat(), body)
        if wire_tick.get("noteEventId") is not None and not room_id:  # an earlier tick's note
            room_id = self.api.task(task_id)["roomId"]
        self._synced = False
        return self._tick(room_id, wire_tick)

    def undo(self, task_id: str, day: date | None = None) -> None:
        """Take a tick back (the same day it reached the server only)."""
        day = day or datetime.now().astimezone().date()
        self.api.undo_tick(task_id, day.isoformat())
