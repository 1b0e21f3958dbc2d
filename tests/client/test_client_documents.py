"""Documents on the device over the Matrix reference client, against the real app in
process (SQLite and PostgreSQL): the file and its event are the case's documents room's
(therapists, guardians and the caregivers granted ``documents``), the document rows point
at them by id. Where a test needs the server to misbehave (an event
or a file moved to another document), it writes the server's table and the real app
serves what it finds there."""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from conftest import World
from litestar.testing import TestClient
from mx_client_support import Devices
from support import Session, run

from app.config import Settings
from app.storage.engine import Database
from app.storage.schema_documents import documents
from client.api import Api, ApiError
from client.documents import DocumentError, Documents

sys.path.insert(0, str(Path(__file__).parent.parent / "app" / "appointments"))
from appointments_support import new_caregiver

NOW = datetime(2026, 10, 14, 10, 0, tzinfo=ZoneInfo("Europe/Helsinki"))


@pytest.fixture
def devices(client: TestClient[Any], tmp_path: Path) -> Devices:
    started = time.monotonic()
    client.app.state.clock = lambda: (
        NOW + timedelta(seconds=time.monotonic() - started)
    ).astimezone(UTC)
    return Devices(client, tmp_path)


def device(client: TestClient[Any], devices: Devices, session: Session, name: str) -> Documents:
    mx = devices.open(session, name)
    mx.sync()
    return Documents(mx, Api(http=client, token=session.token))


def move(settings: Settings, version_id: str, **values: Any) -> None:
    """The server misbehaves: a document row points at another event or file."""

    async def go() -> None:
        db = Database(settings.effective_database_url)
        try:
            async with db.transaction() as conn:
                query = documents.update().where(documents.c.id == UUID(version_id))
                await conn.execute(query.values(**values))
        finally:
            await db.dispose()

    run(go())


def test_shared_and_opened_byte_for_byte_and_what_a_moved_id_shows(
    client: TestClient[Any], settings: Settings, world: World, devices: Devices
) -> None:
    terhi = device(client, devices, world.therapist, "terhi")
    anna = device(client, devices, world.guardian, "anna")
    plan_bytes, statement_bytes = os.urandom(5000), os.urandom(7000)
    case_id = str(world.case_id)
    plan = terhi.share(case_id, "therapy_plan", "Terapiasuunnitelma", [plan_bytes],
                       file_name="plan.pdf", media_type="application/pdf")  # fmt: skip
    statement = terhi.share(case_id, "therapy_statement", "Terapiapalaute", [statement_bytes],
                            file_name="palaute.pdf", media_type="application/pdf")  # fmt: skip
    shown, chunks = anna.open(plan["id"])
    assert (shown.title, shown.file_name, shown.readable) == ("Terapiasuunnitelma", "plan.pdf",
                                                             True)  # fmt: skip
    assert b"".join(chunks) == plan_bytes
    assert terhi.get(plan["id"]).opened_by == ("G1",)

    # the statement's row pointed at the plan's event: not shown as either
    move(settings, statement["id"], content_event_id=plan["contentEventId"])
    moved = anna.get(statement["id"])
    assert moved.readable is False
    assert moved.title == ""
    assert "another document" in moved.problem
    with pytest.raises(DocumentError):
        anna.open(statement["id"])
    # the plan's row pointed at the statement's file: refused before anything is read
    move(settings, statement["id"], content_event_id=statement["contentEventId"])
    move(settings, plan["id"], blob_id=UUID(statement["blobId"]))
    assert "another file" in anna.get(plan["id"]).problem
    with pytest.raises(DocumentError):
        anna.open(plan["id"])
    assert anna.get(statement["id"]).title == "Terapiapalaute"


def set_scopes(client: TestClient[Any], world: World, who: Session, scopes: list[str]) -> None:
    r = client.put(
        f"/cases/{world.case_id}/members/{who.user_id}/scopes",
        json={"scopes": scopes},
        headers=world.guardian.headers,
    )
    assert r.status_code == 204, r.text


def test_a_caregiver_with_the_documents_grant_opens_the_file_and_loses_it_with_the_grant(
    client: TestClient[Any], world: World, devices: Devices
) -> None:
    daycare = new_caregiver(client, world, ["schedule", "documents"])
    school = new_caregiver(client, world, ["schedule"], "school@example.fi")
    carer = device(client, devices, daycare, "daycare")
    other = device(client, devices, school, "school")
    terhi = device(client, devices, world.therapist, "terhi")
    plan_bytes = os.urandom(9000)
    plan = terhi.share(str(world.case_id), "therapy_plan", "Terapiasuunnitelma", [plan_bytes],
                       file_name="plan.pdf", media_type="application/pdf")  # fmt: skip
    # granted: in the documents room, so the event's key reached the caregiver's device
    shown, chunks = carer.open(plan["id"])
    assert (shown.title, shown.file_name, shown.readable) == ("Terapiasuunnitelma", "plan.pdf",
                                                             True)  # fmt: skip
    assert b"".join(chunks) == plan_bytes
    assert terhi.get(plan["id"]).opened_by == ("Päiväkoti",)
    # no grant: no documents, and neither the room's event nor its file
    with pytest.raises(ApiError) as refused:
        other.documents(str(world.case_id))
    assert (refused.value.status, refused.value.code) == (403, "documents_forbidden")
    with pytest.raises(ApiError) as hidden:
        b"".join(other.api.download_attachment(plan["blobId"]))
    assert (hidden.value.status, hidden.value.code) == (404, "attachment_not_found")
    # the grant taken back: the caregiver leaves the room, and a new version is not theirs
    members = f"/_matrix/client/v3/rooms/{quote(plan['roomId'])}/joined_members"
    assert client.get(members, headers=daycare.headers).status_code == 200
    assert client.get(members, headers=school.headers).status_code == 404
    set_scopes(client, world, daycare, ["schedule"])
    carer.matrix.sync()
    assert client.get(members, headers=daycare.headers).status_code == 404
    with pytest.raises(ApiError) as gone:
        b"".join(carer.api.download_attachment(plan["blobId"]))
    assert gone.value.status == 404
    new_bytes = os.urandom(4000)
    terhi.share(str(world.case_id), "therapy_plan", "Uusi suunnitelma", [new_bytes],
                file_name="plan2.pdf", media_type="application/pdf",
                supersedes=plan["documentId"])  # fmt: skip
    set_scopes(client, world, daycare, ["schedule", "documents"])
    carer.matrix.sync()
    (current,) = carer.documents(str(world.case_id))
    assert current.version == 2
    # back in the room, but the version shared while out of it was never sent to it
    assert current.readable is False
