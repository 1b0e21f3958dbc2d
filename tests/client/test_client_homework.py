"""Homework on the device, against an in-memory server (tests/client/homework_fake.py).

Room keys arriving in the mailbox, the key bookkeeping of ``share_key``, decryption
with one mailbox read for a missing key, and the checks that keep a server from
showing content under the wrong task or a note under the wrong person.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest
from homework_fake import FakeServer

from client.homework import Homework, HomeworkError, Schedule
from client.messenger import Messenger
from crypto.envelope import MegolmCiphertext, OlmCiphertext
from crypto.errors import UnknownSessionError
from crypto.payloads import CompletionNote, HomeworkContent, TextMessage

TODAY = date.today()


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


def _family(server: FakeServer, tmp: Path) -> tuple[Messenger, Messenger, Messenger]:
    return (
        server.device(tmp, "therapist"),
        server.device(tmp, "guardian"),
        server.device(tmp, "child"),
    )


def test_a_room_key_in_the_mailbox_is_imported_and_not_shown(
    server: FakeServer, tmp_path: Path
) -> None:
    therapist, guardian, _ = _family(server, tmp_path)
    share = therapist.device.room_key_share_for(server.case_id)
    therapist.send(server.thread_id, share)
    therapist.send(server.thread_id, TextMessage(body="hello"))
    content = therapist.device.encrypt_case_content(
        server.case_id, HomeworkContent(task_id="t", title="Ride a bike")
    )
    with pytest.raises(UnknownSessionError):
        guardian.device.decrypt_case_content(content)
    got = guardian.sync()
    assert [type(m.payload) for m in got] == [TextMessage]  # the key is no message
    assert guardian.failed == []
    assert server.mailboxes[guardian.device.device_id] == []  # consumed and acknowledged
    assert guardian.device.decrypt_case_content(content).payload.title == "Ride a bike"  # type: ignore[union-attr]
    # the sender keeps no copy of its key share among its messages either
    assert [type(m.payload) for m in therapist.history()] == [TextMessage]


def test_a_forged_room_key_is_refused_and_the_loop_goes_on(
    server: FakeServer, tmp_path: Path
) -> None:
    """A guardian relays the therapist's session key as a direct share: refused."""
    therapist, guardian, child = _family(server, tmp_path)
    share = therapist.device.room_key_share_for(server.case_id)
    guardian.send(server.thread_id, share)
    # history "from the therapist" made from the guardian's own session
    guardian.device.room_key_share_for(server.case_id)
    (own,) = guardian.device.history_shares_for(server.case_id)
    guardian.send(server.thread_id, msgspec.structs.replace(own, origin=therapist.device.keys))
    guardian.send(server.thread_id, TextMessage(body="still here"))
    got = child.sync()
    assert [m.payload for m in got] == [TextMessage(body="still here")]
    assert [reason for _, reason in child.failed] == [
        "room_key_refused:UntrustedKeyShareError",
        "room_key_refused:UntrustedKeyShareError",
    ]
    content = therapist.device.encrypt_case_content(
        server.case_id, HomeworkContent(task_id="t", title="x")
    )
    with pytest.raises(UnknownSessionError):
        child.device.decrypt_case_content(content)
    assert server.mailboxes[child.device.device_id] == []  # refused rows are consumed


def test_a_share_whose_origin_contradicts_the_key_directory_is_refused(
    server: FakeServer, tmp_path: Path
) -> None:
    therapist, guardian, _ = _family(server, tmp_path)
    share = therapist.device.room_key_share_for(server.case_id)
    # the server hands out another bundle under the therapist's device id
    impostor = server.device(tmp_path, "therapist")
    server.bundles[therapist.device.device_id] = server.bundles.pop(impostor.device.device_id)
    therapist.send(server.thread_id, share)
    guardian.sync()
    assert [reason for _, reason in guardian.failed] == ["BindingError"]


def test_assign_shares_the_key_once_and_the_child_reads_today(
    server: FakeServer, tmp_path: Path
) -> None:
    therapist, guardian, child = _family(server, tmp_path)
    hw = Homework(therapist)
    bike = hw.assign(
        server.case_id,
        "Ride a bike to the shop and back",
        "With a helmet",
        schedule=Schedule.daily(),
        starts_on=TODAY,
    )
    assert bike.readable
    assert bike.title == "Ride a bike to the shop and back"
    assert len(server.sent) == 1  # the key, to the guardian's and the child's devices
    assert sorted(server.sent[0]["to"]) == sorted(
        [guardian.device.device_id, child.device.device_id]
    )
    feel = hw.assign(
        server.case_id,
        "Tell how you feel today",
        schedule=Schedule.weekly(TODAY.isoweekday()),
        starts_on=TODAY,
        tick_by="child",
    )
    assert len(server.sent) == 1  # same session, same devices: nothing more to send
    assert feel.schedule == Schedule("weekly", weekdays=(TODAY.isoweekday(),))
    today = Homework(child).today()  # the key is in the mailbox: read once, then decrypt
    assert today.day == TODAY
    assert {t.title for t in today.tasks} == {bike.title, feel.title}
    assert all(t.readable and t.may_tick and not t.done for t in today.tasks)
    listed = Homework(guardian).tasks(server.case_id)
    assert [t.instructions for t in listed] == ["With a helmet", ""]
    assert listed[0].author_user_id == therapist.device.user_id


def test_a_device_that_joins_later_gets_the_history(server: FakeServer, tmp_path: Path) -> None:
    therapist, guardian, _ = _family(server, tmp_path)
    hw = Homework(therapist)
    first = hw.assign(server.case_id, "Tidy your room", schedule=Schedule.once(), starts_on=TODAY)
    tablet = server.device(tmp_path, "guardian", user=guardian.device.user_id)
    hw.assign(server.case_id, "Draw a cat", schedule=Schedule.per_week(3), starts_on=TODAY)
    # the current key (from its current index) and the history from index 0
    assert len(server.sent) == 3
    tasks = Homework(tablet).tasks(server.case_id)
    assert [t.title for t in tasks] == [first.title, "Draw a cat"]
    assert tablet.failed == []
    # nothing new: nothing sent
    assert hw.share_key(server.case_id) == 0
    assert hw.keep_keys_shared(server.case_id) == 0
    assert len(server.sent) == 3
    # a reader that never wrote makes no session just to share it
    assert Homework(guardian).keep_keys_shared(server.case_id) == 0
    assert len(server.sent) == 3
    # a device that joined later gets the writer's keys when the writer's app looks
    laptop = server.device(tmp_path, "guardian", user=guardian.device.user_id)
    assert hw.keep_keys_shared(server.case_id) == 1
    assert Homework(laptop).task(first.id).title == first.title


def test_content_swapped_between_tasks_is_never_shown_under_the_wrong_task(
    server: FakeServer, tmp_path: Path
) -> None:
    therapist, guardian, _ = _family(server, tmp_path)
    hw = Homework(therapist)
    a = hw.assign(server.case_id, "Ride a bike", schedule=Schedule.daily(), starts_on=TODAY)
    b = hw.assign(server.case_id, "Tell a story", schedule=Schedule.daily(), starts_on=TODAY)
    server.tasks[a.id]["content"], server.tasks[b.id]["content"] = (
        server.tasks[b.id]["content"],
        server.tasks[a.id]["content"],
    )
    shown = {t.id: t for t in Homework(guardian).tasks(server.case_id)}
    for task_id in (a.id, b.id):
        assert not shown[task_id].readable
        assert shown[task_id].title == ""
        assert shown[task_id].problem == "other_task"
    # a note is no task either, and content of another case is refused unopened
    note = therapist.device.encrypt_case_content(
        server.case_id, CompletionNote(task_id=a.id, day=TODAY.isoformat())
    )
    server.tasks[a.id]["content"] = msgspec.to_builtins(note)
    assert Homework(guardian).task(a.id).problem == "not_homework"
    server.tasks[a.id]["content"] = {**msgspec.to_builtins(note), "caseId": "another-case"}
    assert Homework(guardian).task(a.id).problem == "other_case"


def test_a_missing_key_reads_the_mailbox_once(server: FakeServer, tmp_path: Path) -> None:
    therapist, guardian, _ = _family(server, tmp_path)
    task = Homework(therapist).assign(
        server.case_id, "Ride a bike", schedule=Schedule.daily(), starts_on=TODAY
    )
    server.mailboxes[guardian.device.device_id].clear()  # the key share is lost
    calls = []
    original = guardian.sync

    def counting() -> list[object]:
        calls.append(1)
        return list(original())

    guardian.sync = counting  # type: ignore[method-assign,assignment]
    Homework(guardian).task(task.id)
    assert calls == [1]
    shown = Homework(guardian).tasks(server.case_id)
    assert shown[0].problem == "no_key"
    assert calls == [1, 1]  # once per call, however many tasks lack a key


def test_ticks_with_notes_and_undo(server: FakeServer, tmp_path: Path) -> None:
    therapist, guardian, child = _family(server, tmp_path)
    task = Homework(therapist).assign(
        server.case_id, "Ride a bike", schedule=Schedule.daily(), starts_on=TODAY
    )
    kid = Homework(child)
    offline = datetime.now(timezone(timedelta(hours=2))) - timedelta(days=2)
    tick = kid.tick(
        task.id, day=offline.date(), note="Tosi kivaa!", emoji="🚲", client_time=offline
    )
    assert (tick.note, tick.emoji, tick.note_readable) == ("Tosi kivaa!", "🚲", True)
    assert tick.client_time == offline.isoformat()
    plain = kid.tick(task.id, day=TODAY)
    assert not plain.has_note
    for reader in (therapist, guardian):
        ticks = Homework(reader).ticks(task.id)
        assert [(t.day, t.note, t.emoji) for t in ticks] == [
            (offline.date(), "Tosi kivaa!", "🚲"),
            (TODAY, "", ""),
        ]
        assert ticks[0].user_id == child.device.user_id
    # a note moved onto another person's tick is not shown as theirs
    server.ticks[task.id, TODAY.isoformat()]["note"] = server.ticks[
        task.id, offline.date().isoformat()
    ]["note"]
    server.ticks[task.id, TODAY.isoformat()]["userId"] = guardian.device.user_id
    moved = Homework(therapist).ticks(task.id)[1]
    assert (moved.note, moved.note_readable, moved.problem) == ("", False, "other_tick")
    kid.undo(task.id, TODAY)
    assert [t.day for t in Homework(therapist).ticks(task.id)] == [offline.date()]


def test_edit_keeps_what_is_not_given(server: FakeServer, tmp_path: Path) -> None:
    therapist, guardian, _ = _family(server, tmp_path)
    hw = Homework(therapist)
    task = hw.assign(server.case_id, "Ride a bike", "Slowly", schedule=Schedule.daily(),
                     starts_on=TODAY)  # fmt: skip
    edited = hw.edit(task.id, instructions="Fast!", schedule=Schedule.per_week(2), ends_on=None)
    assert (edited.title, edited.instructions) == ("Ride a bike", "Fast!")
    assert edited.content_version == 2
    assert server.tasks[task.id]["endsOn"] is None
    paused = hw.edit(task.id, status="paused")
    assert paused.status == "paused"
    assert paused.title == "Ride a bike"
    assert Homework(guardian).task(task.id).instructions == "Fast!"
    server.tasks[task.id]["content"]["sessionId"] = "unknown"
    with pytest.raises(HomeworkError):
        hw.edit(task.id, title="New title")


def test_content_a_receiver_would_refuse_is_refused_before_posting(
    server: FakeServer, tmp_path: Path
) -> None:
    therapist, _, _ = _family(server, tmp_path)
    with pytest.raises(ValueError, match="HomeworkContent"):
        Homework(therapist).assign(
            server.case_id, "x" * 201, schedule=Schedule.daily(), starts_on=TODAY
        )
    assert server.tasks == {}


def test_schedule_wire_and_description() -> None:
    assert Schedule.daily().wire() == {"kind": "daily"}
    assert Schedule.weekly(5, 1, 3).wire() == {"kind": "weekly", "weekdays": [1, 3, 5]}
    assert Schedule.per_week(3).wire() == {"kind": "perWeek", "timesPerWeek": 3}
    assert Schedule.weekly(1, 3).describe() == "weekly on Mon, Wed"
    assert Schedule.per_week(2).describe() == "2 times a week"
    assert msgspec.convert({"kind": "daily", "weekdays": None}, Schedule) == Schedule.daily()


def test_olm_rows_of_other_kinds_still_arrive(server: FakeServer, tmp_path: Path) -> None:
    """The share path does not disturb ordinary rows (decoded as before)."""
    therapist, guardian, _ = _family(server, tmp_path)
    therapist.send(server.thread_id, TextMessage(body="moi"))
    (row,) = server.mailboxes[guardian.device.device_id]
    assert msgspec.convert(row["ciphertext"], OlmCiphertext).message_type == 0
    assert [m.payload for m in guardian.sync()] == [TextMessage(body="moi")]


def test_a_device_that_left_cannot_read_what_comes_next(server: FakeServer, tmp_path: Path) -> None:
    therapist, guardian, child = _family(server, tmp_path)
    hw = Homework(therapist)
    first = hw.assign(server.case_id, "Ride a bike", schedule=Schedule.daily(), starts_on=TODAY)
    assert Homework(guardian).task(first.id).readable
    del server.bundles[guardian.device.device_id]  # removed from the case
    second = hw.assign(server.case_id, "Tidy up", schedule=Schedule.daily(), starts_on=TODAY)
    assert (
        server.tasks[second.id]["content"]["sessionId"]
        != (server.tasks[first.id]["content"]["sessionId"])
    )
    assert Homework(child).task(second.id).title == "Tidy up"
    with pytest.raises(UnknownSessionError):
        guardian.device.decrypt_case_content(
            msgspec.convert(server.tasks[second.id]["content"], MegolmCiphertext)
        )
    assert hw.share_key(server.case_id) == 0  # settled: nothing more to send
