"""Homework end to end against real `kaari serve` processes (SQLite and PostgreSQL).

The therapist's Matrix device assigns two tasks (events of the case's homework room);
the child's tablet decrypts them in its "today", ticks one with a note; the therapist
hears of it live, sees the progress and reads the note; a guardian sees the same
progress; a laptop the guardian adds later reads the tasks and the note from her key
backup. Then no title, instruction or note is found in the database, the blob store or
the logs. A second test drives the same from terminals with `kaari client homework`.
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from matrix_onboarding import PASSWORD, Devices, LiveEvents, onboard
from servers import kaari_client, scenario_server, stored_bytes

from client.api import Api, ApiError
from client.homework import Homework, Schedule

HELSINKI = ZoneInfo("Europe/Helsinki")

#: a terminal on a device in Finland: its local date is the server's
in_finland = functools.partial(kaari_client, tz="Europe/Helsinki")


def homework(devices: Devices, name: str) -> Homework:
    """A person's Matrix device and its Kaari API session (the same device)."""
    return Homework(devices.open(name), Api(devices.url, token=devices.tokens[name]))


def task_progress(progress: dict[str, Any], task_id: str) -> dict[str, Any]:
    (entry,) = [t for t in progress["tasks"] if t["taskId"] == task_id]
    return entry


def test_homework_end_to_end(tmp_path: Path, database: str) -> None:
    server = scenario_server(tmp_path, database)
    plain = {
        "bike": "Ride a bike to the shop and back",
        "bike-how": "Helmet on; Anna walks along. Stop at the crossing by the school.",
        "feel": "Tell how you feel today",
        "feel-how": "Pick a face from the card and tell one thing that happened.",
        "note": "Ajoin koko matkan itse, ilman apupyöriä!",
        "feel-edit": "Draw how you feel, then tell Anna about the drawing.",
    }
    try:
        people = onboard(server)
        p = people
        devices = Devices(people, tmp_path / "matrix", server.url)
        now = datetime.now(HELSINKI)
        today = now.date()
        therapist = homework(devices, "therapist")
        child = homework(devices, "eino")
        guardian = homework(devices, "anna")
        recovery_key = guardian.matrix.create_backup()
        bike = therapist.assign(
            p.case_id, plain["bike"], plain["bike-how"],
            schedule=Schedule.daily(), starts_on=today,
        )  # fmt: skip
        feel = therapist.assign(
            p.case_id, plain["feel"], plain["feel-how"],
            schedule=Schedule.weekly(today.isoweekday()), starts_on=today, tick_by="child",
        )  # fmt: skip
        assert (bike.title, feel.title) == (plain["bike"], plain["feel"])
        assert feel.schedule.weekdays == (today.isoweekday(),)

        # the child's tablet reads its day: the keys arrive in its to-device mailbox first
        day = child.today()
        assert day.day == today
        shown = {t.task_id: t for t in day.tasks}
        assert shown[bike.id].title == plain["bike"]
        assert shown[feel.id].instructions == plain["feel-how"]
        assert all(t.readable and t.may_tick and not t.done for t in day.tasks)

        # the therapist listens live; the child ticks the bike ride with a note
        live = LiveEvents(p.therapist)  # the same device's WebSocket
        live.connect()
        tick = child.tick(bike.id, today, note=plain["note"], emoji="🚲", client_time=now)
        assert (tick.note, tick.emoji) == (plain["note"], "🚲")
        live.wait_for(lambda _: _ticked(live, bike.id), 10)
        assert _ticked(live, bike.id), live.events
        live.close()
        assert {t.task_id: t.done for t in child.today().tasks} == {bike.id: True, feel.id: False}

        # the therapist sees the progress and reads the note
        progress = therapist.progress(p.case_id)
        entry = task_progress(progress, bike.id)
        assert entry["done"] == 1
        assert entry["streak"] == 1
        assert task_progress(progress, feel.id)["done"] == 0
        (seen,) = therapist.ticks(bike.id)
        assert (seen.note, seen.emoji, seen.day) == (plain["note"], "🚲", today)
        assert seen.user_id == str(p.child.user_id)
        # a guardian sees the same
        assert guardian.progress(p.case_id) == progress
        assert [t.note for t in guardian.ticks(bike.id)] == [plain["note"]]
        # a guardian may not set tasks, nor tick one the child ticks
        with pytest.raises(ApiError) as refused:
            guardian.assign(p.case_id, "Skip school", schedule=Schedule.once(), starts_on=today)
        assert refused.value.status == 403
        with pytest.raises(ApiError) as refused:
            guardian.tick(feel.id, today, client_time=now)
        assert refused.value.status == 403

        # ticking the same day again is the same tick; an edit reaches the family
        again = child.tick(bike.id, today, client_time=now)
        assert (again.received_at, again.note) == (tick.received_at, plain["note"])
        edited = therapist.edit(feel.id, instructions=plain["feel-edit"])
        assert (edited.title, edited.content_version) == (plain["feel"], 2)
        assert {t.task_id: t.instructions for t in child.today().tasks}[feel.id] == (
            plain["feel-edit"]
        )

        # Anna adds a laptop after the tasks were written: her key backup opens them
        laptop_body = Api(server.url).login("anna@example.fi", PASSWORD, "Anna's laptop")
        people.secrets += [laptop_body["token"], recovery_key]
        devices.tokens["laptop"] = laptop_body["token"]
        late = homework(devices, "laptop")
        assert {t.id: t.problem for t in late.tasks(p.case_id)} == {
            bike.id: "no_key",
            feel.id: "no_key",
        }
        guardian.tasks(p.case_id)  # Anna's phone holds the edit's key too, backed up
        late.matrix.restore_backup(recovery_key)
        assert {t.id: (t.title, t.instructions) for t in late.tasks(p.case_id)} == {
            bike.id: (plain["bike"], plain["bike-how"]),
            feel.id: (plain["feel"], plain["feel-edit"]),
        }
        assert [t.note for t in late.ticks(bike.id)] == [plain["note"]]
        assert late.progress(p.case_id) == progress

        # every device read everything it was sent
        for hw in (therapist, child, guardian, late):
            hw.matrix.sync()
            assert hw.matrix.undecryptable() == [], hw.matrix.device_id
    finally:
        server.stop()

    everything = stored_bytes(tmp_path, database)
    for text in plain.values():
        assert text.encode() not in everything, text
    assert b"\\ud83d\\udeb2" not in everything
    for secret in people.secrets:
        assert secret.encode() not in everything


def _ticked(live: LiveEvents, task_id: str) -> bool:
    return any(
        e.get("event") == "homework_ticked" and e.get("ids", {}).get("taskId") == task_id
        for e in live.events
    )


def test_homework_from_the_terminal(tmp_path: Path) -> None:
    server = scenario_server(tmp_path, "")
    try:
        people = onboard(server)
        devices = Devices(people, tmp_path / "matrix", server.url)
        phone = homework(devices, "therapist")  # Terhi's phone, there before the tasks
        anna, terhi = tmp_path / "anna", tmp_path / "terhi"
        for profile, email in ((anna, "anna@example.fi"), (terhi, "terhi@example.fi")):
            done = in_finland(
                profile, "login", "--server", server.url, "--email", email,
                "--password-stdin", stdin=PASSWORD + "\n",
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
        weekday = str(datetime.now(HELSINKI).isoweekday())

        def ok(profile: Path, *args: str) -> str:
            done = in_finland(profile, "homework", *args)
            assert done.returncode == 0, done.stderr
            return done.stdout

        room = ok(terhi, "assign", "--case", "Eino", "--title", "Siivoa huone",
                  "--instructions", "Lelut laatikkoon", "--daily")  # fmt: skip
        assert "Assigned 'Siivoa huone'" in room
        assert "daily from" in room
        room_id = room.split("(")[1][:8]
        feel = ok(terhi, "assign", "--case", people.case_id[:8], "--title", "Kerro miltä tuntuu",
                  "--weekly", weekday, "--tick-by", "child")  # fmt: skip
        assert "weekly on" in feel

        listed = ok(anna, "list")  # Anna has one case: no --case needed
        assert f"{room_id}  Siivoa huone — daily, active" in listed
        assert "Lelut laatikkoon" in listed
        today = ok(anna, "today")
        assert f"[ ] {room_id}  Siivoa huone" in today
        assert "Kerro miltä tuntuu (not yours to tick)" in today

        ticked = ok(anna, "tick", room_id, "--note", "Huone on siisti", "--emoji", "✨")
        assert "Ticked 'Siivoa huone' for" in ticked
        assert f"[x] {room_id}  Siivoa huone" in ok(anna, "today")
        progress = ok(terhi, "progress", "--case", "Eino")
        assert "Siivoa huone: this week 1/" in progress
        assert "streak 1 times" in progress
        # Terhi's phone reads what the terminals wrote
        (task,) = [t for t in phone.tasks(people.case_id) if t.title == "Siivoa huone"]
        assert [(n.note, n.emoji) for n in phone.ticks(task.id)] == [("Huone on siisti", "✨")]

        undone = ok(anna, "undo", room_id)
        assert "Took back the tick of 'Siivoa huone'" in undone
        assert "Siivoa huone: this week 0/" in ok(terhi, "progress")

        # clear errors for what a person can get wrong
        refused = in_finland(anna, "homework", "assign", "--title", "x", "--daily")
        assert refused.returncode == 1
        assert "forbidden" in refused.stderr
        missing = in_finland(anna, "homework", "tick", "ffffffff")
        assert missing.returncode == 1
        assert "No single task matches" in missing.stderr
    finally:
        server.stop()
    everything = stored_bytes(tmp_path, "")
    for text in ("Siivoa huone", "Lelut laatikkoon", "Kerro miltä tuntuu", "Huone on siisti"):
        assert text.encode() not in everything, text
