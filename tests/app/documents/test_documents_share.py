"""Sharing, listing and versions of therapy documents over HTTP: who may, what the server
checks of the encrypted event and file, what it keeps."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conftest import World
from documents_support import (
    NOW,
    close,
    connect,
    documents_event,
    documents_room,
    new_caregiver,
    next_event,
    no_event,
    pair_child,
    period,
    room_event,
    set_now,
    settings,
    share,
    share_body,
    upload,
)
from litestar.testing import TestClient
from support import assert_problem

from app.messaging.service import thread_id_of

__all__ = ["settings"]


@pytest.fixture(autouse=True)
def _now(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def test_a_therapist_shares_and_the_family_lists(client: TestClient[Any], world: World) -> None:
    body = share_body(client, world.therapist, world.case_id, "therapy_plan")
    url = f"/cases/{world.case_id}/documents"
    r = client.post(url, json=body, headers=world.therapist.headers)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["id"] == body["id"] == doc["documentId"]
    assert doc["version"] == 1
    assert doc["kind"] == "therapy_plan"
    assert doc["size"] == 100
    assert doc["contentEventId"] == body["contentEventId"]
    assert doc["blobId"] == body["blobId"]
    assert doc["sharedBy"] == str(world.therapist.user_id)
    assert doc["givenToDoctor"] is False
    assert doc["openedBy"] == []
    assert doc["roomId"].startswith("!")
    assert doc["supersededAt"] is None
    # a retry returns the first
    again = client.post(url, json=body, headers=world.therapist.headers)
    assert again.status_code == 200
    assert again.json()["id"] == doc["id"]
    for who in (world.guardian, world.guardian2, world.therapist):
        r = client.get(url, headers=who.headers)
        assert r.status_code == 200, r.text
        assert [d["id"] for d in r.json()] == [doc["id"]]
        r = client.get(f"/documents/{doc['id']}", headers=who.headers)
        assert r.status_code == 200
        assert r.json()["kind"] == "therapy_plan"


def test_a_guardian_shares_the_rehabilitation_plan(client: TestClient[Any], world: World) -> None:
    doc = share(client, world, world.guardian, "rehabilitation_plan")
    assert doc["sharedBy"] == str(world.guardian.user_id)
    r = client.get(f"/cases/{world.case_id}/documents", headers=world.therapist.headers)
    assert [d["kind"] for d in r.json()] == ["rehabilitation_plan"]


def test_a_child_sees_no_documents(client: TestClient[Any], world: World) -> None:
    doc = share(client, world)
    child = pair_child(client, world)
    h = child.headers
    assert_problem(client.get(f"/cases/{world.case_id}/documents", headers=h), 403,
                   "documents_forbidden")  # fmt: skip
    assert_problem(client.get(f"/documents/{doc['id']}", headers=h), 403, "documents_forbidden")
    assert_problem(client.get(f"/documents/{doc['id']}/versions", headers=h), 403,
                   "documents_forbidden")  # fmt: skip
    assert_problem(client.post(f"/documents/{doc['id']}/opened", headers=h), 403,
                   "documents_forbidden")  # fmt: skip
    r = client.post(
        f"/cases/{world.case_id}/documents",
        json=share_body(client, child, world.case_id),
        headers=h,
    )
    assert_problem(r, 403, "documents_forbidden")


def test_a_caregiver_needs_the_documents_grant(client: TestClient[Any], world: World) -> None:
    doc = share(client, world)
    carer = new_caregiver(client, world, ["schedule", "homework"])
    url = f"/cases/{world.case_id}/documents"
    assert_problem(client.get(url, headers=carer.headers), 403, "documents_forbidden")
    assert_problem(client.get(f"/documents/{doc['id']}", headers=carer.headers), 403,
                   "documents_forbidden")  # fmt: skip
    r = client.put(
        f"/cases/{world.case_id}/members/{carer.user_id}/scopes",
        json={"scopes": ["schedule", "homework", "documents"]},
        headers=world.guardian.headers,
    )
    assert r.status_code == 204, r.text
    r = client.get(url, headers=carer.headers)
    assert r.status_code == 200
    assert [d["id"] for d in r.json()] == [doc["id"]]
    r = client.post(f"/documents/{doc['id']}/opened", headers=carer.headers)
    assert r.status_code == 200, r.text
    # a caregiver reads (in the documents room with the grant), never shares
    r = client.post(url, json=share_body(client, carer, world.case_id), headers=carer.headers)
    assert_problem(r, 403, "documents_forbidden")


def test_a_foreign_case_is_404(client: TestClient[Any], world: World, other_world: World) -> None:
    doc = share(client, world)
    stranger = other_world.therapist
    h = stranger.headers
    url = f"/cases/{world.case_id}/documents"
    assert_problem(client.get(url, headers=h), 404, "case_not_found")
    r = client.post(url, json=share_body(client, stranger, world.case_id), headers=h)
    assert_problem(r, 404, "case_not_found")
    for path in (f"/documents/{doc['id']}", f"/documents/{doc['id']}/versions"):
        assert_problem(client.get(path, headers=h), 404, "document_not_found")
    assert_problem(client.post(f"/documents/{doc['id']}/opened", headers=h), 404,
                   "document_not_found")  # fmt: skip
    r = client.put(f"/documents/{doc['id']}/given-to-doctor", json={"given": True}, headers=h)
    assert_problem(r, 404, "document_not_found")
    assert_problem(client.get(f"/documents/{uuid.uuid4()}", headers=world.therapist.headers),
                   404, "document_not_found")  # fmt: skip


def test_bad_input_changes_nothing(client: TestClient[Any], world: World) -> None:
    t = world.therapist
    url = f"/cases/{world.case_id}/documents"
    good = share_body(client, t, world.case_id)
    family_thread = thread_id_of(world.case_id, "family")
    family = f"!{family_thread}:localhost"
    for change, code in (
        ({"kind": "diagnosis"}, "validation_error"),
        ({"contentEventId": "not-an-event"}, "validation_error"),
        ({"blobId": "nope"}, "validation_error"),
        ({"title": "Eino's plan"}, "validation_error"),
        # an event of the guardian's device, or of no room
        ({"contentEventId": documents_event(client, world.guardian, world.case_id)},
         "content_event_invalid"),
        ({"contentEventId": "$" + "a" * 40}, "content_event_invalid"),
        # the device's own event and file, but of the family room (not the documents room)
        ({"contentEventId": room_event(client, t, family, b"x").json()["event_id"]},
         "content_event_invalid"),
        ({"blobId": client.post(f"/threads/{family_thread}/attachments", content=b"x" * 10,
                                headers=t.headers).json()["id"]}, "document_file_invalid"),
        # a file the guardian uploaded, or none
        ({"blobId": upload(client, world.guardian, world.case_id)}, "document_file_invalid"),
        ({"blobId": str(uuid.uuid4())}, "document_file_invalid"),
        ({"periodId": str(uuid.uuid4())}, "period_not_found"),
        ({"supersedes": str(uuid.uuid4())}, "document_not_found"),
        ({"fulfilsRequestId": str(uuid.uuid4())}, "request_not_found"),
    ):  # fmt: skip
        r = client.post(url, json={**good, **change}, headers=t.headers)
        assert_problem(r, 422, code)
    assert client.get(url, headers=t.headers).json() == []
    r = client.post(url, content=b"{", headers={**t.headers, "content-type": "application/json"})
    assert r.status_code == 400
    r = client.get(url, params={"versions": "some"}, headers=t.headers)
    assert r.status_code in (400, 422)


def test_a_taken_id_is_409(client: TestClient[Any], world: World) -> None:
    doc = share(client, world)
    body = share_body(client, world.guardian, world.case_id, id=doc["id"])
    r = client.post(f"/cases/{world.case_id}/documents", json=body, headers=world.guardian.headers)
    assert_problem(r, 409, "document_id_taken")


def test_a_new_version_supersedes_and_the_old_stays(client: TestClient[Any], world: World) -> None:
    first = share(client, world, kind="therapy_plan")
    second = share(client, world, kind="therapy_plan", supersedes=first["documentId"])
    assert second["documentId"] == first["documentId"]
    assert second["version"] == 2
    third = share(client, world, kind="therapy_plan", supersedes=first["documentId"])
    assert third["version"] == 3
    r = client.get(f"/cases/{world.case_id}/documents", headers=world.guardian.headers)
    assert [(d["id"], d["version"]) for d in r.json()] == [(third["id"], 3)]
    r = client.get(f"/documents/{first['documentId']}/versions", headers=world.guardian.headers)
    versions = r.json()
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert versions[0]["supersededAt"]
    assert versions[1]["supersededAt"]
    assert versions[2]["supersededAt"] is None
    # the old one stays readable
    r = client.get(f"/documents/{first['id']}", headers=world.guardian.headers)
    assert r.status_code == 200
    assert r.json()["blobId"] == first["blobId"]
    r = client.get(f"/attachments/{first['blobId']}", headers=world.guardian.headers)
    assert r.status_code == 200
    assert r.content == b"x" * 100
    r = client.get(
        f"/cases/{world.case_id}/documents", params={"versions": "all"},
        headers=world.guardian.headers,
    )  # fmt: skip
    assert sorted(d["version"] for d in r.json()) == [1, 2, 3]
    # a new version keeps its kind
    body = share_body(client, world.therapist, world.case_id, "other",
                      supersedes=first["documentId"])  # fmt: skip
    r = client.post(f"/cases/{world.case_id}/documents", json=body,
                    headers=world.therapist.headers)  # fmt: skip
    assert_problem(r, 422, "document_kind_changed")


def test_a_document_of_a_period(client: TestClient[Any], world: World) -> None:
    period_id = period(client, world)
    doc = share(client, world, kind="therapy_statement", periodId=period_id)
    assert doc["periodId"] == period_id


def test_receipts_per_user(client: TestClient[Any], world: World) -> None:
    doc = share(client, world)
    ws = connect(client, world.therapist)
    try:
        r = client.post(f"/documents/{doc['id']}/opened", headers=world.guardian.headers)
        assert r.status_code == 200, r.text
        assert r.json()["openedByMe"] is True
        event = next_event(ws)
        assert event["event"] == "document_opened", event
        assert event["ids"]["userId"] == str(world.guardian.user_id)
        assert event["ids"]["versionId"] == doc["id"]
        # the second opening is no news
        again = client.post(f"/documents/{doc['id']}/opened", headers=world.guardian.headers)
        assert again.json()["openedBy"] == r.json()["openedBy"]
        no_event(ws)
    finally:
        close(ws)
    r = client.get(f"/documents/{doc['id']}", headers=world.therapist.headers)
    opened = r.json()["openedBy"]
    assert [(o["userId"], o["displayName"]) for o in opened] == [
        (str(world.guardian.user_id), "G1")
    ]
    assert r.json()["openedByMe"] is False
    # a new version is not opened yet
    second = share(client, world, supersedes=doc["documentId"])
    assert second["openedBy"] == []


def test_given_to_doctor_is_the_therapists_flag(client: TestClient[Any], world: World) -> None:
    doc = share(client, world, kind="therapy_statement")
    url = f"/documents/{doc['documentId']}/given-to-doctor"
    r = client.put(url, json={"given": True}, headers=world.guardian.headers)
    assert_problem(r, 403, "documents_forbidden")
    assert_problem(client.put(url, json={"given": "yes"}, headers=world.therapist.headers), 422,
                   "validation_error")  # fmt: skip
    r = client.put(url, json={"given": True}, headers=world.therapist.headers)
    assert r.status_code == 200, r.text
    assert r.json()["givenToDoctor"] is True
    assert r.json()["givenToDoctorAt"]
    r = client.get(f"/documents/{doc['id']}", headers=world.guardian.headers)
    assert r.json()["givenToDoctor"] is True
    r = client.put(url, json={"given": False}, headers=world.therapist.headers)
    assert r.json()["givenToDoctor"] is False


def test_documents_go_to_the_case_s_documents_room(client: TestClient[Any], world: World) -> None:
    url = f"/cases/{world.case_id}/documents/room"
    r = client.get(url, headers=world.guardian.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"caseId": str(world.case_id), "roomId": documents_room(world.case_id)}
    assert documents_room(world.case_id) != f"!{thread_id_of(world.case_id, 'family')}:localhost"
    child = pair_child(client, world)
    assert_problem(client.get(url, headers=child.headers), 403, "documents_forbidden")
