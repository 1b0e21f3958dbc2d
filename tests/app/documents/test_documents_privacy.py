"""The documents in the GDPR export (rows, the ids of their encrypted events, the files'
ciphertexts) and their erasure: a person's, and a closed case's."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from conftest import World
from documents_support import NOW, documents_thread, request, set_now, settings, share_body
from litestar.testing import TestClient
from support import PASSWORD

from app.config import Settings

__all__ = ["settings"]

FILE = b"DOCUMENT-CIPHERTEXT-MARKER" * 8


@pytest.fixture(autouse=True)
def _now(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def shared(client: TestClient[Any], world: World) -> dict[str, Any]:
    t = world.therapist
    body = share_body(client, t, world.case_id, "therapy_statement")  # the room exists now
    r = client.post(
        f"/threads/{documents_thread(world.case_id)}/attachments", content=FILE, headers=t.headers
    )
    assert r.status_code == 201, r.text
    body["blobId"] = r.json()["id"]
    r = client.post(f"/cases/{world.case_id}/documents", json=body, headers=t.headers)
    assert r.status_code == 201, r.text
    doc: dict[str, Any] = r.json()
    return doc


def stored(settings: Settings, tmp_path: Path) -> bytes:
    """The SQLite file and the blob store (the PostgreSQL run checks its rows instead)."""
    return b"\n".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())


def test_the_export_holds_the_documents_and_their_files(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    doc = shared(client, world)
    client.post(f"/documents/{doc['id']}/opened", headers=world.guardian.headers)
    asked = request(client, world).json()
    r = client.get("/me/export", headers=world.guardian.headers)
    assert r.status_code == 200, r.text
    section = r.json()["documents"]
    (row,) = section["documents"]
    assert row["id"] == doc["id"]
    assert row["content_event_id"] == doc["contentEventId"]
    assert base64.b64decode(row["blob"]) == FILE
    assert [x["user_id"] for x in section["receipts"]] == [str(world.guardian.user_id)]
    assert [x["id"] for x in section["requests"]] == [asked["id"]]
    # the therapist who shared it gets it too; another family's guardian none of it
    r = client.get("/me/export", headers=world.therapist.headers)
    assert [d["id"] for d in r.json()["documents"]["documents"]] == [doc["id"]]
    r = client.get("/me/export", headers=other_world.guardian.headers)
    assert r.json()["documents"] == {"documents": [], "receipts": [], "requests": []}


def test_erasure_of_a_person_and_of_a_closed_case(
    client: TestClient[Any], world: World, settings: Settings, tmp_path: Path
) -> None:
    doc = shared(client, world)
    client.post(f"/documents/{doc['id']}/opened", headers=world.guardian2.headers)
    request(client, world, world.guardian2)
    r = client.request("DELETE", "/me", json={"password": PASSWORD},
                       headers=world.guardian2.headers)  # fmt: skip
    assert r.status_code == 204, r.text
    r = client.get(f"/documents/{doc['id']}", headers=world.therapist.headers)
    assert r.json()["openedBy"] == []  # the erased guardian's receipt is gone
    r = client.get(f"/cases/{world.case_id}/document-requests", headers=world.therapist.headers)
    (kept,) = r.json()
    assert kept["requestedBy"] is None
    assert kept["noteEventId"] is None

    assert client.post(f"/org/cases/{world.case_id}/close",
                       headers=world.admin.headers).status_code == 204  # fmt: skip
    assert client.delete(f"/org/cases/{world.case_id}",
                         headers=world.admin.headers).status_code == 204  # fmt: skip
    r = client.get("/me/export", headers=world.therapist.headers)
    assert r.json()["documents"] == {"documents": [], "receipts": [], "requests": []}
    if not settings.effective_database_url.startswith("postgresql"):
        assert FILE[:26] not in stored(settings, tmp_path)
