"""Details and notes through the reference client (client/appointments.py) against the
real app in process: the therapist's device writes a session's details and a guardian's
device reads them, decrypted for real; a guardian cancels with a note and the therapist's
device reads it; a caregiver who sees the schedule is not in the family room and reads
neither; the texts never reach the server's tables. Where a test needs the server to
misbehave (a note's id moved to another case's cancellation), it writes the tables."""

from __future__ import annotations

import sys
import time
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from appointments_support import NOW, START, new_caregiver
from conftest import World
from litestar.testing import TestClient
from support import Session, run

from app.config import Settings
from app.storage.engine import Database
from app.storage.schema import appointment_cases, metadata
from client.api import Api
from client.appointments import Appointments, InvalidContent

sys.path.insert(0, str(Path(__file__).parent.parent.parent / "client"))
from mx_client_support import Devices  # isort: skip

DETAILS = "Kotikatu 1 B 12, ovikoodi 4321. Ota sisäkengät mukaan."
NOTE = "Eino on kuumeessa, emme pääse tänään."


@pytest.fixture
def devices(client: TestClient[Any], tmp_path: Path) -> Devices:
    started = time.monotonic()
    client.app.state.clock = lambda: (
        NOW + timedelta(seconds=time.monotonic() - started)
    ).astimezone(UTC)
    return Devices(client, tmp_path)


def device(client: TestClient[Any], devices: Devices, who: Session, name: str) -> Appointments:
    mx = devices.open(who, name)
    mx.sync()
    return Appointments(mx, Api(http=client, token=who.token))


def database_text(settings: Settings) -> str:
    async def go() -> str:
        db = Database(settings.effective_database_url)
        try:
            parts = []
            async with db.read() as conn:
                for table in metadata.sorted_tables:
                    rows = (await conn.execute(sa.select(table))).all()
                    parts += [repr(tuple(row)) for row in rows]
            return "\n".join(parts)
        finally:
            await db.dispose()

    text: str = run(go())
    return text


def test_a_guardian_reads_the_details_and_the_therapist_the_note(
    client: TestClient[Any], world: World, devices: Devices, settings: Settings
) -> None:
    case_id = str(world.case_id)
    anna = device(client, devices, world.guardian, "anna")
    mikko = device(client, devices, world.guardian2, "mikko")
    terhi = device(client, devices, world.therapist, "terhi")
    created = terhi.schedule([case_id], START.isoformat(), "home", details={case_id: DETAILS})
    a = created["appointments"][0]
    for family in (anna, mikko):
        seen = family.api.get(f"/appointments/{a['id']}")
        read = family.details(seen, case_id)
        assert (read.readable, read.text) == (True, DETAILS)
        assert read.sender_user_id == str(world.therapist.user_id)

    cancellation = anna.cancel(a["id"], "illness", notes={case_id: NOTE})
    notice = terhi.api.get(f"/cancellations/{cancellation['id']}")
    read = terhi.note(notice, case_id)
    assert (read.readable, read.text) == (True, NOTE)
    assert read.sender_user_id == str(world.guardian.user_id)
    assert mikko.note(mikko.api.get(f"/cancellations/{cancellation['id']}"), case_id).text == NOTE

    # the server keeps ids only
    stored = database_text(settings)
    for text in (DETAILS, NOTE, "Kotikatu", "kuumeessa"):
        assert text not in stored


def test_a_caregiver_sees_the_session_but_not_its_details(
    client: TestClient[Any], world: World, devices: Devices
) -> None:
    case_id = str(world.case_id)
    terhi = device(client, devices, world.therapist, "terhi")
    daycare = device(client, devices, new_caregiver(client, world, ["schedule"]), "daycare")
    a = terhi.schedule([case_id], START.isoformat(), "daycare", details={case_id: DETAILS})[
        "appointments"
    ][0]
    seen = daycare.api.get(f"/appointments/{a['id']}")
    assert seen["cases"][0]["detailsEventId"] == a["cases"][0]["detailsEventId"]
    read = daycare.details(seen, case_id)
    assert (read.readable, read.text, read.problem) == (False, "", "missing")
    assert daycare.matrix.sync().messages == []


def test_a_moved_event_is_not_shown_under_another_record(
    client: TestClient[Any], world: World, devices: Devices, settings: Settings
) -> None:
    case_id = str(world.case_id)
    anna = device(client, devices, world.guardian, "anna")
    terhi = device(client, devices, world.therapist, "terhi")
    first = terhi.schedule([case_id], START.isoformat(), "home")["appointments"][0]
    second = terhi.schedule([case_id], (START + timedelta(days=7)).isoformat(), "home")[
        "appointments"
    ][0]
    one = anna.cancel(first["id"], "illness", notes={case_id: NOTE})
    two = anna.cancel(second["id"], "family")
    # the server moves the first note to the second cancellation
    note_id = one["note"][0]["eventId"]

    async def move() -> None:
        db = Database(settings.effective_database_url)
        try:
            async with db.transaction() as conn:
                await conn.execute(
                    appointment_cases.update()
                    .where(appointment_cases.c.appointment_id == UUID(second["id"]))
                    .values(note_event_id=note_id)
                )
        finally:
            await db.dispose()

    run(move())
    moved = terhi.api.get(f"/cancellations/{two['id']}")
    assert moved["note"][0]["eventId"] == note_id
    read = terhi.note(moved, case_id)
    assert (read.readable, read.text, read.problem) == (False, "", "other_record")
    # and details too long for every receiver are refused before anything is sent
    with pytest.raises(InvalidContent):
        terhi.schedule([case_id], START.isoformat(), "home", details={case_id: "x" * 4001})
