"""Homework on the device over the Matrix reference client, against the real app in
process (SQLite and PostgreSQL): task content and tick notes are Megolm events of the
case's homework room, the homework records point at them by id.

The user faults of issue 13, each failing on the old path (case ciphertexts shared over
the child thread): a caregiver with the homework grant reads the task titles; the
therapist's sending device signs out and her other device, the family and her new laptop
still read the task; a new device reads the history. Where a test needs the server to
misbehave (an event id moved to another task or tick), it writes the server's tables and
the real app serves what it finds there.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from conftest import World
from litestar.testing import TestClient
from mx_client_support import Devices
from sqlalchemy.ext.asyncio import AsyncConnection
from support import Session, login, run

from app.config import Settings
from app.homework import store as homework_store
from app.messaging.service import thread_id_of
from app.storage.engine import Database
from app.storage.schema import attachments, homework_ticks, metadata
from client.api import Api, ApiError
from client.homework import Homework, HomeworkError, InvalidContent, Schedule
from client.matrix.files import fetch_file
from crypto.attachments import encrypt_stream
from crypto.payloads import AttachmentPointer

sys.path.insert(0, str(Path(__file__).parent.parent / "app" / "appointments"))
from appointments_support import new_caregiver, pair_child

T = TypeVar("T")
HEL = ZoneInfo("Europe/Helsinki")
#: the server's clock starts here (a Wednesday morning in Helsinki) and runs on
NOW = datetime(2026, 10, 14, 10, 0, tzinfo=HEL)
TODAY = NOW.date()
BIKE = "Ride a bike to the shop and back"
BIKE_HOW = "Helmet on; Anna walks along."


@dataclass
class People:
    client: TestClient[Any]
    settings: Settings
    world: World
    devices: Devices
    case_id: str

    def homework(self, session: Session, name: str) -> Homework:
        """A device of ``session``: its Matrix client and its Kaari API, one device."""
        mx = self.devices.open(session, name)
        mx.sync()
        return Homework(mx, Api(http=self.client, token=session.token))

    def new_device(self, email: str, name: str) -> tuple[Session, Homework]:
        session = login(self.client, email, device=name)
        return session, self.homework(session, name)


@pytest.fixture
def people(client: TestClient[Any], settings: Settings, world: World, tmp_path: Path) -> People:
    started = time.monotonic()
    client.app.state.clock = lambda: (
        NOW + timedelta(seconds=time.monotonic() - started)
    ).astimezone(UTC)
    return People(client, settings, world, Devices(client, tmp_path), str(world.case_id))


def assign(hw: Homework, case_id: str, title: str = BIKE, **extra: Any) -> Any:
    extra.setdefault("starts_on", TODAY)
    return hw.assign(case_id, title, BIKE_HOW, schedule=Schedule.daily(), **extra)


def _sql(settings: Settings, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    async def go() -> T:
        db = Database(settings.effective_database_url)
        try:
            async with db.transaction() as conn:
                return await work(conn)
        finally:
            await db.dispose()

    result: T = run(go())
    return result


def database_text(settings: Settings) -> str:
    """Every row of every table, as text (what the server's database holds)."""

    async def work(conn: AsyncConnection) -> str:
        parts = []
        for table in metadata.sorted_tables:
            for row in (await conn.execute(sa.select(table))).all():
                parts.append(repr(tuple(row)))
        return "\n".join(parts)

    return _sql(settings, work)


def test_a_caregiver_with_the_homework_grant_reads_the_task_titles(
    people: People, world: World, client: TestClient[Any]
) -> None:
    daycare = new_caregiver(client, world, ["homework"])
    school = new_caregiver(client, world, ["schedule"], "school@example.fi")
    caregiver = people.homework(daycare, "daycare")
    outsider = people.homework(school, "school")
    therapist = people.homework(world.therapist, "terhi")
    task = assign(therapist, people.case_id)
    assert (task.readable, task.title) == (True, BIKE)
    (seen,) = caregiver.tasks(people.case_id)
    assert (seen.readable, seen.title, seen.instructions) == (True, BIKE, BIKE_HOW)
    assert seen.author_user_id == str(world.therapist.user_id)
    (due,) = caregiver.today().tasks
    assert (due.title, due.may_tick) == (BIKE, False)
    # without the grant: neither the records nor the room
    with pytest.raises(ApiError) as refused:
        outsider.tasks(people.case_id)
    assert refused.value.code == "forbidden"
    assert outsider.matrix.sync().messages == []
    # the title never reached the server in the clear
    assert BIKE not in database_text(people.settings)


def test_a_caregiver_granted_later_reads_the_tasks_once_the_therapist_republishes(
    people: People, world: World, client: TestClient[Any]
) -> None:
    therapist = people.homework(world.therapist, "terhi")
    bike = assign(therapist, people.case_id)
    done = assign(therapist, people.case_id, "Tell how you feel today")
    therapist.edit(done.id, status="finished")
    daycare = new_caregiver(client, world, ["schedule"])
    caregiver = people.homework(daycare, "daycare")
    r = client.put(
        f"/cases/{world.case_id}/members/{daycare.user_id}/scopes",
        json={"scopes": ["schedule", "homework"]},
        headers=world.guardian.headers,
    )
    assert r.status_code == 204, r.text
    # set before the grant: no key reached the caregiver's device
    assert {t.id: t.problem for t in caregiver.tasks(people.case_id)} == {
        bike.id: "no_key",
        done.id: "no_key",
    }
    assert therapist.republish(people.case_id) == 1  # the open task only
    by_id = {t.id: t for t in caregiver.tasks(people.case_id)}
    assert (by_id[bike.id].readable, by_id[bike.id].title) == (True, BIKE)
    assert by_id[bike.id].content_version == 2
    assert by_id[done.id].problem == "no_key"


def test_the_sending_device_signs_out_and_everyone_still_reads_the_task(
    people: People, world: World, client: TestClient[Any]
) -> None:
    child_session = pair_child(client, world)
    terhi = people.homework(world.therapist, "terhi")
    recovery_key = terhi.matrix.create_backup()
    _, tablet = people.new_device("therapist@example.fi", "tablet")
    guardian = people.homework(world.guardian, "anna")
    child = people.homework(child_session, "child")
    task = assign(terhi, people.case_id)
    terhi.matrix.http.logout()  # before anyone synced
    terhi.matrix.close()
    for hw in (tablet, guardian, child):
        (seen,) = hw.tasks(people.case_id)
        assert (seen.id, seen.readable, seen.title) == (task.id, True, BIKE)
    # the therapist's new laptop, signed in afterwards, reads it from her key backup
    _, laptop = people.new_device("therapist@example.fi", "laptop")
    (unread,) = laptop.tasks(people.case_id)
    assert (unread.readable, unread.problem) == (False, "no_key")
    laptop.matrix.restore_backup(recovery_key)
    (seen,) = laptop.tasks(people.case_id)
    assert (seen.readable, seen.title, seen.instructions) == (True, BIKE, BIKE_HOW)
    # and edits it from there: everyone reads the new content
    laptop.edit(task.id, title="Ride a bike to school")
    for hw in (tablet, guardian, child):
        assert hw.task(task.id).title == "Ride a bike to school"


def test_a_new_device_reads_the_history_forwarded_by_the_users_own_device(
    people: People, world: World, client: TestClient[Any]
) -> None:
    child_session = pair_child(client, world)
    therapist = people.homework(world.therapist, "terhi")
    anna = people.homework(world.guardian, "anna")
    master = anna.matrix.bootstrap_cross_signing()
    child = people.homework(child_session, "child")
    task = assign(therapist, people.case_id)
    done = child.tick(task.id, TODAY, note="Went to the shop!", emoji="🚲", client_time=NOW)
    assert (done.note, done.emoji) == ("Went to the shop!", "🚲")
    assert anna.task(task.id).title == BIKE  # anna's phone holds the keys
    # anna's new phone: her old phone shows its master key (QR), the new one trusts it,
    # the old one cross-signs it; the new one asks its own devices for the missing keys
    _, phone = people.new_device("guardian1@example.fi", "anna-phone")
    assert phone.task(task.id).problem == "no_key"
    (unread,) = phone.ticks(task.id)
    assert (unread.has_note, unread.note_readable, unread.problem) == (True, False, "no_key")
    phone.matrix.trust_own_master_key(master)
    anna.matrix.verify_own_device(phone.matrix.device_id)
    assert phone.matrix.request_missing_keys() == 2  # the task's and the note's sessions
    anna.matrix.sync()  # answers with m.forwarded_room_key over Olm
    phone.matrix.sync()
    seen = phone.task(task.id)
    assert (seen.readable, seen.title) == (True, BIKE)
    (tick,) = phone.ticks(task.id)
    assert (tick.note, tick.emoji, tick.note_readable) == ("Went to the shop!", "🚲", True)


def test_content_moved_to_another_task_is_refused(
    people: People, world: World, client: TestClient[Any]
) -> None:
    therapist = people.homework(world.therapist, "terhi")
    guardian = people.homework(world.guardian, "anna")
    bike = assign(therapist, people.case_id)
    feel = assign(therapist, people.case_id, "Tell how you feel today")

    async def swap(conn: AsyncConnection) -> None:
        await homework_store.update_task(
            conn, UUID(feel.id), content_event_id=bike.content_event_id
        )

    _sql(people.settings, swap)
    by_id = {t.id: t for t in guardian.tasks(people.case_id)}
    assert (by_id[bike.id].readable, by_id[bike.id].title) == (True, BIKE)
    assert (by_id[feel.id].readable, by_id[feel.id].title) == (False, "")
    assert by_id[feel.id].problem == "other_task"
    # nor can the therapist's device edit part of what it cannot read
    with pytest.raises(HomeworkError):
        therapist.edit(feel.id, instructions="Pick a face")


def test_a_note_moved_to_another_tick_is_refused(
    people: People, world: World, client: TestClient[Any]
) -> None:
    child_session = pair_child(client, world)
    therapist = people.homework(world.therapist, "terhi")
    child = people.homework(child_session, "child")
    guardian = people.homework(world.guardian, "anna")
    yesterday = TODAY - timedelta(days=1)
    task = assign(therapist, people.case_id, starts_on=yesterday)
    child.tick(task.id, TODAY, note="fun", client_time=NOW)
    guardian.tick(task.id, yesterday, client_time=NOW)
    (today_tick,) = [t for t in therapist.ticks(task.id) if t.day == TODAY]
    assert (today_tick.note, today_tick.note_readable) == ("fun", True)

    async def move(conn: AsyncConnection) -> None:
        # the child's note under the guardian's tick of yesterday
        note = (
            await conn.execute(
                sa.select(homework_ticks.c.note_event_id).where(homework_ticks.c.day == TODAY)
            )
        ).scalar_one()
        await conn.execute(
            homework_ticks.update()
            .where(homework_ticks.c.day == yesterday)
            .values(note_event_id=note)
        )

    _sql(people.settings, move)
    ticks = {t.day: t for t in therapist.ticks(task.id)}
    assert ticks[TODAY].note == "fun"
    moved = ticks[yesterday]
    assert (moved.has_note, moved.note_readable, moved.note) == (True, False, "")
    assert moved.problem == "other_tick"


def test_content_out_of_bounds_is_refused_before_anything_is_sent(
    people: People, world: World
) -> None:
    therapist = people.homework(world.therapist, "terhi")
    with pytest.raises(InvalidContent):
        assign(therapist, people.case_id, "x" * 201)
    with pytest.raises(InvalidContent):
        assign(therapist, people.case_id, "")
    assert therapist.tasks(people.case_id) == []
    guardian = people.homework(world.guardian, "anna")
    assert guardian.matrix.sync().messages == []


def test_only_the_devices_own_event_makes_a_task(
    people: People, world: World, client: TestClient[Any]
) -> None:
    """The server refuses a task pointing at an event of another device (422)."""
    therapist = people.homework(world.therapist, "terhi")
    guardian = people.homework(world.guardian, "anna")
    room = guardian.room(people.case_id)
    event_id = guardian.matrix.send_message(
        room, {"task_id": "t", "title": "forged"}, "org.kaari.homework.task"
    )
    with pytest.raises(ApiError) as refused:
        therapist.api.create_task(
            people.case_id,
            {
                "id": "5b0b7c3e-8d8e-4f5e-9d7a-2f0d3c4b5a69",
                "contentEventId": event_id,
                "schedule": {"kind": "daily"},
                "startsOn": TODAY.isoformat(),
            },
        )
    assert (refused.value.status, refused.value.code) == (422, "content_event_invalid")


def test_a_task_s_picture_is_a_homework_room_attachment_kept_with_the_task(
    people: People, world: World, client: TestClient[Any]
) -> None:
    therapist = people.homework(world.therapist, "terhi")
    anna = people.homework(world.guardian, "anna")
    thread = thread_id_of(UUID(people.case_id), "homework")

    def picture(data: bytes, name: str) -> AttachmentPointer:
        stream = encrypt_stream([data])
        uploaded = therapist.api.upload_attachment(thread, iter(stream))
        return stream.pointer(str(uploaded["id"]), "image/png", name)

    first = picture(b"the first picture's pixels", "ote.png")
    task = assign(therapist, people.case_id, media=[first])
    (seen,) = anna.tasks(people.case_id)
    assert seen.media == (first,)
    assert b"".join(fetch_file(anna.api, seen.media[0])) == b"the first picture's pixels"
    second = picture(b"the second picture's pixels", "rusetti.png")
    edited = therapist.edit(task.id, media=[first, second])
    assert edited.content_version == 2
    assert anna.task(task.id).media == (first, second)

    async def expiry(conn: AsyncConnection) -> dict[str, datetime]:
        rows = (await conn.execute(sa.select(attachments.c.id, attachments.c.expires_at))).all()
        return {str(r.id): r.expires_at for r in rows}

    kept = _sql(people.settings, expiry)
    # both outlive a message's file (30 days): kept as long as the room's events
    for pointer in (first, second):
        until = kept[pointer.blob_id]
        until = until if until.tzinfo else until.replace(tzinfo=UTC)
        assert until > NOW + timedelta(days=people.settings.message_retention_days + 300)
