"""Homework content as Matrix room events of the case's homework room (docs/homework.md).

Two Kaari event types, Megolm-encrypted like any room event (``m.room.encrypted`` on the
wire, the type below inside):

* ``org.kaari.homework.task``: ``{task_id, title, instructions, media}``, the content of
  one task (``media``: attachment pointers, crypto.payloads.AttachmentPointer).
* ``org.kaari.homework.note``: ``{task_id, day, note, emoji}``, the note of one tick.

The bounds are the ones every receiver checks; content outside them is refused on
sending and shown as unreadable on receiving. A reader also checks that the decrypted
content names the task (a note: the task, the day and the person) it is served under,
so a server that moves event ids between records cannot show one task's title under
another.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from crypto.payloads import AttachmentPointer

TASK_EVENT = "org.kaari.homework.task"
NOTE_EVENT = "org.kaari.homework.note"

Day = Annotated[str, Meta(pattern=r"^\d{4}-\d{2}-\d{2}$")]
Id = Annotated[str, Meta(min_length=1, max_length=64)]


class TaskContent(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    task_id: Id
    title: Annotated[str, Meta(min_length=1, max_length=200)]
    instructions: Annotated[str, Meta(max_length=20_000)] = ""
    media: Annotated[list[AttachmentPointer], Meta(max_length=20)] = []


class NoteContent(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    task_id: Id
    day: Day
    note: Annotated[str, Meta(max_length=2_000)] = ""
    emoji: Annotated[str, Meta(max_length=16)] = ""


class InvalidContent(ValueError):
    """Content out of the bounds every receiver checks (a 201-character title, ...)."""


def wire(content: TaskContent | NoteContent) -> dict[str, Any]:
    """The event content, checked as a receiver will check it."""
    out: dict[str, Any] = msgspec.to_builtins(content)
    try:
        msgspec.convert(out, type(content))
    except msgspec.ValidationError as exc:
        raise InvalidContent(f"invalid {type(content).__name__}: {exc}") from exc
    return out


def user_of(matrix_user_id: str) -> str:
    """The Kaari user id in a Matrix user id (``@<uuid>:<server>``)."""
    return matrix_user_id.removeprefix("@").partition(":")[0]


def task_of(message: dict[str, Any], task_id: str) -> tuple[TaskContent | None, str]:
    """The task content of a decrypted message, or why not."""
    if message.get("type") != TASK_EVENT:
        return None, "not_homework"
    try:
        content = msgspec.convert(message.get("content"), TaskContent)
    except msgspec.ValidationError:
        return None, "malformed"
    if content.task_id != task_id:
        return None, "other_task"  # moved by the server
    return content, ""


def note_of(
    message: dict[str, Any], task_id: str, day: str, user_id: str
) -> tuple[NoteContent | None, str]:
    """The note of a decrypted message for this tick (its task, day and person)."""
    if message.get("type") != NOTE_EVENT:
        return None, "other_tick"
    try:
        content = msgspec.convert(message.get("content"), NoteContent)
    except msgspec.ValidationError:
        return None, "malformed"
    sender = user_of(str(message.get("sender", "")))
    if (content.task_id, content.day, sender) != (task_id, day, user_id):
        return None, "other_tick"
    return content, ""
