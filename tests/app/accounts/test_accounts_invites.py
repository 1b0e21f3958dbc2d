"""Invites: staff by an admin, guardians by a therapist, caregivers by a guardian."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import World
from litestar.testing import AsyncTestClient, TestClient
from support import PASSWORD, accept_invite, assert_problem, run

from app.config import Settings
from app.core.time import utcnow
from app.main import create_app
from app.storage.engine import Database
from app.storage.schema import invites, users


def expire_all_invites(settings: Settings) -> None:
    async def go() -> None:
        db = Database(settings.effective_database_url)
        try:
            async with db.transaction() as conn:
                await conn.execute(
                    invites.update().values(expires_at=utcnow() - timedelta(seconds=1))
                )
        finally:
            await db.dispose()

    run(go())


def user_count(settings: Settings) -> int:
    async def go() -> int:
        db = Database(settings.effective_database_url)
        try:
            async with db.read() as conn:
                return int(
                    (await conn.execute(sa.select(sa.func.count()).select_from(users))).scalar_one()
                )
        finally:
            await db.dispose()

    result: int = run(go())
    return result


def accept_body(code: str, email: str = "new@example.fi") -> dict[str, Any]:
    return {
        "code": code,
        "email": email,
        "password": PASSWORD,
        "displayName": "New Person",
        "locale": "en",
        "device": {"name": "phone", "platform": "ios"},
    }


def guardian_invite(client: TestClient[Any], world: World) -> str:
    r = client.post(
        f"/cases/{world.case_id}/invites",
        json={"role": "guardian"},
        headers=world.therapist.headers,
    )
    assert r.status_code == 201, r.text
    code: str = r.json()["code"]
    assert code.startswith("ki1.")
    return code


def test_admin_invites_a_therapist_who_joins(client: TestClient[Any], world: World) -> None:
    r = client.post("/org/invites", json={"role": "therapist"}, headers=world.admin.headers)
    assert r.status_code == 201
    assert r.json()["caseId"] is None
    s = accept_invite(client, r.json()["code"], "t2@example.fi", "Tuula")
    me = client.get("/me", headers=s.headers).json()
    assert me["role"] == "therapist"
    assert me["orgId"] == str(world.org_id)
    assert client.get("/cases", headers=s.headers).json() == []


def test_staff_invites_are_for_admins_only(client: TestClient[Any], world: World) -> None:
    for who in (world.therapist, world.guardian):
        r = client.post("/org/invites", json={"role": "therapist"}, headers=who.headers)
        assert_problem(r, 403, "forbidden")
    assert_problem(client.post("/org/invites", json={"role": "therapist"}), 401, "unauthenticated")
    r = client.post("/org/invites", json={"role": "guardian"}, headers=world.admin.headers)
    assert_problem(r, 422, "validation_error")


def test_therapist_invites_guardian_into_the_case(client: TestClient[Any], world: World) -> None:
    s = accept_invite(client, guardian_invite(client, world), "g3@example.fi")
    cases = client.get("/cases", headers=s.headers).json()
    assert [c["id"] for c in cases] == [str(world.case_id)]
    assert cases[0]["myRole"] == "guardian"
    assert cases[0]["childName"] == "Eino"


def test_invite_codes_are_single_use(client: TestClient[Any], world: World) -> None:
    code = guardian_invite(client, world)
    accept_invite(client, code, "g3@example.fi")
    assert_problem(
        client.post("/invites/accept", json=accept_body(code, "g4@example.fi")), 410, "invite_used"
    )


def test_expired_invite_is_refused_and_writes_nothing(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    code = guardian_invite(client, world)
    expire_all_invites(settings)
    before = user_count(settings)
    assert_problem(client.post("/invites/accept", json=accept_body(code)), 410, "invite_expired")
    assert user_count(settings) == before
    r = client.post(
        "/auth/login",
        json={"email": "new@example.fi", "password": PASSWORD, "device": {"name": "x"}},
    )
    assert_problem(r, 401, "invalid_credentials")


def test_invite_expiry_follows_the_app_clock(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    """An invite's expiry is read on the app's one clock (``app.state.clock``, as a test or
    ``KAARI_TEST_CLOCK_START`` sets it), not on the system's."""
    made = utcnow() + timedelta(days=10)
    ttl = timedelta(hours=settings.invite_ttl_hours)
    client.app.state.clock = lambda: made
    r = client.post(
        f"/cases/{world.case_id}/invites",
        json={"role": "guardian"},
        headers=world.therapist.headers,
    )
    assert r.status_code == 201, r.text
    code, invite_id = r.json()["code"], r.json()["id"]
    assert datetime.fromisoformat(r.json()["expiresAt"]) == made + ttl
    pending = f"/cases/{world.case_id}/invites"
    client.app.state.clock = lambda: made + ttl - timedelta(seconds=1)
    listed = client.get(pending, headers=world.therapist.headers).json()
    assert [i["id"] for i in listed] == [invite_id]
    client.app.state.clock = lambda: made + ttl
    assert client.get(pending, headers=world.therapist.headers).json() == []
    assert_problem(client.post("/invites/accept", json=accept_body(code)), 410, "invite_expired")


@pytest.mark.parametrize(
    "code", ["ki1.doesnotexistdoesnotexist", "ki9.abcdefghijabcdefghij", "garbage!!"]
)
def test_unknown_or_malformed_codes_are_404(
    client: TestClient[Any], world: World, code: str
) -> None:
    assert_problem(client.post("/invites/accept", json=accept_body(code)), 404, "invite_invalid")


def test_bad_accept_input_is_422_and_writes_nothing(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    code = guardian_invite(client, world)
    before = user_count(settings)
    for patch in (
        {"password": "short"},
        {"email": "nope"},
        {"displayName": ""},
        {"locale": "de"},
        {"role": "admin"},
    ):
        assert_problem(
            client.post("/invites/accept", json=accept_body(code) | patch), 422, "validation_error"
        )
    assert user_count(settings) == before
    accept_invite(client, code, "g3@example.fi")  # the code is still usable


def test_email_already_taken_is_409_and_keeps_the_invite(
    client: TestClient[Any], world: World
) -> None:
    code = guardian_invite(client, world)
    r = client.post("/invites/accept", json=accept_body(code, "Guardian1@example.fi"))
    assert_problem(r, 409, "email_taken")
    accept_invite(client, code, "g3@example.fi")


def test_revoked_invite_is_refused(client: TestClient[Any], world: World) -> None:
    code = guardian_invite(client, world)
    pending = client.get(f"/cases/{world.case_id}/invites", headers=world.therapist.headers).json()
    assert len(pending) == 1
    assert "code" not in pending[0]
    r = client.delete(
        f"/cases/{world.case_id}/invites/{pending[0]['id']}", headers=world.therapist.headers
    )
    assert r.status_code == 204
    assert_problem(client.post("/invites/accept", json=accept_body(code)), 410, "invite_revoked")
    assert (
        client.get(f"/cases/{world.case_id}/invites", headers=world.therapist.headers).json() == []
    )


def test_case_invite_rules(client: TestClient[Any], world: World, other_world: World) -> None:
    url = f"/cases/{world.case_id}/invites"
    # a guardian cannot invite guardians, a therapist cannot invite caregivers
    assert_problem(
        client.post(url, json={"role": "guardian"}, headers=world.guardian.headers),
        403,
        "forbidden",
    )
    assert_problem(
        client.post(url, json={"role": "caregiver"}, headers=world.therapist.headers),
        403,
        "forbidden",
    )
    # a therapist of another organisation does not see the case
    r = client.post(url, json={"role": "guardian"}, headers=other_world.therapist.headers)
    assert_problem(r, 404, "case_not_found")
    r = client.get(url, headers=other_world.therapist.headers)
    assert_problem(r, 404, "case_not_found")
    assert_problem(client.post(url, json={"role": "guardian"}), 401, "unauthenticated")
    r = client.post(url, json={"role": "therapist"}, headers=world.therapist.headers)
    assert_problem(r, 422, "validation_error")
    r = client.post(
        url, json={"role": "caregiver", "scopes": ["medical"]}, headers=world.guardian.headers
    )
    assert_problem(r, 422, "validation_error")


def test_guardian_invites_a_caregiver_with_scopes(client: TestClient[Any], world: World) -> None:
    r = client.post(
        f"/cases/{world.case_id}/invites",
        json={"role": "caregiver", "scopes": ["schedule", "schedule"]},
        headers=world.guardian.headers,
    )
    assert r.status_code == 201, r.text
    s = accept_invite(client, r.json()["code"], "daycare@example.fi", "Päiväkoti")
    cases = client.get("/cases", headers=s.headers).json()
    assert cases[0]["myRole"] == "caregiver"
    assert cases[0]["myScopes"] == ["schedule"]
    assert_problem(
        client.get(f"/cases/{world.case_id}/members", headers=s.headers), 403, "forbidden"
    )
    assert_problem(
        client.get(f"/cases/{world.case_id}/periods", headers=s.headers), 403, "forbidden"
    )


def test_existing_guardian_redeems_an_invite_for_a_sibling(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    r = client.post("/cases", json={"childDisplayName": "Aino"}, headers=world.therapist.headers)
    sibling = r.json()["id"]
    code = client.post(
        f"/cases/{sibling}/invites", json={}, headers=world.therapist.headers
    ).json()["code"]
    # the wrong role, another organisation, bad input
    r = client.post("/invites/redeem", json={"code": code}, headers=world.therapist.headers)
    assert_problem(r, 409, "invite_role_mismatch")
    r = client.post("/invites/redeem", json={"code": code}, headers=other_world.guardian.headers)
    assert_problem(r, 404, "invite_invalid")
    assert_problem(
        client.post("/invites/redeem", json={"code": 5}, headers=world.guardian.headers),
        422,
        "validation_error",
    )
    assert_problem(client.post("/invites/redeem", json={"code": code}), 401, "unauthenticated")
    r = client.post("/invites/redeem", json={"code": code}, headers=world.guardian.headers)
    assert r.status_code == 200
    assert r.json() == {"caseId": sibling, "role": "guardian"}
    names = sorted(
        c["childName"] for c in client.get("/cases", headers=world.guardian.headers).json()
    )
    assert names == ["Aino", "Eino"]
    assert_problem(
        client.post("/invites/redeem", json={"code": code}, headers=world.guardian.headers),
        410,
        "invite_used",
    )
    # already a member: a second invite for the same case is refused and stays unused
    code2 = client.post(
        f"/cases/{sibling}/invites", json={}, headers=world.therapist.headers
    ).json()["code"]
    r = client.post("/invites/redeem", json={"code": code2}, headers=world.guardian.headers)
    assert_problem(r, 409, "already_member")
    accept_invite(client, code2, "g3@example.fi")


def test_concurrent_accepts_of_one_code_admit_exactly_one(settings: Settings) -> None:
    from conftest import build_world

    with TestClient(create_app(settings)) as client:
        code = guardian_invite(client, build_world(client, settings, prefix="c"))

    async def race() -> list[Any]:
        async with AsyncTestClient(create_app(settings)) as ac:
            return await asyncio.gather(
                *(
                    ac.post("/invites/accept", json=accept_body(code, f"race{n}@example.fi"))
                    for n in range(6)
                )
            )

    results = run(race())
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201, 410, 410, 410, 410, 410], [r.text for r in results]
    assert all(r.json()["code"] == "invite_used" for r in results if r.status_code == 410)


def test_codes_issued_by_a_removed_member_stop_working(
    client: TestClient[Any], world: World
) -> None:
    # guardian 2 invites a caregiver and makes a pairing code, then is removed from the case
    r = client.post(
        f"/cases/{world.case_id}/invites",
        json={"role": "caregiver", "scopes": ["schedule"]},
        headers=world.guardian2.headers,
    )
    caregiver_code = r.json()["code"]
    r = client.post(f"/cases/{world.case_id}/pairing-codes", headers=world.guardian2.headers)
    pairing_code = r.json()["code"]
    r = client.delete(
        f"/cases/{world.case_id}/members/{world.guardian2.user_id}", headers=world.therapist.headers
    )
    assert r.status_code == 204
    r = client.post("/invites/accept", json=accept_body(caregiver_code, "daycare@example.fi"))
    assert_problem(r, 410, "invite_revoked")
    r = client.post("/auth/pair", json={"code": pairing_code, "device": {"name": "tablet"}})
    assert_problem(r, 410, "pairing_code_revoked")
    # codes of members still in the case keep working
    r = client.post(f"/cases/{world.case_id}/pairing-codes", headers=world.guardian.headers)
    r = client.post("/auth/pair", json={"code": r.json()["code"], "device": {"name": "tablet"}})
    assert r.status_code == 200


def test_invites_of_a_disabled_issuer_stop_working(client: TestClient[Any], world: World) -> None:
    staff = client.post("/org/invites", json={"role": "admin"}, headers=world.admin.headers)
    second_admin = accept_invite(client, staff.json()["code"], "admin2@example.fi")
    therapist_code = client.post(
        "/org/invites", json={"role": "therapist"}, headers=world.admin.headers
    ).json()["code"]
    guardian_code = guardian_invite(client, world)
    r = client.post(f"/org/users/{world.admin.user_id}/disable", headers=second_admin.headers)
    assert r.status_code == 204
    r = client.post(f"/org/users/{world.therapist.user_id}/disable", headers=second_admin.headers)
    assert r.status_code == 204
    r = client.post("/invites/accept", json=accept_body(therapist_code, "t9@example.fi"))
    assert_problem(r, 410, "invite_revoked")
    r = client.post("/invites/accept", json=accept_body(guardian_code, "g9@example.fi"))
    assert_problem(r, 410, "invite_revoked")


def test_a_disabled_therapist_does_not_count_as_the_case_s_therapist(
    client: TestClient[Any], world: World
) -> None:
    r = client.post("/org/invites", json={"role": "therapist"}, headers=world.admin.headers)
    colleague = accept_invite(client, r.json()["code"], "t2@example.fi", "Tuula")
    r = client.post(
        f"/cases/{world.case_id}/therapists",
        json={"userId": str(colleague.user_id)},
        headers=world.therapist.headers,
    )
    assert r.status_code == 204
    assert (
        client.post(
            f"/org/users/{colleague.user_id}/disable", headers=world.admin.headers
        ).status_code
        == 204
    )
    # the only active therapist cannot leave the case to a disabled colleague
    r = client.delete(
        f"/cases/{world.case_id}/members/{world.therapist.user_id}", headers=world.therapist.headers
    )
    assert_problem(r, 409, "last_therapist")
    # but the disabled colleague can be removed
    r = client.delete(
        f"/cases/{world.case_id}/members/{colleague.user_id}", headers=world.therapist.headers
    )
    assert r.status_code == 204
