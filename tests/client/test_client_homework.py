"""Homework on the device, against the real app in process (SQLite and PostgreSQL).

Room keys arriving in the mailbox, the key bookkeeping of ``share_key``, decryption
with one mailbox read for a missing key, and the checks that keep a server from
showing content under the wrong task or a note under the wrong person.

Every device is a real :class:`client.device.Device` signed in to the app (the world's
therapist and guardians, a paired child), talking to it through litestar's
``TestClient``. Where a test needs the server to misbehave (content swapped between
tasks, a note moved to another tick, a key directory that lies), the test writes the
server's tables directly and the real app serves what it finds there.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
import pytest
import sqlalchemy as sa
from conftest import World
from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncConnection
from support import Session, login, run

from app.config import Settings
from app.homework import store as homework_store
from app.storage.engine import Database
from app.storage.schema import deliveries, device_keys, envelopes, homework_ticks, mailbox
from client.api import Api
from client.device import Device
from client.homework import Homework, HomeworkError, Schedule
from client.messenger import Messenger
from crypto.envelope import MegolmCiphertext, OlmCiphertext
from crypto.errors import UnknownSessionError
from crypto.identity import verify_device_bundle
from crypto.payloads import CompletionNote, HomeworkContent, TextMessage

sys.path.insert(0, str(Path(__file__).parent.parent / "app" / "appointments"))
from appointments_support import pair_child

T = TypeVar("T")
HEL = ZoneInfo("Europe/Helsinki")
#: the server's clock starts here (a Wednesday morning in Helsinki) and runs on
NOW = datetime(2026, 10, 14, 10, 0, tzinfo=HEL)
TODAY = NOW.date()


@dataclass
class Family:
    """The world's case with a real device for each of its people, on one running app."""

    client: TestClient[Any]
    settings: Settings
    world: World
    tmp: Path
    therapist: Messenger
    guardian: Messenger
    guardian2: Messenger
    child: Messenger
    case_id: str
    thread_id: str  # the case's ``child`` thread: its devices read homework

    def device(self, session: Session, name: str) -> Messenger:
        """A signed-in device of ``session`` with its keys published."""
        return _device(self.client, session, self.tmp, name)

    def sent_by(self, messenger: Messenger) -> list[set[str]]:
        """The recipients of each message the server took from this device, oldest first."""

        async def work(conn: AsyncConnection) -> list[set[str]]:
            query = (
                sa.select(envelopes.c.id)
                .where(envelopes.c.sender_device_id == UUID(messenger.device.device_id))
                .order_by(envelopes.c.created_at)
            )
            out = []
            for envelope_id in (await conn.execute(query)).scalars().all():
                waiting = sa.select(mailbox.c.device_id).where(mailbox.c.envelope_id == envelope_id)
                got = sa.select(deliveries.c.device_id).where(
                    deliveries.c.envelope_id == envelope_id
                )
                rows = [
                    *(await conn.execute(waiting)).scalars(),
                    *(await conn.execute(got)).scalars(),
                ]
                out.append({str(d) for d in rows})
            return out

        return _sql(self.settings, work)

    def task_content(self, task_id: str) -> dict[str, Any]:
        """A task's content as the server stores it."""

        async def work(conn: AsyncConnection) -> dict[str, Any]:
            row = await homework_store.get_task(conn, UUID(task_id))
            assert row is not None
            content: dict[str, Any] = msgspec.json.decode(row.content)
            return content

        return _sql(self.settings, work)

    def store_task_content(self, task_id: str, content: dict[str, Any]) -> None:
        """The server puts other content under a task."""

        async def work(conn: AsyncConnection) -> None:
            text = msgspec.json.encode(content).decode()
            await homework_store.update_task(conn, UUID(task_id), content=text)

        _sql(self.settings, work)


def _sql(settings: Settings, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction on the app's database (beside the running app)."""

    async def go() -> T:
        db = Database(settings.effective_database_url)
        try:
            async with db.transaction() as conn:
                return await work(conn)
        finally:
            await db.dispose()

    result: T = run(go())
    return result


def _device(client: TestClient[Any], session: Session, tmp: Path, name: str) -> Messenger:
    # one TestClient serves every device: Api sends its own token with each request
    api = Api(http=client, token=session.token)
    device = Device.create(
        tmp / f"{name}-{session.device_id}",
        secrets.token_bytes(32),
        str(session.user_id),
        str(session.device_id),
    )
    messenger = Messenger(api, device)
    messenger.publish_keys()
    return messenger


@pytest.fixture
def family(client: TestClient[Any], settings: Settings, world: World, tmp_path: Path) -> Family:
    """A fixed day on the server (ticks, ``today``), with time running from ``NOW`` so
    tasks keep the order they were made in."""
    started = time.monotonic()
    client.app.state.clock = lambda: (
        NOW + timedelta(seconds=time.monotonic() - started)
    ).astimezone(UTC)
    child = pair_child(client, world)
    therapist = _device(client, world.therapist, tmp_path, "therapist")
    threads = therapist.api.case_threads(world.case_id)
    (thread_id,) = [t["id"] for t in threads if t["kind"] == "child"]
    return Family(
        client=client,
        settings=settings,
        world=world,
        tmp=tmp_path,
        therapist=therapist,
        guardian=_device(client, world.guardian, tmp_path, "guardian"),
        guardian2=_device(client, world.guardian2, tmp_path, "guardian2"),
        child=_device(client, child, tmp_path, "child"),
        case_id=str(world.case_id),
        thread_id=thread_id,
    )


def _mailbox(messenger: Messenger) -> list[dict[str, Any]]:
    """What the server holds for the device (read without acknowledging)."""
    items: list[dict[str, Any]] = messenger.api.mailbox(0)["items"]
    return items


def test_a_room_key_in_the_mailbox_is_imported_and_not_shown(family: Family) -> None:
    therapist, guardian = family.therapist, family.guardian
    share = therapist.device.cases.room_key_share_for(family.case_id)
    therapist.send(family.thread_id, share)
    therapist.send(family.thread_id, TextMessage(body="hello"))
    content = therapist.device.cases.encrypt_case_content(
        family.case_id, HomeworkContent(task_id="t", title="Ride a bike")
    )
    with pytest.raises(UnknownSessionError):
        guardian.device.cases.decrypt_case_content(content)
    got = guardian.sync()
    assert [type(m.payload) for m in got] == [TextMessage]  # the key is no message
    assert guardian.failed == []
    assert _mailbox(guardian) == []  # consumed and acknowledged
    assert guardian.device.cases.decrypt_case_content(content).payload.title == "Ride a bike"  # type: ignore[union-attr]
    # the sender keeps no copy of its key share among its messages either
    assert [type(m.payload) for m in therapist.history()] == [TextMessage]


def test_a_forged_room_key_is_refused_and_the_loop_goes_on(family: Family) -> None:
    """A guardian relays the therapist's session key as a direct share: refused."""
    therapist, guardian, child = family.therapist, family.guardian, family.child
    share = therapist.device.cases.room_key_share_for(family.case_id)
    guardian.send(family.thread_id, share)
    # history "from the therapist" made from the guardian's own session
    guardian.device.cases.room_key_share_for(family.case_id)
    (own,) = guardian.device.cases.history_shares_for(family.case_id)
    forged = msgspec.structs.replace(own, origin=therapist.device.keys)
    guardian.send(family.thread_id, forged)
    guardian.send(family.thread_id, TextMessage(body="still here"))
    got = child.sync()
    assert [m.payload for m in got] == [TextMessage(body="still here")]
    assert [reason for _, reason in child.failed] == [
        "room_key_refused:UntrustedKeyShareError",
        "room_key_refused:UntrustedKeyShareError",
    ]
    content = therapist.device.cases.encrypt_case_content(
        family.case_id, HomeworkContent(task_id="t", title="x")
    )
    with pytest.raises(UnknownSessionError):
        child.device.cases.decrypt_case_content(content)
    assert _mailbox(child) == []  # refused rows are consumed


def test_a_share_whose_origin_contradicts_the_key_directory_is_refused(family: Family) -> None:
    therapist, guardian = family.therapist, family.guardian
    share = therapist.device.cases.room_key_share_for(family.case_id)
    # the key directory hands out other keys under the therapist's user and device ids
    # (the server's own record of the therapist's keys, which it checks senders
    # against, stays as it is: only what it serves to others is a lie)
    impostor = Device.create(
        family.tmp / "impostor",
        secrets.token_bytes(32),
        therapist.device.user_id,
        therapist.device.device_id,
    )
    bundle = impostor.signed_device_bundle()
    verify_device_bundle(bundle)  # a well-formed, self-signed bundle

    async def lie(conn: AsyncConnection) -> None:
        await conn.execute(
            device_keys.update()
            .where(device_keys.c.device_id == UUID(therapist.device.device_id))
            .values(bundle=bundle)
        )

    _sql(family.settings, lie)
    therapist.send(family.thread_id, share)
    guardian.sync()
    assert [reason for _, reason in guardian.failed] == ["BindingError"]


def test_assign_shares_the_key_once_and_the_child_reads_today(family: Family) -> None:
    therapist, guardian, guardian2, child = (
        family.therapist,
        family.guardian,
        family.guardian2,
        family.child,
    )
    hw = Homework(therapist)
    bike = hw.assign(
        family.case_id,
        "Ride a bike to the shop and back",
        "With a helmet",
        schedule=Schedule.daily(),
        starts_on=TODAY,
    )
    assert bike.readable
    assert bike.title == "Ride a bike to the shop and back"
    # the key, to every other device of the child thread, in one message
    assert family.sent_by(therapist) == [
        {guardian.device.device_id, guardian2.device.device_id, child.device.device_id}
    ]
    feel = hw.assign(
        family.case_id,
        "Tell how you feel today",
        schedule=Schedule.weekly(TODAY.isoweekday()),
        starts_on=TODAY,
        tick_by="child",
    )
    assert len(family.sent_by(therapist)) == 1  # same session, same devices: nothing more
    assert feel.schedule == Schedule("weekly", weekdays=(TODAY.isoweekday(),))
    today = Homework(family.child).today()  # the key is in the mailbox: read once, then decrypt
    assert today.day == TODAY
    assert {t.title for t in today.tasks} == {bike.title, feel.title}
    assert all(t.readable and t.may_tick and not t.done for t in today.tasks)
    listed = Homework(guardian).tasks(family.case_id)
    assert [t.instructions for t in listed] == ["With a helmet", ""]
    assert listed[0].author_user_id == therapist.device.user_id


def test_a_device_that_joins_later_gets_the_history(family: Family) -> None:
    therapist, guardian = family.therapist, family.guardian
    hw = Homework(therapist)
    first = hw.assign(family.case_id, "Tidy your room", schedule=Schedule.once(), starts_on=TODAY)
    email = family.world.guardian.email
    assert email is not None
    tablet = family.device(login(family.client, email, device="tablet"), "tablet")
    hw.assign(family.case_id, "Draw a cat", schedule=Schedule.per_week(3), starts_on=TODAY)
    # the current key (from its current index) and the history from index 0
    sent = family.sent_by(therapist)
    assert len(sent) == 3
    assert all(tablet.device.device_id in to for to in sent[1:])
    tasks = Homework(tablet).tasks(family.case_id)
    assert [t.title for t in tasks] == [first.title, "Draw a cat"]
    assert tablet.failed == []
    # nothing new: nothing sent
    assert hw.share_key(family.case_id) == 0
    assert hw.keep_keys_shared(family.case_id) == 0
    assert len(family.sent_by(therapist)) == 3
    # a reader that never wrote makes no session just to share it
    assert Homework(guardian).keep_keys_shared(family.case_id) == 0
    assert family.sent_by(guardian) == []
    # a device that joined later gets the writer's keys when the writer's app looks
    laptop = family.device(login(family.client, email, device="laptop"), "laptop")
    assert hw.keep_keys_shared(family.case_id) == 1
    assert Homework(laptop).task(first.id).title == first.title


def test_content_swapped_between_tasks_is_never_shown_under_the_wrong_task(
    family: Family,
) -> None:
    therapist, guardian = family.therapist, family.guardian
    hw = Homework(therapist)
    a = hw.assign(family.case_id, "Ride a bike", schedule=Schedule.daily(), starts_on=TODAY)
    b = hw.assign(family.case_id, "Tell a story", schedule=Schedule.daily(), starts_on=TODAY)
    content_a, content_b = family.task_content(a.id), family.task_content(b.id)
    family.store_task_content(a.id, content_b)
    family.store_task_content(b.id, content_a)
    shown = {t.id: t for t in Homework(guardian).tasks(family.case_id)}
    for task_id in (a.id, b.id):
        assert not shown[task_id].readable
        assert shown[task_id].title == ""
        assert shown[task_id].problem == "other_task"
    # a note is no task either, and content of another case is refused unopened
    note = therapist.device.cases.encrypt_case_content(
        family.case_id, CompletionNote(task_id=a.id, day=TODAY.isoformat())
    )
    family.store_task_content(a.id, msgspec.to_builtins(note))
    assert Homework(guardian).task(a.id).problem == "not_homework"
    another_case = str(UUID(int=secrets.randbits(128), version=4))
    family.store_task_content(a.id, {**msgspec.to_builtins(note), "caseId": another_case})
    assert Homework(guardian).task(a.id).problem == "other_case"


def test_a_missing_key_reads_the_mailbox_once(family: Family) -> None:
    therapist, guardian = family.therapist, family.guardian
    task = Homework(therapist).assign(
        family.case_id, "Ride a bike", schedule=Schedule.daily(), starts_on=TODAY
    )
    # the key share is lost: acknowledged unread (say, by an app that crashed after it)
    (row,) = _mailbox(guardian)
    guardian.api.ack(int(row["seq"]))
    assert _mailbox(guardian) == []
    calls = []
    original = guardian.sync

    def counting() -> list[object]:
        calls.append(1)
        return list(original())

    guardian.sync = counting  # type: ignore[method-assign,assignment]
    Homework(guardian).task(task.id)
    assert calls == [1]
    shown = Homework(guardian).tasks(family.case_id)
    assert shown[0].problem == "no_key"
    assert calls == [1, 1]  # once per call, however many tasks lack a key


def test_ticks_with_notes_and_undo(family: Family) -> None:
    therapist, guardian, child = family.therapist, family.guardian, family.child
    task = Homework(therapist).assign(
        family.case_id, "Ride a bike", schedule=Schedule.daily(),
        starts_on=TODAY - timedelta(days=3),
    )  # fmt: skip
    kid = Homework(child)
    offline = NOW.astimezone(timezone(timedelta(hours=2))) - timedelta(days=2)
    tick = kid.tick(
        task.id, day=offline.date(), note="Tosi kivaa!", emoji="🚲", client_time=offline
    )
    assert (tick.note, tick.emoji, tick.note_readable) == ("Tosi kivaa!", "🚲", True)
    assert datetime.fromisoformat(tick.client_time) == offline  # when it was made, not sent
    plain = kid.tick(task.id, day=TODAY, client_time=NOW)
    assert not plain.has_note
    for reader in (therapist, guardian):
        ticks = Homework(reader).ticks(task.id)
        assert [(t.day, t.note, t.emoji) for t in ticks] == [
            (offline.date(), "Tosi kivaa!", "🚲"),
            (TODAY, "", ""),
        ]
        assert ticks[0].user_id == child.device.user_id

    # a note moved onto another person's tick is not shown as theirs
    async def move(conn: AsyncConnection) -> None:
        mine = (homework_ticks.c.task_id == UUID(task.id), homework_ticks.c.day == offline.date())
        note = (await conn.execute(sa.select(homework_ticks.c.note).where(*mine))).scalar_one()
        today = (homework_ticks.c.task_id == UUID(task.id), homework_ticks.c.day == TODAY)
        await conn.execute(
            homework_ticks.update()
            .where(*today)
            .values(note=note, user_id=UUID(guardian.device.user_id))
        )

    _sql(family.settings, move)
    moved = Homework(therapist).ticks(task.id)[1]
    assert (moved.note, moved.note_readable, moved.problem) == ("", False, "other_tick")
    kid.undo(task.id, TODAY)
    assert [t.day for t in Homework(therapist).ticks(task.id)] == [offline.date()]


def test_edit_keeps_what_is_not_given(family: Family) -> None:
    therapist, guardian = family.therapist, family.guardian
    hw = Homework(therapist)
    task = hw.assign(family.case_id, "Ride a bike", "Slowly", schedule=Schedule.daily(),
                     starts_on=TODAY)  # fmt: skip
    edited = hw.edit(task.id, instructions="Fast!", schedule=Schedule.per_week(2), ends_on=None)
    assert (edited.title, edited.instructions) == ("Ride a bike", "Fast!")
    assert edited.content_version == 2
    assert edited.schedule == Schedule.per_week(2)
    assert therapist.api.task(task.id)["endsOn"] is None
    paused = hw.edit(task.id, status="paused")
    assert paused.status == "paused"
    assert paused.title == "Ride a bike"
    assert Homework(guardian).task(task.id).instructions == "Fast!"
    # content under a session no device holds: a partial edit cannot keep the rest
    family.store_task_content(task.id, {**family.task_content(task.id), "sessionId": "unknown"})
    with pytest.raises(HomeworkError):
        hw.edit(task.id, title="New title")


def test_content_a_receiver_would_refuse_is_refused_before_posting(family: Family) -> None:
    therapist = family.therapist
    with pytest.raises(ValueError, match="HomeworkContent"):
        Homework(therapist).assign(
            family.case_id, "x" * 201, schedule=Schedule.daily(), starts_on=TODAY
        )
    assert therapist.api.tasks(family.case_id) == []


def test_schedule_wire_and_description() -> None:
    assert Schedule.daily().wire() == {"kind": "daily"}
    assert Schedule.weekly(5, 1, 3).wire() == {"kind": "weekly", "weekdays": [1, 3, 5]}
    assert Schedule.per_week(3).wire() == {"kind": "perWeek", "timesPerWeek": 3}
    assert Schedule.weekly(1, 3).describe() == "weekly on Mon, Wed"
    assert Schedule.per_week(2).describe() == "2 times a week"
    assert msgspec.convert({"kind": "daily", "weekdays": None}, Schedule) == Schedule.daily()


def test_olm_rows_of_other_kinds_still_arrive(family: Family) -> None:
    """The share path does not disturb ordinary rows (decoded as before)."""
    therapist, guardian = family.therapist, family.guardian
    therapist.send(family.thread_id, TextMessage(body="moi"))
    (row,) = _mailbox(guardian)
    assert msgspec.convert(row["ciphertext"], OlmCiphertext).message_type == 0
    assert [m.payload for m in guardian.sync()] == [TextMessage(body="moi")]


def test_a_device_that_left_cannot_read_what_comes_next(family: Family) -> None:
    therapist, guardian, child = family.therapist, family.guardian, family.child
    hw = Homework(therapist)
    first = hw.assign(family.case_id, "Ride a bike", schedule=Schedule.daily(), starts_on=TODAY)
    assert Homework(guardian).task(first.id).readable
    guardian.api.logout()  # the guardian's phone signs out: revoked, gone from the thread
    second = hw.assign(family.case_id, "Tidy up", schedule=Schedule.daily(), starts_on=TODAY)
    second_content = family.task_content(second.id)
    assert second_content["sessionId"] != family.task_content(first.id)["sessionId"]
    assert guardian.device.device_id not in family.sent_by(therapist)[-1]
    assert Homework(child).task(second.id).title == "Tidy up"
    with pytest.raises(UnknownSessionError):
        guardian.device.cases.decrypt_case_content(
            msgspec.convert(second_content, MegolmCiphertext)
        )
    assert hw.share_key(family.case_id) == 0  # settled: nothing more to send
