"""Who may see a thread (a Matrix room of the case) and post attachments to it: each
refusal a clear code, nothing stored; co-members hear live when a device list changes."""

from __future__ import annotations

import uuid
from typing import Any

from conftest import World
from messaging_support import counts, family
from support import accept_invite, assert_problem, auth, login
from ws_support import close, connect, receive_until

from app.config import Settings


def test_no_token(client: Any) -> None:
    thread = str(uuid.uuid4())
    assert_problem(client.get("/threads"), 401, "unauthenticated")
    assert_problem(client.get(f"/attachments/{thread}"), 401, "unauthenticated")
    assert_problem(
        client.post(f"/threads/{thread}/attachments", content=b"x", headers=auth("nope")),
        401,
        "session_invalid",
    )


def test_the_earlier_message_and_mailbox_routes_are_gone(client: Any, world: World) -> None:
    thread, headers = str(uuid.uuid4()), world.therapist.headers
    for method, path in (
        ("POST", f"/threads/{thread}/messages"),
        ("GET", f"/threads/{thread}/devices"),
        ("GET", "/mailbox"),
        ("POST", "/mailbox/ack"),
        ("GET", f"/messages/{thread}/deliveries"),
        ("POST", "/keys/upload"),
        ("POST", "/keys/query"),
        ("POST", "/keys/claim"),
        ("GET", "/keys/count"),
        ("PUT", "/keys/master"),
        ("POST", "/keys/signatures"),
    ):
        r = client.request(method, path, json={}, headers=headers)
        assert r.status_code in (404, 405), (method, path, r.status_code)


def test_the_child_and_caregivers_are_not_in_the_family_thread(
    client: Any, settings: Settings, world: World
) -> None:
    f = family(client, world)
    assert {t["kind"] for t in f.child.threads()} == {"child"}
    assert {t["kind"] for t in f.guardian.threads()} == {"family", "child"}
    child = {"authorization": f"Bearer {f.child.token}"}
    before = counts(settings)
    r = client.post(f"/threads/{f.family_thread}/attachments", content=b"xx", headers=child)
    assert_problem(r, 404, "thread_not_found")
    # a caregiver (granted schedule and homework) has no thread
    r = client.post(
        f"/cases/{world.case_id}/invites",
        json={"role": "caregiver", "scopes": ["schedule", "homework"]},
        headers=world.guardian.headers,
    )
    assert r.status_code == 201, r.text
    caregiver = accept_invite(client, r.json()["code"], "mummo@example.fi", "Mummo")
    assert client.get("/threads", headers=caregiver.headers).json() == []
    r = client.post(
        f"/threads/{f.child_thread}/attachments", content=b"xx", headers=caregiver.headers
    )
    assert_problem(r, 404, "thread_not_found")
    assert counts(settings) == before


def test_a_foreign_organisation_cannot_see_or_post(
    client: Any, settings: Settings, world: World, other_world: World
) -> None:
    f = family(client, world)
    stranger = other_world.therapist.headers
    assert_problem(
        client.get(f"/cases/{world.case_id}/threads", headers=stranger), 404, "case_not_found"
    )
    assert client.get("/threads", headers=stranger).json() != f.therapist.threads()
    before = counts(settings)
    for thread in (f.family_thread, str(uuid.uuid4())):
        r = client.post(f"/threads/{thread}/attachments", content=b"xx", headers=stranger)
        assert_problem(r, 404, "thread_not_found")
    assert counts(settings) == before


def test_co_members_hear_when_a_device_is_revoked(client: Any, world: World) -> None:
    tablet = login(client, world.guardian2.email or "", device="new tablet")
    ws = connect(client, world.therapist)
    try:
        r = client.delete(f"/devices/{tablet.device_id}", headers=world.guardian2.headers)
        assert r.status_code == 204
        event = receive_until(ws, lambda fr: fr["type"] == "event")
        assert event == {
            "type": "event",
            "event": "device_list_changed",
            "ids": {"userId": str(world.guardian2.user_id)},
        }
    finally:
        close(ws)
