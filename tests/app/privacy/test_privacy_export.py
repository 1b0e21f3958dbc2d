"""GET /me/export: everything stored about the caller, their ciphertexts and blobs, and
nothing of anyone else's; for a guardian, a therapist, a child and an admin."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_HASHING, TEST_SECRET, World
from litestar.testing import TestClient
from privacy_support import send_event
from support import Session, assert_problem, session_from

from app.config import Settings
from app.messaging.service import thread_id_of

V3 = "/_matrix/client/v3"
HIDDEN = {"password_hash", "token_hash", "code_hash", "code_hmac", "ip_hash", "p256dh", "auth"}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=str(tmp_path),
        secret_key=TEST_SECRET,
        exports_per_user_per_day=4,
        **FAST_HASHING,
    )


def room(thread_id: object) -> str:
    return f"!{thread_id}:localhost"


def export(client: Any, who: Session) -> tuple[dict[str, Any], str]:
    r = client.get("/me/export", headers=who.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["content-disposition"].startswith('attachment; filename="kaari-export-')
    assert r.headers["cache-control"] == "no-store"
    body: dict[str, Any] = r.json()
    return body, r.text


def sent(body: dict[str, Any]) -> list[str]:
    """The encrypted room events in the export (beside them: the user's membership events)."""
    events = body["messaging"]["roomEventsSent"]
    return [e["event_id"] for e in events if e["type"] == "m.room.encrypted"]


def keys_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


def test_a_guardian_gets_their_ciphertexts_and_blobs_and_nobody_elses(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    family = thread_id_of(world.case_id, "family")
    mine = send_event(client, world.guardian.headers, room(family), "g1", "AwgGUARDIANMARKER")
    theirs = send_event(client, world.therapist.headers, room(family), "t1", "AwgTHERAPISTMARKER")
    foreign = send_event(
        client,
        other_world.guardian.headers,
        room(thread_id_of(other_world.case_id, "family")),
        "x1",
        "AwgFOREIGNMARKER",
    )
    blob = os.urandom(3000)
    r = client.post(
        f"/threads/{family}/attachments",
        content=blob,
        headers={**world.guardian.headers, "content-type": "application/octet-stream"},
    )
    assert r.status_code == 201, r.text
    attachment_id = r.json()["id"]

    body, text = export(client, world.guardian)
    assert body["format"] == "kaari-export/1"
    assert body["userId"] == str(world.guardian.user_id)
    assert body["role"] == "guardian"
    (user,) = body["account"]["user"]
    assert user["id"] == str(world.guardian.user_id)
    assert user["email"] == world.guardian.email
    assert str(world.guardian.device_id) in [d["id"] for d in body["account"]["devices"]]
    assert sent(body) == [mine]
    (event,) = [e for e in body["messaging"]["roomEventsSent"] if e["event_id"] == mine]
    assert "AwgGUARDIANMARKER" in event["content"]
    (uploaded,) = body["messaging"]["attachmentsUploaded"]
    assert uploaded["id"] == attachment_id
    assert base64.b64decode(uploaded["blob"]) == blob
    assert [m["case_id"] for m in body["cases"]["memberships"]] == [str(world.case_id)]
    assert [c["id"] for c in body["cases"]["cases"]] == [str(world.case_id)]
    # nobody else's content, and nothing of the other organisation at all
    for other_event in (theirs, "AwgTHERAPISTMARKER", foreign, "AwgFOREIGNMARKER"):
        assert other_event not in text
    for other in (other_world.guardian, other_world.therapist, other_world.admin):
        assert str(other.user_id) not in text
    assert world.guardian2.email not in text
    # the server's means of checking are not the person's data
    assert keys_in(body).isdisjoint(HIDDEN)
    assert world.guardian.token not in text


def test_a_therapist_a_child_and_an_admin_each_get_their_own(
    client: TestClient[Any], world: World
) -> None:
    child_room = room(thread_id_of(world.case_id, "child"))
    r = client.post(f"/cases/{world.case_id}/pairing-codes", headers=world.guardian.headers)
    assert r.status_code == 201, r.text
    r = client.post("/auth/pair", json={"code": r.json()["code"], "device": {"name": "tablet"}})
    assert r.status_code == 200, r.text
    child = session_from(r.json())
    by_child = send_event(client, child.headers, child_room, "c1", "AwgCHILDMARKER")
    by_therapist = send_event(
        client, world.therapist.headers, child_room, "t1", "AwgTHERAPISTMARKER"
    )

    body, text = export(client, child)
    assert body["role"] == "child"
    assert body["account"]["user"][0]["email"] is None
    assert sent(body) == [by_child]
    assert len(body["account"]["pairingCodes"]) == 1
    assert [c["id"] for c in body["cases"]["cases"]] == [str(world.case_id)]
    assert by_therapist not in text

    body, text = export(client, world.therapist)
    assert body["role"] == "therapist"
    assert sent(body) == [by_therapist]
    assert by_child not in text
    # staff: what they did and what is about them; the family's records are not theirs
    assert [m["case_id"] for m in body["cases"]["memberships"]] == [str(world.case_id)]
    assert body["cases"]["cases"] == []

    body, text = export(client, world.admin)
    assert body["role"] == "admin"
    assert body["messaging"]["roomEventsSent"] == []
    assert body["cases"]["memberships"] == []
    assert by_child not in text
    assert by_therapist not in text


def test_each_export_is_audited_and_limited_per_day(client: TestClient[Any], world: World) -> None:
    export(client, world.guardian)
    body, _ = export(client, world.guardian)
    actions = [a["action"] for a in body["audit"]["actions"]]
    assert actions.count("privacy.exported") == 1  # the first; this one is recorded after
    export(client, world.guardian)
    export(client, world.guardian)
    r = client.get("/me/export", headers=world.guardian.headers)
    problem = assert_problem(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) > 0
    assert problem["retryAfter"] > 0
    # per user: the other guardian is not affected
    export(client, world.guardian2)


def test_signed_out_gets_401(client: TestClient[Any], world: World) -> None:
    assert_problem(client.get("/me/export"), 401, "unauthenticated")
    r = client.get("/me/export", headers={"authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    # a revoked device's token no longer exports anything
    r = client.delete(f"/devices/{world.guardian2.device_id}", headers=world.guardian2.headers)
    assert r.status_code == 204, r.text
    assert client.get("/me/export", headers=world.guardian2.headers).status_code == 401
