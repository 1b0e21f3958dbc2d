"""Case members over HTTP: listing, removing, caregiver scopes, adding a therapist."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from conftest import World
from litestar.testing import TestClient
from support import Session, accept_invite, assert_problem, auth

NIL = "00000000-0000-0000-0000-000000000000"


def new_therapist(client: TestClient[Any], world: World, email: str) -> Session:
    r = client.post("/org/invites", json={"role": "therapist"}, headers=world.admin.headers)
    assert r.status_code == 201, r.text
    return accept_invite(client, r.json()["code"], email, "Tuula")


def new_caregiver(
    client: TestClient[Any], world: World, scopes: list[str] | None = None
) -> Session:
    r = client.post(
        f"/cases/{world.case_id}/invites",
        json={"role": "caregiver", "scopes": ["schedule"] if scopes is None else scopes},
        headers=world.guardian.headers,
    )
    assert r.status_code == 201, r.text
    return accept_invite(client, r.json()["code"], "daycare@example.fi", "Päiväkoti")


def pair_child(client: TestClient[Any], world: World) -> dict[str, str]:
    r = client.post(f"/cases/{world.case_id}/pairing-codes", headers=world.guardian.headers)
    assert r.status_code == 201, r.text
    r = client.post("/auth/pair", json={"code": r.json()["code"], "device": {"name": "tablet"}})
    assert r.status_code == 200, r.text
    return auth(r.json()["token"])


def members(client: TestClient[Any], case_id: UUID, session: Session) -> dict[str, Any]:
    r = client.get(f"/cases/{case_id}/members", headers=session.headers)
    assert r.status_code == 200, r.text
    return {m["userId"]: m for m in r.json()}


def roles(client: TestClient[Any], case_id: UUID, session: Session) -> dict[str, str]:
    return {k: v["role"] for k, v in members(client, case_id, session).items()}


def world_roles(world: World) -> dict[str, str]:
    return {
        str(world.therapist.user_id): "therapist",
        str(world.guardian.user_id): "guardian",
        str(world.guardian2.user_id): "guardian",
        str(world.child_id): "child",
    }


def case_ids(client: TestClient[Any], session: Session) -> list[str]:
    r = client.get("/cases", headers=session.headers)
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()]


# listing


def test_members_are_listed_with_roles_and_names(client: TestClient[Any], world: World) -> None:
    caregiver = new_caregiver(client, world)
    listed = members(client, world.case_id, world.therapist)
    assert {k: v["role"] for k, v in listed.items()} == {
        **world_roles(world),
        str(caregiver.user_id): "caregiver",
    }
    assert listed[str(world.therapist.user_id)]["displayName"] == "Terhi"
    assert listed[str(world.child_id)]["displayName"] == "Eino"
    assert listed[str(caregiver.user_id)]["scopes"] == ["schedule"]
    assert listed[str(world.guardian.user_id)]["scopes"] is None
    assert all(m["addedAt"] for m in listed.values())
    # guardians and the child see the same list
    assert members(client, world.case_id, world.guardian) == listed
    r = client.get(f"/cases/{world.case_id}/members", headers=pair_child(client, world))
    assert r.status_code == 200, r.text
    assert {m["userId"] for m in r.json()} == set(listed)


def test_caregiver_cannot_list_members(client: TestClient[Any], world: World) -> None:
    caregiver = new_caregiver(client, world)
    assert_problem(
        client.get(f"/cases/{world.case_id}/members", headers=caregiver.headers), 403, "forbidden"
    )


def test_members_need_a_token_and_membership(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    assert_problem(client.get(f"/cases/{world.case_id}/members"), 401, "unauthenticated")
    for session in (other_world.therapist, other_world.guardian, world.admin):
        assert_problem(
            client.get(f"/cases/{world.case_id}/members", headers=session.headers),
            404,
            "case_not_found",
        )


# removing


def test_removed_guardian_loses_the_case_at_once(client: TestClient[Any], world: World) -> None:
    r = client.get(f"/cases/{world.case_id}", headers=world.guardian2.headers)
    assert r.status_code == 200, r.text
    r = client.delete(
        f"/cases/{world.case_id}/members/{world.guardian2.user_id}",
        headers=world.therapist.headers,
    )
    assert r.status_code == 204, r.text
    assert_problem(
        client.get(f"/cases/{world.case_id}", headers=world.guardian2.headers),
        404,
        "case_not_found",
    )
    assert_problem(
        client.get(f"/cases/{world.case_id}/members", headers=world.guardian2.headers),
        404,
        "case_not_found",
    )
    assert case_ids(client, world.guardian2) == []
    expected = world_roles(world)
    del expected[str(world.guardian2.user_id)]
    assert roles(client, world.case_id, world.therapist) == expected
    # removing again: no such member
    assert_problem(
        client.delete(
            f"/cases/{world.case_id}/members/{world.guardian2.user_id}",
            headers=world.therapist.headers,
        ),
        404,
        "member_not_found",
    )


def test_guardian_cannot_remove_a_therapist_or_another_guardian(
    client: TestClient[Any], world: World
) -> None:
    colleague = new_therapist(client, world, "tuula@example.fi")
    r = client.post(
        f"/cases/{world.case_id}/therapists",
        json={"userId": str(colleague.user_id)},
        headers=world.therapist.headers,
    )
    assert r.status_code == 204, r.text
    before = roles(client, world.case_id, world.therapist)
    for target in (world.therapist.user_id, colleague.user_id, world.guardian2.user_id):
        assert_problem(
            client.delete(
                f"/cases/{world.case_id}/members/{target}", headers=world.guardian.headers
            ),
            403,
            "forbidden",
        )
    assert roles(client, world.case_id, world.therapist) == before


def test_guardian_removes_a_caregiver(client: TestClient[Any], world: World) -> None:
    caregiver = new_caregiver(client, world)
    r = client.delete(
        f"/cases/{world.case_id}/members/{caregiver.user_id}", headers=world.guardian.headers
    )
    assert r.status_code == 204, r.text
    assert roles(client, world.case_id, world.guardian) == world_roles(world)
    assert_problem(
        client.get(f"/cases/{world.case_id}", headers=caregiver.headers), 404, "case_not_found"
    )


@pytest.mark.parametrize("who", ["caregiver", "child"])
def test_caregiver_and_child_cannot_remove_members(
    client: TestClient[Any], world: World, who: str
) -> None:
    caregiver = new_caregiver(client, world)
    headers = caregiver.headers if who == "caregiver" else pair_child(client, world)
    before = roles(client, world.case_id, world.therapist)
    for target in (world.guardian.user_id, caregiver.user_id):
        assert_problem(
            client.delete(f"/cases/{world.case_id}/members/{target}", headers=headers),
            403,
            "forbidden",
        )
    assert roles(client, world.case_id, world.therapist) == before


def test_the_last_therapist_cannot_be_removed(client: TestClient[Any], world: World) -> None:
    path = f"/cases/{world.case_id}/members/{world.therapist.user_id}"
    assert_problem(client.delete(path, headers=world.therapist.headers), 409, "last_therapist")
    assert roles(client, world.case_id, world.therapist) == world_roles(world)

    colleague = new_therapist(client, world, "tuula@example.fi")
    r = client.post(
        f"/cases/{world.case_id}/therapists",
        json={"userId": str(colleague.user_id)},
        headers=world.therapist.headers,
    )
    assert r.status_code == 204, r.text
    # with a colleague in the case, the first therapist can hand over and leave
    r = client.delete(path, headers=colleague.headers)
    assert r.status_code == 204, r.text
    assert case_ids(client, world.therapist) == []
    assert_problem(
        client.delete(
            f"/cases/{world.case_id}/members/{colleague.user_id}", headers=colleague.headers
        ),
        409,
        "last_therapist",
    )


def test_the_child_cannot_be_removed(client: TestClient[Any], world: World) -> None:
    assert_problem(
        client.delete(
            f"/cases/{world.case_id}/members/{world.child_id}", headers=world.therapist.headers
        ),
        403,
        "forbidden",
    )
    assert roles(client, world.case_id, world.therapist) == world_roles(world)


def test_removing_needs_a_token(client: TestClient[Any], world: World) -> None:
    r = client.delete(f"/cases/{world.case_id}/members/{world.guardian2.user_id}")
    assert_problem(r, 401, "unauthenticated")
    assert roles(client, world.case_id, world.therapist) == world_roles(world)


def test_removing_in_a_foreign_case_is_not_found(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    # a member of another org's case, and a member of my case addressed through theirs
    for case_id, target in (
        (other_world.case_id, other_world.guardian.user_id),
        (other_world.case_id, world.guardian.user_id),
    ):
        assert_problem(
            client.delete(f"/cases/{case_id}/members/{target}", headers=world.therapist.headers),
            404,
            "case_not_found",
        )
    assert roles(client, other_world.case_id, other_world.therapist) == world_roles(other_world)
    # a user who is not in my case
    assert_problem(
        client.delete(
            f"/cases/{world.case_id}/members/{other_world.guardian.user_id}",
            headers=world.therapist.headers,
        ),
        404,
        "member_not_found",
    )


def test_removing_with_a_malformed_user_id(client: TestClient[Any], world: World) -> None:
    r = client.delete(f"/cases/{world.case_id}/members/nobody", headers=world.therapist.headers)
    assert r.status_code in (400, 404), r.text
    assert roles(client, world.case_id, world.therapist) == world_roles(world)


# caregiver scopes


def scopes_path(world: World, user_id: UUID) -> str:
    return f"/cases/{world.case_id}/members/{user_id}/scopes"


def test_guardian_sets_a_caregivers_scopes(client: TestClient[Any], world: World) -> None:
    caregiver = new_caregiver(client, world)
    r = client.put(
        scopes_path(world, caregiver.user_id),
        json={"scopes": ["schedule", "homework"]},
        headers=world.guardian.headers,
    )
    assert r.status_code == 204, r.text
    listed = members(client, world.case_id, world.therapist)
    assert listed[str(caregiver.user_id)]["scopes"] == ["homework", "schedule"]
    r = client.get(f"/cases/{world.case_id}", headers=caregiver.headers)
    assert r.status_code == 200, r.text
    assert r.json()["myRole"] == "caregiver"
    assert r.json()["myScopes"] == ["homework", "schedule"]

    # everything can be taken away; duplicates collapse
    r = client.put(
        scopes_path(world, caregiver.user_id), json={"scopes": []}, headers=world.guardian2.headers
    )
    assert r.status_code == 204, r.text
    assert members(client, world.case_id, world.guardian)[str(caregiver.user_id)]["scopes"] == []
    r = client.put(
        scopes_path(world, caregiver.user_id),
        json={"scopes": ["homework", "homework"]},
        headers=world.guardian.headers,
    )
    assert r.status_code == 204, r.text
    r = client.get("/cases", headers=caregiver.headers)
    assert [c["myScopes"] for c in r.json()] == [["homework"]]


def test_scopes_only_on_a_caregiver(client: TestClient[Any], world: World) -> None:
    for target in (world.guardian2.user_id, world.therapist.user_id, world.child_id):
        assert_problem(
            client.put(
                scopes_path(world, target),
                json={"scopes": ["schedule"]},
                headers=world.guardian.headers,
            ),
            409,
            "not_caregiver",
        )
    listed = members(client, world.case_id, world.therapist)
    assert all(m["scopes"] is None for m in listed.values())


@pytest.mark.parametrize("who", ["therapist", "caregiver", "child"])
def test_only_a_guardian_sets_scopes(client: TestClient[Any], world: World, who: str) -> None:
    caregiver = new_caregiver(client, world)
    headers = {
        "therapist": world.therapist.headers,
        "caregiver": caregiver.headers,
    }.get(who) or pair_child(client, world)
    assert_problem(
        client.put(
            scopes_path(world, caregiver.user_id),
            json={"scopes": ["schedule", "homework"]},
            headers=headers,
        ),
        403,
        "forbidden",
    )
    assert members(client, world.case_id, world.guardian)[str(caregiver.user_id)]["scopes"] == [
        "schedule"
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"scopes": ["messages"]},
        {"scopes": ["schedule", "homework", "documents", "schedule"]},
        {"scopes": "schedule"},
        {"scopes": None},
        {},
        {"scopes": ["schedule"], "role": "guardian"},
    ],
)
def test_invalid_scopes_are_422_and_change_nothing(
    client: TestClient[Any], world: World, body: dict[str, Any]
) -> None:
    caregiver = new_caregiver(client, world)
    problem = assert_problem(
        client.put(
            scopes_path(world, caregiver.user_id), json=body, headers=world.guardian.headers
        ),
        422,
        "validation_error",
    )
    assert "scopes" in problem["detail"] or "role" in problem["detail"]
    assert members(client, world.case_id, world.guardian)[str(caregiver.user_id)]["scopes"] == [
        "schedule"
    ]


def test_scopes_need_a_token_and_a_known_member(client: TestClient[Any], world: World) -> None:
    caregiver = new_caregiver(client, world)
    assert_problem(
        client.put(scopes_path(world, caregiver.user_id), json={"scopes": []}),
        401,
        "unauthenticated",
    )
    assert_problem(
        client.put(
            f"/cases/{world.case_id}/members/{NIL}/scopes",
            json={"scopes": []},
            headers=world.guardian.headers,
        ),
        404,
        "member_not_found",
    )
    assert members(client, world.case_id, world.guardian)[str(caregiver.user_id)]["scopes"] == [
        "schedule"
    ]


def test_scopes_in_a_foreign_case_are_not_found(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    assert_problem(
        client.put(
            f"/cases/{other_world.case_id}/members/{other_world.guardian2.user_id}/scopes",
            json={"scopes": ["schedule"]},
            headers=world.guardian.headers,
        ),
        404,
        "case_not_found",
    )


# adding a therapist


def add_therapist(
    client: TestClient[Any], case_id: UUID, user_id: UUID | str, session: Session
) -> Any:
    return client.post(
        f"/cases/{case_id}/therapists", json={"userId": str(user_id)}, headers=session.headers
    )


def test_therapist_adds_a_colleague(client: TestClient[Any], world: World) -> None:
    colleague = new_therapist(client, world, "tuula@example.fi")
    assert case_ids(client, colleague) == []
    r = add_therapist(client, world.case_id, colleague.user_id, world.therapist)
    assert r.status_code == 204, r.text
    assert case_ids(client, colleague) == [str(world.case_id)]
    r = client.get(f"/cases/{world.case_id}", headers=colleague.headers)
    assert r.status_code == 200, r.text
    assert r.json()["myRole"] == "therapist"
    assert roles(client, world.case_id, world.guardian)[str(colleague.user_id)] == "therapist"

    assert_problem(
        add_therapist(client, world.case_id, colleague.user_id, world.therapist),
        409,
        "already_member",
    )
    assert_problem(
        add_therapist(client, world.case_id, world.therapist.user_id, colleague),
        409,
        "already_member",
    )


def test_only_therapists_of_the_org_can_be_added(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    before = roles(client, world.case_id, world.therapist)
    for user_id in (
        other_world.therapist.user_id,  # another organisation
        world.admin.user_id,  # not a therapist
        world.guardian.user_id,
        NIL,  # nobody
    ):
        assert_problem(
            add_therapist(client, world.case_id, user_id, world.therapist),
            404,
            "user_not_found",
        )
    assert roles(client, world.case_id, world.therapist) == before
    assert case_ids(client, other_world.therapist) == [str(other_world.case_id)]


def test_a_disabled_therapist_cannot_be_added(client: TestClient[Any], world: World) -> None:
    colleague = new_therapist(client, world, "tuula@example.fi")
    r = client.post(f"/org/users/{colleague.user_id}/disable", headers=world.admin.headers)
    assert r.status_code == 204, r.text
    assert_problem(
        add_therapist(client, world.case_id, colleague.user_id, world.therapist),
        404,
        "user_not_found",
    )
    assert str(colleague.user_id) not in roles(client, world.case_id, world.therapist)


def test_only_a_therapist_of_the_case_adds_therapists(
    client: TestClient[Any], world: World
) -> None:
    colleague = new_therapist(client, world, "tuula@example.fi")
    assert_problem(
        add_therapist(client, world.case_id, colleague.user_id, world.guardian), 403, "forbidden"
    )
    # a therapist outside the case cannot add themselves
    assert_problem(
        add_therapist(client, world.case_id, colleague.user_id, colleague), 404, "case_not_found"
    )
    assert_problem(
        add_therapist(client, world.case_id, colleague.user_id, world.admin),
        404,
        "case_not_found",
    )
    assert_problem(
        client.post(f"/cases/{world.case_id}/therapists", json={"userId": str(colleague.user_id)}),
        401,
        "unauthenticated",
    )
    assert case_ids(client, colleague) == []


def test_adding_in_a_foreign_case_is_not_found(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    colleague = new_therapist(client, world, "tuula@example.fi")
    assert_problem(
        add_therapist(client, other_world.case_id, colleague.user_id, world.therapist),
        404,
        "case_not_found",
    )
    assert case_ids(client, colleague) == []
    assert roles(client, other_world.case_id, other_world.therapist) == world_roles(other_world)


@pytest.mark.parametrize(
    "body", [{}, {"userId": "tuula"}, {"userId": None}, {"userId": NIL, "role": "guardian"}]
)
def test_bad_add_therapist_input_is_422(
    client: TestClient[Any], world: World, body: dict[str, Any]
) -> None:
    problem = assert_problem(
        client.post(
            f"/cases/{world.case_id}/therapists", json=body, headers=world.therapist.headers
        ),
        422,
        "validation_error",
    )
    assert "userId" in problem["detail"] or "role" in problem["detail"]
    assert roles(client, world.case_id, world.therapist) == world_roles(world)
