"""Organisation administration over HTTP: policy, staff, invites, the audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from support import PASSWORD, Session, accept_invite, assert_problem, auth, login

NIL = "00000000-0000-0000-0000-000000000000"
ALL_COUNT = {"lateCancellation": True, "noShow": True}
DEFAULT_COUNTING = dict.fromkeys(("kela", "municipality", "self", "other"), ALL_COUNT)


def org(client: TestClient[Any], session: Session) -> dict[str, Any]:
    r = client.get("/org", headers=session.headers)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def staff(client: TestClient[Any], session: Session) -> dict[str, dict[str, Any]]:
    r = client.get("/org/users", headers=session.headers)
    assert r.status_code == 200, r.text
    return {u["id"]: u for u in r.json()}


def new_therapist(client: TestClient[Any], world: World, email: str) -> Session:
    r = client.post("/org/invites", json={"role": "therapist"}, headers=world.admin.headers)
    assert r.status_code == 201, r.text
    return accept_invite(client, r.json()["code"], email, "Tuula")


def audit(client: TestClient[Any], session: Session, query: str = "") -> dict[str, Any]:
    r = client.get(f"/org/audit{query}", headers=session.headers)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


# the organisation and its policy


def test_admin_reads_the_organisation(client: TestClient[Any], world: World) -> None:
    o = org(client, world.admin)
    assert o["id"] == str(world.org_id)
    assert o["name"] == "Org "
    assert o["languages"] == ["fi", "sv", "en"]
    assert o["lateCancelHours"] == 24
    assert o["countingPolicy"] == DEFAULT_COUNTING


def test_only_an_admin_reads_or_changes_the_organisation(
    client: TestClient[Any], world: World
) -> None:
    assert_problem(client.get("/org"), 401, "unauthenticated")
    assert_problem(client.patch("/org/policy", json={"lateCancelHours": 1}), 401, "unauthenticated")
    for session in (world.therapist, world.guardian):
        assert_problem(client.get("/org", headers=session.headers), 403, "forbidden")
        assert_problem(
            client.patch("/org/policy", json={"lateCancelHours": 1}, headers=session.headers),
            403,
            "forbidden",
        )
    assert org(client, world.admin)["lateCancelHours"] == 24


def test_policy_update_is_partial(client: TestClient[Any], world: World) -> None:
    r = client.patch("/org/policy", json={"lateCancelHours": 48}, headers=world.admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["lateCancelHours"] == 48
    assert r.json()["countingPolicy"] == DEFAULT_COUNTING

    counting = {
        "kela": {"lateCancellation": False, "noShow": True},
        "municipality": {"lateCancellation": True, "noShow": False},
        "self": {"lateCancellation": False, "noShow": False},
        "other": ALL_COUNT,
    }
    r = client.patch("/org/policy", json={"countingPolicy": counting}, headers=world.admin.headers)
    assert r.status_code == 200, r.text
    o = org(client, world.admin)
    assert o == r.json()
    assert o["lateCancelHours"] == 48
    assert o["countingPolicy"] == counting

    for hours in (0, 168):
        r = client.patch(
            "/org/policy", json={"lateCancelHours": hours}, headers=world.admin.headers
        )
        assert r.status_code == 200, r.text
        assert org(client, world.admin)["lateCancelHours"] == hours
    assert org(client, world.admin)["countingPolicy"] == counting

    r = client.patch("/org/policy", json={}, headers=world.admin.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {**o, "lateCancelHours": 168}


BAD_POLICIES: list[tuple[dict[str, Any], str]] = [
    ({"lateCancelHours": 169}, "lateCancelHours"),
    ({"lateCancelHours": -1}, "lateCancelHours"),
    ({"lateCancelHours": None}, "lateCancelHours"),
    ({"lateCancelHours": "twelve"}, "lateCancelHours"),
    ({"countingPolicy": {"kela": ALL_COUNT}}, "countingPolicy"),
    (
        {"countingPolicy": {**DEFAULT_COUNTING, "kela": {"lateCancellation": False}}},
        "countingPolicy",
    ),
    ({"countingPolicy": {**DEFAULT_COUNTING, "insurance": ALL_COUNT}}, "countingPolicy"),
    (
        {"lateCancelHours": 12, "countingPolicy": {**DEFAULT_COUNTING, "self": "yes"}},
        "countingPolicy",
    ),
    ({"lateCancelHours": 12, "name": "Uusi nimi"}, "name"),
]


def test_bad_policy_is_422_and_changes_nothing(client: TestClient[Any], world: World) -> None:
    before = org(client, world.admin)
    for body, field in BAD_POLICIES:
        r = client.patch("/org/policy", json=body, headers=world.admin.headers)
        assert r.status_code == 422, (body, r.text)
        problem = assert_problem(r, 422, "validation_error")
        assert field in problem["detail"], (body, problem)
        assert org(client, world.admin) == before, body


def test_policy_is_per_organisation(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    r = client.patch("/org/policy", json={"lateCancelHours": 2}, headers=other_world.admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == str(other_world.org_id)
    assert org(client, world.admin)["lateCancelHours"] == 24
    assert org(client, other_world.admin)["lateCancelHours"] == 2


# staff


def test_users_lists_staff_only(client: TestClient[Any], world: World, other_world: World) -> None:
    users = staff(client, world.admin)
    assert set(users) == {str(world.admin.user_id), str(world.therapist.user_id)}
    t = users[str(world.therapist.user_id)]
    assert t == {
        "id": str(world.therapist.user_id),
        "role": "therapist",
        "displayName": "Terhi",
        "email": "therapist@example.fi",
        "disabled": False,
    }
    assert users[str(world.admin.user_id)]["role"] == "admin"
    # the other organisation sees only its own staff
    assert set(staff(client, other_world.admin)) == {
        str(other_world.admin.user_id),
        str(other_world.therapist.user_id),
    }


def test_only_an_admin_lists_users(client: TestClient[Any], world: World) -> None:
    assert_problem(client.get("/org/users"), 401, "unauthenticated")
    for session in (world.therapist, world.guardian):
        assert_problem(client.get("/org/users", headers=session.headers), 403, "forbidden")


def test_admin_invites_staff(client: TestClient[Any], world: World) -> None:
    r = client.post("/org/invites", json={"role": "admin"}, headers=world.admin.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["role"] == "admin"
    assert body["caseId"] is None
    assert body["code"]
    second_admin = accept_invite(client, body["code"], "manager@example.fi", "Manageri")

    r = client.post("/org/invites", json={}, headers=world.admin.headers)
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "therapist"
    therapist = accept_invite(client, r.json()["code"], "tuula@example.fi", "Tuula")

    users = staff(client, second_admin)
    assert users[str(second_admin.user_id)]["role"] == "admin"
    assert users[str(therapist.user_id)]["role"] == "therapist"
    assert len(users) == 4


@pytest.mark.parametrize(
    "body", [{"role": "guardian"}, {"role": "child"}, {"role": 1}, {"role": "admin", "caseId": NIL}]
)
def test_bad_staff_invite_is_422(
    client: TestClient[Any], world: World, body: dict[str, Any]
) -> None:
    before = [e["action"] for e in audit(client, world.admin)["events"]].count("invite.created")
    problem = assert_problem(
        client.post("/org/invites", json=body, headers=world.admin.headers),
        422,
        "validation_error",
    )
    assert "role" in problem["detail"] or "caseId" in problem["detail"]
    after = [e["action"] for e in audit(client, world.admin)["events"]].count("invite.created")
    assert after == before


def test_only_an_admin_invites_staff(client: TestClient[Any], world: World) -> None:
    before = [e["action"] for e in audit(client, world.admin)["events"]].count("invite.created")
    assert_problem(client.post("/org/invites", json={}), 401, "unauthenticated")
    for session in (world.therapist, world.guardian):
        assert_problem(
            client.post("/org/invites", json={"role": "therapist"}, headers=session.headers),
            403,
            "forbidden",
        )
    after = [e["action"] for e in audit(client, world.admin)["events"]].count("invite.created")
    assert after == before


def test_disabling_a_therapist_ends_their_sessions_at_once(
    client: TestClient[Any], world: World
) -> None:
    second_device = login(client, "therapist@example.fi", device="tablet")
    r = client.get("/cases", headers=world.therapist.headers)
    assert r.status_code == 200, r.text

    r = client.post(f"/org/users/{world.therapist.user_id}/disable", headers=world.admin.headers)
    assert r.status_code == 204, r.text
    for session in (world.therapist, second_device):
        assert_problem(client.get("/cases", headers=session.headers), 401, "session_invalid")
        assert_problem(client.get("/me", headers=session.headers), 401, "session_invalid")
    r = client.post(
        "/auth/login",
        json={"email": "therapist@example.fi", "password": PASSWORD, "device": {"name": "x"}},
    )
    assert_problem(r, 401, "invalid_credentials")
    assert staff(client, world.admin)[str(world.therapist.user_id)]["disabled"] is True
    # the families are not affected
    r = client.get(f"/cases/{world.case_id}", headers=world.guardian.headers)
    assert r.status_code == 200, r.text
    actions = [e["action"] for e in audit(client, world.admin)["events"]]
    assert "user.disabled" in actions


def test_admin_cannot_disable_themselves(client: TestClient[Any], world: World) -> None:
    assert_problem(
        client.post(f"/org/users/{world.admin.user_id}/disable", headers=world.admin.headers),
        409,
        "cannot_disable_self",
    )
    assert staff(client, world.admin)[str(world.admin.user_id)]["disabled"] is False
    assert org(client, world.admin)["id"] == str(world.org_id)


def test_disabling_needs_an_admin(client: TestClient[Any], world: World) -> None:
    colleague = new_therapist(client, world, "tuula@example.fi")
    path = f"/org/users/{colleague.user_id}/disable"
    assert_problem(client.post(path), 401, "unauthenticated")
    for session in (world.therapist, world.guardian):
        assert_problem(client.post(path, headers=session.headers), 403, "forbidden")
    assert staff(client, world.admin)[str(colleague.user_id)]["disabled"] is False
    r = client.get("/cases", headers=colleague.headers)
    assert r.status_code == 200, r.text


def test_only_own_staff_can_be_disabled(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    for user_id in (
        other_world.therapist.user_id,
        other_world.admin.user_id,
        world.guardian.user_id,  # not staff
        world.child_id,
        NIL,
    ):
        assert_problem(
            client.post(f"/org/users/{user_id}/disable", headers=world.admin.headers),
            404,
            "user_not_found",
        )
    for session in (other_world.therapist, world.guardian):
        r = client.get("/cases", headers=session.headers)
        assert r.status_code == 200, r.text
    assert not any(u["disabled"] for u in staff(client, other_world.admin).values())
    r = client.post("/org/users/nobody/disable", headers=world.admin.headers)
    assert r.status_code in (400, 404), r.text


# the audit trail


def test_audit_lists_events_newest_first(client: TestClient[Any], world: World) -> None:
    page = audit(client, world.admin)
    events = page["events"]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids, reverse=True)
    assert page["nextBefore"] is None
    times = [e["at"] for e in events]
    assert times == sorted(times, reverse=True)
    actions = [e["action"] for e in events]
    for action in ("org.created", "user.created", "login", "invite.created", "case.created"):
        assert action in actions
    assert actions.count("invite.accepted") == 3
    # the newest event is the last invite being accepted by the second guardian
    assert events[0]["action"] == "invite.accepted"
    assert events[0]["actorUserId"] == str(world.guardian2.user_id)
    created = next(e for e in events if e["action"] == "case.created")
    assert created["actorUserId"] == str(world.therapist.user_id)
    assert created["targetType"] == "case"
    assert created["targetId"] == str(world.case_id)


def test_audit_pages(client: TestClient[Any], world: World) -> None:
    everything = [e["id"] for e in audit(client, world.admin, "?limit=200")["events"]]
    assert len(everything) > 5
    seen: list[int] = []
    query = "?limit=2"
    while True:
        page = audit(client, world.admin, query)
        assert len(page["events"]) <= 2
        seen += [e["id"] for e in page["events"]]
        if page["nextBefore"] is None:
            break
        assert page["nextBefore"] == page["events"][-1]["id"]
        query = f"?limit=2&before={page['nextBefore']}"
    # the audit reads made no events of their own, so the pages add up to everything
    assert seen == everything


def test_audit_is_per_organisation(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    mine = audit(client, world.admin, "?limit=200")["events"]
    theirs = audit(client, other_world.admin, "?limit=200")["events"]
    assert not {e["id"] for e in mine} & {e["id"] for e in theirs}
    assert str(other_world.case_id) not in str(mine)
    assert str(world.case_id) in str(mine)


def test_audit_never_contains_tokens_or_codes(client: TestClient[Any], world: World) -> None:
    secrets = [
        world.admin.token,
        world.therapist.token,
        world.guardian.token,
        world.guardian2.token,
    ]
    r = client.post("/org/invites", json={"role": "therapist"}, headers=world.admin.headers)
    assert r.status_code == 201, r.text
    org_code = r.json()["code"]
    colleague = accept_invite(client, org_code, "tuula@example.fi", "Tuula")
    r = client.post(f"/cases/{world.case_id}/invites", json={}, headers=world.therapist.headers)
    assert r.status_code == 201, r.text
    case_code = r.json()["code"]  # never used
    r = client.post(f"/cases/{world.case_id}/pairing-codes", headers=world.guardian.headers)
    assert r.status_code == 201, r.text
    pairing_code = r.json()["code"]
    r = client.post("/auth/pair", json={"code": pairing_code, "device": {"name": "tablet"}})
    assert r.status_code == 200, r.text
    child_token = r.json()["token"]
    again = login(client, "guardian1@example.fi", device="tablet")
    secrets += [org_code, case_code, pairing_code, colleague.token, child_token, again.token]
    r = client.post(
        "/auth/login",
        json={
            "email": "guardian1@example.fi",
            "password": "wrong password",
            "device": {"name": "x"},
        },
    )
    assert r.status_code == 401

    r = client.get("/org/audit?limit=200", headers=world.admin.headers)
    assert r.status_code == 200, r.text
    text = r.text
    actions = [e["action"] for e in r.json()["events"]]
    for action in ("login", "login.failed", "invite.created", "pairing.paired"):
        assert action in actions
    for secret in secrets:
        assert secret not in text
        assert secret.lower() not in text.lower()
    assert PASSWORD not in text
    assert "wrong password" not in text


def test_only_an_admin_reads_the_audit(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    assert_problem(client.get("/org/audit"), 401, "unauthenticated")
    for session in (world.therapist, world.guardian):
        assert_problem(client.get("/org/audit", headers=session.headers), 403, "forbidden")


@pytest.mark.parametrize(
    "query", ["?limit=0", "?limit=201", "?limit=ten", "?before=0", "?before=x"]
)
def test_bad_audit_paging_is_rejected(client: TestClient[Any], world: World, query: str) -> None:
    r = client.get(f"/org/audit{query}", headers=world.admin.headers)
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_a_forged_token_is_rejected(client: TestClient[Any], world: World) -> None:
    assert_problem(
        client.get("/org", headers=auth(world.admin.token + "x")), 401, "session_invalid"
    )
