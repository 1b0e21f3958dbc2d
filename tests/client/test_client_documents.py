"""Documents on the device over the Matrix reference client, against the real app in
process (SQLite and PostgreSQL): the file and its event are the family room's, the
document rows point at them by id. Where a test needs the server to misbehave (an event
or a file moved to another document), it writes the server's table and the real app
serves what it finds there."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
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
from client.api import Api
from client.documents import DocumentError, Documents

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
