"""Cases over HTTP: who may open one, and who sees which case."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from conftest import World
from litestar.testing import TestClient
from support import Session, accept_invite, assert_problem, auth


def new_therapist(client: TestClient[Any], world: World, email: str) -> Session:
    r = client.post("/org/invites", json={"role": "therapist"}, headers=world.admin.headers)
    assert r.status_code == 201, r.text
    return accept_invite(client, r.json()["code"], email, "Tuula")


def open_case(client: TestClient[Any], therapist: Session, name: str) -> UUID:
    r = client.post("/cases", json={"childDisplayName": name}, headers=therapist.headers)
    assert r.status_code == 201, r.text
    return UUID(r.json()["id"])


def pair_child(client: TestClient[Any], guardian: Session, case_id: UUID) -> str:
    r = client.post(f"/cases/{case_id}/pairing-codes", headers=guardian.headers)
    assert r.status_code == 201, r.text
    r = client.post("/auth/pair", json={"code": r.json()["code"], "device": {"name": "tablet"}})
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


def case_ids(client: TestClient[Any], headers: dict[str, str]) -> list[str]:
    r = client.get("/cases", headers=headers)
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()]


def audit_actions(client: TestClient[Any], world: World) -> list[str]:
    r = client.get("/org/audit?limit=200", headers=world.admin.headers)
    assert r.status_code == 200, r.text
    return [e["action"] for e in r.json()["events"]]


# opening a case


def test_therapist_opens_a_case_with_a_child_account(client: TestClient[Any], world: World) -> None:
    r = client.post(
        "/cases",
        json={"childDisplayName": "  Aino  ", "childLocale": "sv"},
        headers=world.therapist.headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["childName"] == "Aino"
    assert body["myRole"] == "therapist"
    assert body["myScopes"] is None
    child_id = body["childUserId"]
    assert child_id is not None

    r = client.get(f"/cases/{body['id']}", headers=world.therapist.headers)
    assert r.status_code == 200, r.text
    assert r.json() == body
    assert body["id"] in case_ids(client, world.therapist.headers)

    # the child account exists and is a member of the case, as a child
    r = client.get(f"/cases/{body['id']}/members", headers=world.therapist.headers)
    assert r.status_code == 200, r.text
    roles = {m["userId"]: m["role"] for m in r.json()}
    assert roles == {child_id: "child", str(world.therapist.user_id): "therapist"}
    assert "case.created" in audit_actions(client, world)


def test_opening_a_case_needs_a_token(client: TestClient[Any], world: World) -> None:
    before = audit_actions(client, world).count("case.created")
    assert_problem(client.post("/cases", json={"childDisplayName": "Aino"}), 401, "unauthenticated")
    assert_problem(
        client.post("/cases", json={"childDisplayName": "Aino"}, headers=auth("not-a-real-token")),
        401,
        "session_invalid",
    )
    assert audit_actions(client, world).count("case.created") == before


@pytest.mark.parametrize("who", ["guardian", "admin", "child"])
def test_only_therapists_open_cases(client: TestClient[Any], world: World, who: str) -> None:
    if who == "child":
        headers = auth(pair_child(client, world.guardian, world.case_id))
    else:
        headers = getattr(world, who).headers
    before = audit_actions(client, world).count("case.created")
    r = client.post("/cases", json={"childDisplayName": "Aino"}, headers=headers)
    assert_problem(r, 403, "forbidden")
    assert audit_actions(client, world).count("case.created") == before
    assert case_ids(client, world.therapist.headers) == [str(world.case_id)]


BAD_CASES: list[tuple[dict[str, Any], str]] = [
    ({"childDisplayName": ""}, "childDisplayName"),
    ({"childDisplayName": "   \t "}, "childDisplayName"),
    ({"childDisplayName": "x" * 101}, "childDisplayName"),
    ({}, "childDisplayName"),
    ({"childDisplayName": 42}, "childDisplayName"),
    ({"childDisplayName": "Ei\u0000no"}, "childDisplayName"),  # was a 500 on PostgreSQL
    ({"childDisplayName": "Ei\nno"}, "childDisplayName"),
    ({"childDisplayName": "Aino", "childLocale": "de"}, "childLocale"),
    ({"childDisplayName": "Aino", "orgId": "00000000-0000-0000-0000-000000000000"}, "orgId"),
    ({"childDisplayName": "Aino", "child_display_name": "Aino"}, "child_display_name"),
]


def test_bad_case_input_is_422_and_creates_nothing(client: TestClient[Any], world: World) -> None:
    before = audit_actions(client, world).count("case.created")
    for body, field in BAD_CASES:
        r = client.post("/cases", json=body, headers=world.therapist.headers)
        assert r.status_code == 422, (body, r.text)
        problem = assert_problem(r, 422, "validation_error")
        assert field in problem["detail"], (body, problem)
    assert case_ids(client, world.therapist.headers) == [str(world.case_id)]
    assert audit_actions(client, world).count("case.created") == before


def test_a_100_character_name_is_accepted(client: TestClient[Any], world: World) -> None:
    r = client.post("/cases", json={"childDisplayName": "x" * 100}, headers=world.therapist.headers)
    assert r.status_code == 201, r.text
    assert r.json()["childName"] == "x" * 100


# seeing cases


def test_guardian_sees_only_their_childs_case(client: TestClient[Any], world: World) -> None:
    other = open_case(client, world.therapist, "Aino")
    assert sorted(case_ids(client, world.therapist.headers)) == sorted(
        [str(world.case_id), str(other)]
    )
    assert case_ids(client, world.guardian.headers) == [str(world.case_id)]
    r = client.get(f"/cases/{world.case_id}", headers=world.guardian.headers)
    assert r.status_code == 200, r.text
    assert r.json()["myRole"] == "guardian"
    assert r.json()["childUserId"] == str(world.child_id)
    assert r.json()["childName"] == "Eino"
    assert_problem(
        client.get(f"/cases/{other}", headers=world.guardian.headers), 404, "case_not_found"
    )


def test_therapist_sees_only_their_caseload(client: TestClient[Any], world: World) -> None:
    colleague = new_therapist(client, world, "tuula@example.fi")
    assert case_ids(client, colleague.headers) == []
    assert_problem(
        client.get(f"/cases/{world.case_id}", headers=colleague.headers), 404, "case_not_found"
    )
    theirs = open_case(client, colleague, "Aino")
    assert case_ids(client, colleague.headers) == [str(theirs)]
    assert case_ids(client, world.therapist.headers) == [str(world.case_id)]


def test_admin_sees_no_cases(client: TestClient[Any], world: World) -> None:
    assert case_ids(client, world.admin.headers) == []
    assert_problem(
        client.get(f"/cases/{world.case_id}", headers=world.admin.headers), 404, "case_not_found"
    )


def test_child_sees_only_its_own_case(client: TestClient[Any], world: World) -> None:
    sibling = open_case(client, world.therapist, "Aino")
    child = auth(pair_child(client, world.guardian, world.case_id))
    r = client.get("/cases", headers=child)
    assert r.status_code == 200, r.text
    assert [(c["id"], c["myRole"]) for c in r.json()] == [(str(world.case_id), "child")]
    r = client.get(f"/cases/{world.case_id}", headers=child)
    assert r.status_code == 200, r.text
    assert r.json()["childUserId"] == str(world.child_id)
    assert_problem(client.get(f"/cases/{sibling}", headers=child), 404, "case_not_found")


def test_guardian_of_siblings_sees_both_cases(client: TestClient[Any], world: World) -> None:
    sibling = open_case(client, world.therapist, "Aino")
    r = client.post(f"/cases/{sibling}/invites", json={}, headers=world.therapist.headers)
    assert r.status_code == 201, r.text
    r = client.post(
        "/invites/redeem", json={"code": r.json()["code"]}, headers=world.guardian.headers
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"caseId": str(sibling), "role": "guardian"}

    r = client.get("/cases", headers=world.guardian.headers)
    assert r.status_code == 200, r.text
    # ordered by the child's name
    assert [(c["id"], c["childName"], c["myRole"]) for c in r.json()] == [
        (str(sibling), "Aino", "guardian"),
        (str(world.case_id), "Eino", "guardian"),
    ]
    # the other guardian was not invited to the sibling's case
    assert case_ids(client, world.guardian2.headers) == [str(world.case_id)]


def test_listing_and_reading_cases_need_a_token(client: TestClient[Any], world: World) -> None:
    assert_problem(client.get("/cases"), 401, "unauthenticated")
    assert_problem(client.get(f"/cases/{world.case_id}"), 401, "unauthenticated")


def test_cases_of_another_org_are_not_found(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    for session in (world.therapist, world.guardian, world.admin):
        assert_problem(
            client.get(f"/cases/{other_world.case_id}", headers=session.headers),
            404,
            "case_not_found",
        )
        assert str(other_world.case_id) not in case_ids(client, session.headers)
    assert case_ids(client, other_world.therapist.headers) == [str(other_world.case_id)]


def test_unknown_and_malformed_case_ids(client: TestClient[Any], world: World) -> None:
    assert_problem(
        client.get("/cases/00000000-0000-0000-0000-000000000000", headers=world.therapist.headers),
        404,
        "case_not_found",
    )
    r = client.get("/cases/not-a-uuid", headers=world.therapist.headers)
    assert r.status_code in (400, 404), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
