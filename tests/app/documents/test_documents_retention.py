"""Documents whose event and file have expired with the documents room's history
(KAARI_ROOM_EVENT_RETENTION_DAYS) are deleted with their receipts and old requests; a
younger one, and its file, stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import World
from documents_support import NOW, request, set_now, settings, share
from litestar.testing import TestClient
from support import run, services_at

from app.config import Settings

__all__ = ["settings"]


@pytest.fixture(autouse=True)
def _now(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def purge_at(settings: Settings, when: datetime) -> tuple[int, int]:
    async def go() -> tuple[int, int]:
        async with services_at(settings, lambda: when.astimezone(UTC)) as services:
            done = await services.document_retention.run_once()
            return done.versions, done.requests

    result: tuple[int, int] = run(go())
    return result


def test_expired_documents_go_and_young_ones_stay(
    client: TestClient[Any], world: World, settings: Settings
) -> None:
    days = settings.room_event_retention_days
    old = share(client, world, kind="therapy_statement")
    client.post(f"/documents/{old['id']}/opened", headers=world.guardian.headers)
    asked = request(client, world).json()
    share(client, world, kind="therapy_statement", fulfilsRequestId=asked["id"])
    later = NOW + timedelta(days=10)
    set_now(client, later)
    young = share(client, world, kind="therapy_plan")
    assert purge_at(settings, NOW + timedelta(days=days - 1)) == (0, 0)
    assert purge_at(settings, NOW + timedelta(days=days, hours=1)) == (2, 1)
    assert purge_at(settings, NOW + timedelta(days=days, hours=2)) == (0, 0)  # once
    r = client.get(f"/cases/{world.case_id}/documents", headers=world.guardian.headers)
    assert [d["id"] for d in r.json()] == [young["id"]]
    # its file outlives a message's 30 days: it is kept as long as the document
    set_now(client, later + timedelta(days=31))
    r = client.get(f"/attachments/{young['blobId']}", headers=world.guardian.headers)
    assert r.status_code == 200
    r = client.get(f"/cases/{world.case_id}/document-requests", headers=world.guardian.headers)
    assert r.json() == []
