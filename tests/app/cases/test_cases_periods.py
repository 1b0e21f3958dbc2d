"""Therapy periods over HTTP: payer, dates, granted sessions, who may read and write."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from conftest import World
from litestar.testing import TestClient
from support import Session, accept_invite, assert_problem, auth

NIL = "00000000-0000-0000-0000-000000000000"

PERIOD = {
    "payer": "kela",
    "startsOn": "2025-08-01",
    "endsOn": "2026-07-31",
    "sessionsGranted": 40,
    "decisionRef": "KELA-2025-1234",
}


def create(
    client: TestClient[Any], world: World, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    r = client.post(
        f"/cases/{world.case_id}/periods",
        json=PERIOD if body is None else body,
        headers=world.therapist.headers,
    )
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def periods(client: TestClient[Any], case_id: UUID, session: Session) -> list[dict[str, Any]]:
    r = client.get(f"/cases/{case_id}/periods", headers=session.headers)
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()
    return result


def new_caregiver(client: TestClient[Any], world: World) -> Session:
    r = client.post(
        f"/cases/{world.case_id}/invites",
        json={"role": "caregiver", "scopes": ["schedule", "homework"]},
        headers=world.guardian.headers,
    )
    assert r.status_code == 201, r.text
    return accept_invite(client, r.json()["code"], "school@example.fi", "Koulu")


def pair_child(client: TestClient[Any], world: World) -> dict[str, str]:
    r = client.post(f"/cases/{world.case_id}/pairing-codes", headers=world.guardian.headers)
    assert r.status_code == 201, r.text
    r = client.post("/auth/pair", json={"code": r.json()["code"], "device": {"name": "tablet"}})
    assert r.status_code == 200, r.text
    return auth(r.json()["token"])


# creating and reading


def test_therapist_records_a_period(client: TestClient[Any], world: World) -> None:
    p = create(client, world)
    assert p["caseId"] == str(world.case_id)
    assert p["payer"] == "kela"
    assert (p["startsOn"], p["endsOn"]) == ("2025-08-01", "2026-07-31")
    assert p["sessionsGranted"] == 40
    assert p["sessionsUsed"] == 0
    assert p["sessionsRemaining"] == 40
    assert p["decisionRef"] == "KELA-2025-1234"
    assert p["createdAt"]

    r = client.get(f"/cases/{world.case_id}/periods/{p['id']}", headers=world.therapist.headers)
    assert r.status_code == 200, r.text
    assert r.json() == p
    assert periods(client, world.case_id, world.therapist) == [p]


def test_guardians_read_periods(client: TestClient[Any], world: World) -> None:
    p = create(client, world)
    assert periods(client, world.case_id, world.guardian) == [p]
    r = client.get(f"/cases/{world.case_id}/periods/{p['id']}", headers=world.guardian2.headers)
    assert r.status_code == 200, r.text
    assert r.json() == p


def test_periods_are_listed_by_start_date(client: TestClient[Any], world: World) -> None:
    later = create(client, world)
    earlier = create(
        client,
        world,
        {"payer": "self", "startsOn": "2024-08-01", "endsOn": "2025-07-31", "sessionsGranted": 0},
    )
    assert earlier["decisionRef"] is None
    assert earlier["sessionsRemaining"] == 0
    listed = periods(client, world.case_id, world.therapist)
    assert [p["id"] for p in listed] == [earlier["id"], later["id"]]


def test_every_payer_is_accepted(client: TestClient[Any], world: World) -> None:
    payers = ["kela", "municipality", "self", "other"]
    created = [create(client, world, {**PERIOD, "payer": payer})["payer"] for payer in payers]
    assert created == payers
    assert sorted(p["payer"] for p in periods(client, world.case_id, world.guardian)) == sorted(
        payers
    )


@pytest.mark.parametrize(
    ("starts", "ends", "granted", "ref"),
    [
        ("2025-01-01", "2025-01-01", 0, None),  # a single day, nothing granted yet
        ("2025-01-01", "2027-12-31", 500, "x" * 64),  # three years, the maximum
        ("2025-03-01", "2028-03-01", 1, "1"),  # three years to the day
        ("2024-02-29", "2027-02-28", 30, None),  # from a leap day
        ("9998-06-01", "9999-12-31", 10, None),  # the end of the calendar is no crash
    ],
)
def test_period_bounds_are_accepted(
    client: TestClient[Any],
    world: World,
    starts: str,
    ends: str,
    granted: int,
    ref: str | None,
) -> None:
    body = {
        "payer": "municipality",
        "startsOn": starts,
        "endsOn": ends,
        "sessionsGranted": granted,
        "decisionRef": ref,
    }
    p = create(client, world, body)
    assert (p["startsOn"], p["endsOn"], p["sessionsGranted"], p["decisionRef"]) == (
        starts,
        ends,
        granted,
        ref,
    )
    assert p["sessionsRemaining"] == granted


# who may


def test_periods_need_a_token(client: TestClient[Any], world: World) -> None:
    p = create(client, world)
    base = f"/cases/{world.case_id}/periods"
    assert_problem(client.get(base), 401, "unauthenticated")
    assert_problem(client.post(base, json=PERIOD), 401, "unauthenticated")
    assert_problem(client.get(f"{base}/{p['id']}"), 401, "unauthenticated")
    assert_problem(
        client.patch(f"{base}/{p['id']}", json={"sessionsGranted": 1}), 401, "unauthenticated"
    )
    assert periods(client, world.case_id, world.therapist) == [p]


def test_guardians_cannot_write_periods(client: TestClient[Any], world: World) -> None:
    p = create(client, world)
    base = f"/cases/{world.case_id}/periods"
    assert_problem(client.post(base, json=PERIOD, headers=world.guardian.headers), 403, "forbidden")
    assert_problem(
        client.patch(
            f"{base}/{p['id']}", json={"sessionsGranted": 100}, headers=world.guardian.headers
        ),
        403,
        "forbidden",
    )
    assert periods(client, world.case_id, world.therapist) == [p]


@pytest.mark.parametrize("who", ["caregiver", "child"])
def test_children_and_caregivers_cannot_read_periods(
    client: TestClient[Any], world: World, who: str
) -> None:
    p = create(client, world)
    headers = (
        new_caregiver(client, world).headers if who == "caregiver" else pair_child(client, world)
    )
    base = f"/cases/{world.case_id}/periods"
    assert_problem(client.get(base, headers=headers), 403, "forbidden")
    assert_problem(client.get(f"{base}/{p['id']}", headers=headers), 403, "forbidden")
    assert_problem(client.post(base, json=PERIOD, headers=headers), 403, "forbidden")
    assert_problem(
        client.patch(f"{base}/{p['id']}", json={"sessionsGranted": 1}, headers=headers),
        403,
        "forbidden",
    )
    assert periods(client, world.case_id, world.therapist) == [p]


def test_periods_of_a_foreign_case_are_not_found(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    p = create(client, world)
    base = f"/cases/{world.case_id}/periods"
    for session in (other_world.therapist, other_world.guardian, world.admin):
        h = session.headers
        assert_problem(client.get(base, headers=h), 404, "case_not_found")
        assert_problem(client.get(f"{base}/{p['id']}", headers=h), 404, "case_not_found")
        assert_problem(client.post(base, json=PERIOD, headers=h), 404, "case_not_found")
        assert_problem(
            client.patch(f"{base}/{p['id']}", json={"sessionsGranted": 1}, headers=h),
            404,
            "case_not_found",
        )
    assert periods(client, world.case_id, world.therapist) == [p]
    assert periods(client, other_world.case_id, other_world.therapist) == []


def test_a_period_is_only_found_through_its_own_case(client: TestClient[Any], world: World) -> None:
    p = create(client, world)
    r = client.post("/cases", json={"childDisplayName": "Aino"}, headers=world.therapist.headers)
    assert r.status_code == 201, r.text
    sibling = r.json()["id"]
    for path in (f"/cases/{sibling}/periods/{p['id']}", f"/cases/{world.case_id}/periods/{NIL}"):
        assert_problem(client.get(path, headers=world.therapist.headers), 404, "period_not_found")
        assert_problem(
            client.patch(path, json={"sessionsGranted": 1}, headers=world.therapist.headers),
            404,
            "period_not_found",
        )
    assert periods(client, world.case_id, world.therapist) == [p]


# bad input


BAD_PERIODS: list[tuple[dict[str, Any], str, str | None]] = [
    ({"endsOn": "2025-07-31"}, "period_dates_invalid", None),
    ({"startsOn": "2025-01-01", "endsOn": "2028-01-02"}, "period_too_long", None),
    ({"startsOn": "2025-03-01", "endsOn": "2028-03-02"}, "period_too_long", None),
    ({"startsOn": "2020-01-01", "endsOn": "2030-01-01"}, "period_too_long", None),
    ({"startsOn": "2024-02-29", "endsOn": "2027-03-01"}, "period_too_long", None),
    ({"payer": "insurance"}, "validation_error", "payer"),
    ({"payer": "KELA"}, "validation_error", "payer"),
    ({"sessionsGranted": -1}, "validation_error", "sessionsGranted"),
    ({"sessionsGranted": 501}, "validation_error", "sessionsGranted"),
    ({"sessionsGranted": 4.5}, "validation_error", "sessionsGranted"),
    ({"decisionRef": "x" * 65}, "validation_error", "decisionRef"),
    ({"decisionRef": ""}, "validation_error", "decisionRef"),
    ({"decisionRef": "   "}, "validation_error", "decisionRef"),
    ({"decisionRef": "KELA\u00001"}, "validation_error", "decisionRef"),  # was a 500 on PG
    ({"decisionRef": "KELA\n1"}, "validation_error", "decisionRef"),
    ({"startsOn": "2025-02-30"}, "validation_error", "startsOn"),
    ({"endsOn": "31.7.2026"}, "validation_error", "endsOn"),
    ({"caseId": NIL}, "validation_error", "caseId"),
    ({"sessionsUsed": 3}, "validation_error", "sessionsUsed"),
]


def test_bad_periods_are_422_and_create_nothing(client: TestClient[Any], world: World) -> None:
    for change, code, field in BAD_PERIODS:
        r = client.post(
            f"/cases/{world.case_id}/periods",
            json={**PERIOD, **change},
            headers=world.therapist.headers,
        )
        assert r.status_code == 422, (change, r.text)
        problem = assert_problem(r, 422, code)
        if field is not None:
            assert field in problem["detail"], (change, problem)
    assert periods(client, world.case_id, world.therapist) == []


def test_required_period_fields(client: TestClient[Any], world: World) -> None:
    for missing in ("payer", "startsOn", "endsOn", "sessionsGranted"):
        body = {k: v for k, v in PERIOD.items() if k != missing}
        problem = assert_problem(
            client.post(
                f"/cases/{world.case_id}/periods", json=body, headers=world.therapist.headers
            ),
            422,
            "validation_error",
        )
        assert missing in problem["detail"]
    assert periods(client, world.case_id, world.therapist) == []


# PATCH


def patch(client: TestClient[Any], world: World, period_id: str, body: dict[str, Any]) -> Any:
    return client.patch(
        f"/cases/{world.case_id}/periods/{period_id}", json=body, headers=world.therapist.headers
    )


def test_patch_changes_only_the_fields_sent(client: TestClient[Any], world: World) -> None:
    p = create(client, world)
    r = patch(client, world, p["id"], {"sessionsGranted": 30})
    assert r.status_code == 200, r.text
    assert r.json() == {**p, "sessionsGranted": 30, "sessionsRemaining": 30}

    r = patch(client, world, p["id"], {"payer": "municipality", "endsOn": "2026-12-31"})
    assert r.status_code == 200, r.text
    expected = {
        **p,
        "sessionsGranted": 30,
        "sessionsRemaining": 30,
        "payer": "municipality",
        "endsOn": "2026-12-31",
    }
    assert r.json() == expected

    r = patch(client, world, p["id"], {})
    assert r.status_code == 200, r.text
    assert r.json() == expected

    r = patch(client, world, p["id"], {"decisionRef": None})
    assert r.status_code == 200, r.text
    expected["decisionRef"] = None
    assert r.json() == expected
    # a guardian reads back what the therapist wrote
    assert periods(client, world.case_id, world.guardian) == [expected]


BAD_PATCHES: list[tuple[dict[str, Any], str]] = [
    ({"endsOn": "2025-07-31"}, "period_dates_invalid"),
    ({"startsOn": "2026-08-01"}, "period_dates_invalid"),
    ({"startsOn": "2023-07-30"}, "period_too_long"),
    ({"endsOn": "2028-08-02"}, "period_too_long"),
    ({"sessionsGranted": 501, "payer": "self"}, "validation_error"),
    ({"payer": "self", "sessionsGranted": -1}, "validation_error"),
    ({"payer": None}, "validation_error"),
    ({"startsOn": None}, "validation_error"),
    ({"sessionsGranted": None}, "validation_error"),
    ({"decisionRef": "x" * 65, "payer": "self"}, "validation_error"),
    ({"decisionRef": "\u0000", "payer": "self"}, "validation_error"),
    ({"payer": "self", "id": NIL}, "validation_error"),
]


def test_invalid_patch_changes_nothing(client: TestClient[Any], world: World) -> None:
    p = create(client, world)
    for body, code in BAD_PATCHES:
        r = patch(client, world, p["id"], body)
        assert r.status_code == 422, (body, r.text)
        assert_problem(r, 422, code)
        r = client.get(f"/cases/{world.case_id}/periods/{p['id']}", headers=world.therapist.headers)
        assert r.json() == p, body
