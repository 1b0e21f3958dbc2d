"""Homework on one device: tasks, ticks and notes as Megolm case content, over Messenger.

The server keeps a task's schedule, status and ticks; its title, instructions and media,
and every tick's note, are encrypted here (docs/homework.md). Three duties make that work:

* Keys. Before this device posts case content it makes sure every device of the case's
  ``child`` thread holds its current Megolm session, sent over Olm through
  :meth:`client.messenger.Messenger.send`; a device that joined after this device wrote
  something also gets the exported history, so it can read older tasks and notes. Which
  devices got which session is remembered in the device's encrypted store, so a key goes
  out only for a new device or a new session, not with every post.
* Reading. A task whose key has not arrived yet makes the device read its mailbox once
  (the key is a message there) and try again.
* Checking. Decrypted content must name the task (a note: the task, the day and the
  person of its tick) it is served under. A server that swapped ciphertexts between
  tasks gets the task marked unreadable; it is never shown under another task's title.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Literal

import msgspec

from client.messenger import Messenger
from crypto.envelope import MegolmCiphertext
from crypto.errors import (
    CryptoError,
    StoreError,
    UnknownMessageIndexError,
    UnknownSessionError,
)
from crypto.payloads import AttachmentPointer, CompletionNote, HomeworkContent, Payload

Kind = Literal["once", "daily", "weekly", "perWeek"]
TickBy = Literal["child", "guardian", "both"]
Status = Literal["active", "paused", "finished"]
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class HomeworkError(Exception):
    """Something this device cannot do (no child thread, unreadable task to edit, ...)."""


class InvalidContent(HomeworkError, ValueError):
    """Content out of the bounds every receiver checks (a 201-character title, ...)."""


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


class _Shared(msgspec.Struct):
    """Which devices this device gave its keys for one case (persisted, encrypted)."""

    session_id: str = ""
    current: list[str] = msgspec.field(default_factory=list)  # hold session_id
    ever: list[str] = msgspec.field(default_factory=list)  # got any key (history included)


class _Content(msgspec.Struct, frozen=True):
    payload: Payload | None
    author_user_id: str = ""
    problem: str = ""


def _checked(payload: Payload) -> None:
    """Refuse content a receiver would refuse (msgspec checks bounds only when decoding)."""
    try:
        msgspec.json.decode(msgspec.json.encode(payload), type=type(payload))
    except msgspec.ValidationError as exc:
        raise InvalidContent(f"invalid {type(payload).__name__}: {exc}") from exc


class Homework:
    """Homework for the person signed in on ``messenger``'s device."""

    def __init__(self, messenger: Messenger) -> None:
        self.messenger = messenger
        self.device = messenger.device
        self.api = messenger.api
        self._child_threads: dict[str, str] = {}
        self._synced = False  # the mailbox was read once during the current call

    # -- keys ------------------------------------------------------------------
    def child_thread(self, case_id: str) -> str:
        """The case's ``child`` thread: its devices are the ones that read homework."""
        if case_id not in self._child_threads:
            for thread in self.api.case_threads(case_id):
                if thread["kind"] == "child":
                    self._child_threads[case_id] = thread["id"]
            if case_id not in self._child_threads:
                raise HomeworkError("this case has no thread with the child")
        return self._child_threads[case_id]

    def share_key(self, case_id: str) -> int:
        """Give every device of the child thread this device's current session for the case.

        Sends only what is missing: the current key to devices that do not hold it yet,
        and the exported history to devices that never got a key from this device while
        it has written before. When a device that held the key has left the thread
        (revoked, its person removed from the case), the session is rotated first, so
        it cannot read what is written next. Returns how many devices got the current
        session now.
        """
        thread_id = self.child_thread(case_id)
        devices = {d["deviceId"] for d in self.api.thread_devices(thread_id)}
        name = f"homework.keys.{uuid.UUID(case_id).hex}"
        raw = self.device.get_record(name)
        state = msgspec.json.decode(raw, type=_Shared) if raw else _Shared()
        share = self.device.cases.room_key_share_for(case_id)
        if share.session_id == state.session_id and set(state.current) - devices:
            self.device.cases.rotate_case_session(case_id)
            share = self.device.cases.room_key_share_for(case_id)
        if state.session_id != share.session_id:
            state = _Shared(share.session_id, [], sorted(set(state.ever) & devices))
        new = devices - set(state.current)
        if not new:
            return 0
        self.messenger.send(thread_id, share)
        if new - set(state.ever):
            for history in self.device.cases.history_shares_for(case_id):
                if history.session_id == share.session_id and share.first_index == 0:
                    continue  # the direct share already starts at the beginning
                self.messenger.send(thread_id, history)
        state.current = sorted(set(state.current) | devices)
        state.ever = sorted(set(state.ever) | devices)
        self.device.put_record(name, msgspec.json.encode(state))
        return len(new)

    def keep_keys_shared(self, case_id: str) -> int:
        """:meth:`share_key` if this user's devices wrote case content before, else nothing.

        What an app runs when it opens a case or hears that a device joined: a device
        that joined later can read only what a writer's device shares with it, and a
        reader that never wrote need not make a session just to share it.
        """
        if not self.device.cases.history_shares_for(case_id):
            return 0
        return self.share_key(case_id)

    def _encrypt(self, case_id: str, payload: Payload) -> dict[str, Any]:
        _checked(payload)
        self.share_key(case_id)
        ciphertext = self.device.cases.encrypt_case_content(case_id, payload)
        wire: dict[str, Any] = msgspec.to_builtins(ciphertext)
        return wire

    # -- reading ---------------------------------------------------------------
    def _open(self, case_id: str, wire: Any) -> _Content:
        """Decrypt case content of ``case_id``; read the mailbox once for a missing key."""
        try:
            ciphertext = msgspec.convert(wire, MegolmCiphertext)
        except msgspec.ValidationError:
            return _Content(None, problem="malformed")
        if ciphertext.case_id != case_id:
            return _Content(None, problem="other_case")
        while True:
            try:
                got = self.device.cases.decrypt_case_content(ciphertext)
            except (UnknownSessionError, UnknownMessageIndexError):
                if self._synced:
                    return _Content(None, problem="no_key")
                self._synced = True
                self.messenger.sync()
                continue
            except StoreError:
                raise
            except CryptoError as exc:
                return _Content(None, problem=type(exc).__name__)
            return _Content(got.payload, got.sender.user_id)

    def _homework(self, case_id: str, task_id: str, wire: Any) -> _Content:
        content = self._open(case_id, wire)
        if content.payload is None:
            return content
        if not isinstance(content.payload, HomeworkContent):
            return _Content(None, problem="not_homework")
        if content.payload.task_id != task_id:
            return _Content(None, problem="other_task")  # swapped by the server
        return content

    def _task(self, wire: dict[str, Any]) -> Task:
        content = self._homework(wire["caseId"], wire["id"], wire["content"])
        payload = content.payload
        ends = wire.get("endsOn")
        return Task(
            id=wire["id"],
            case_id=wire["caseId"],
            schedule=msgspec.convert(wire["schedule"], Schedule),
            starts_on=date.fromisoformat(wire["startsOn"]),
            ends_on=date.fromisoformat(ends) if ends else None,
            tick_by=wire["tickBy"],
            status=wire["status"],
            content_version=int(wire.get("contentVersion", 1)),
            readable=payload is not None,
            title=payload.title if isinstance(payload, HomeworkContent) else "",
            instructions=payload.instructions if isinstance(payload, HomeworkContent) else "",
            media=tuple(payload.media) if isinstance(payload, HomeworkContent) else (),
            author_user_id=content.author_user_id,
            problem=content.problem,
        )

    def _tick(self, case_id: str, wire: dict[str, Any]) -> Tick:
        fields: dict[str, Any] = {}
        if wire.get("note") is not None:
            content = self._open(case_id, wire["note"])
            note = content.payload
            problem = content.problem
            if note is not None and not (
                isinstance(note, CompletionNote)
                and note.task_id == wire["taskId"]
                and note.day == wire["day"]
                and content.author_user_id == wire["userId"]
            ):
                note, problem = None, "other_tick"
            if isinstance(note, CompletionNote):
                fields = {"note": note.note, "emoji": note.emoji}
            fields.update(has_note=True, note_readable=note is not None, problem=problem)
        return Tick(
            task_id=wire["taskId"],
            day=date.fromisoformat(wire["day"]),
            user_id=wire["userId"],
            device_id=wire["deviceId"],
            client_time=wire["clientTime"],
            received_at=wire["receivedAt"],
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
            content = self._homework(t["caseId"], t["taskId"], t["content"])
            payload = content.payload
            items.append(
                TodayTask(
                    task_id=t["taskId"],
                    case_id=t["caseId"],
                    done=bool(t["done"]),
                    may_tick=bool(t["mayTick"]),
                    readable=isinstance(payload, HomeworkContent),
                    title=payload.title if isinstance(payload, HomeworkContent) else "",
                    instructions=(
                        payload.instructions if isinstance(payload, HomeworkContent) else ""
                    ),
                    media=tuple(payload.media) if isinstance(payload, HomeworkContent) else (),
                    week_done=t.get("weekDone"),
                    week_target=t.get("weekTarget"),
                    problem=content.problem,
                )
            )
        return Today(date.fromisoformat(body["day"]), tuple(items))

    def ticks(
        self, task_id: str, since: date | None = None, until: date | None = None
    ) -> list[Tick]:
        """A task's ticks with their notes decrypted."""
        self._synced = False
        case_id = self.api.task(task_id)["caseId"]
        wires = self.api.ticks(
            task_id, since.isoformat() if since else None, until.isoformat() if until else None
        )
        return [self._tick(case_id, t) for t in wires]

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
        """Create a task (a therapist's device). A retry with the same ``task_id`` is safe."""
        task_id = task_id or str(uuid.uuid4())
        content = HomeworkContent(
            task_id=task_id, title=title, instructions=instructions, media=list(media)
        )
        body: dict[str, Any] = {
            "id": task_id,
            "content": self._encrypt(case_id, content),
            "schedule": schedule.wire(),
            "startsOn": starts_on.isoformat(),
            "tickBy": tick_by,
        }
        if ends_on is not None:
            body["endsOn"] = ends_on.isoformat()
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

        New content is encrypted afresh from the current decrypted content, so this
        device must be able to read the task to change only part of it.
        """
        body: dict[str, Any] = {}
        if title is not None or instructions is not None or media is not None:
            current = self.task(task_id)
            if not current.readable and (title is None or instructions is None or media is None):
                raise HomeworkError(f"cannot read task {task_id} to change part of it")
            content = HomeworkContent(
                task_id=task_id,
                title=current.title if title is None else title,
                instructions=current.instructions if instructions is None else instructions,
                media=list(current.media if media is None else media),
            )
            body["content"] = self._encrypt(current.case_id, content)
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
        case_id = ""
        if note or emoji:
            case_id = self.api.task(task_id)["caseId"]
            payload = CompletionNote(task_id=task_id, day=day.isoformat(), note=note, emoji=emoji)
            body["note"] = self._encrypt(case_id, payload)
        wire = self.api.tick(task_id, day.isoformat(), body)
        if wire.get("note") is not None and not case_id:  # an earlier tick of the day, with a note
            case_id = self.api.task(task_id)["caseId"]
        self._synced = False
        return self._tick(case_id, wire)

    def undo(self, task_id: str, day: date | None = None) -> None:
        """Take a tick back (the same day it reached the server only)."""
        day = day or datetime.now().astimezone().date()
        self.api.undo_tick(task_id, day.isoformat())
