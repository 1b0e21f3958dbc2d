"""Schedules: a case's sessions, "my schedule" for therapists and family members."""

from __future__ import annotations

from typing import Any

import pytest
from appointments_support import (
    NIL,
    NOW,
    case_schedule,
    create,
    get,
    new_caregiver,
    new_case,
    new_therapist,
    one,
    pair_child,
    set_now,
)
from conftest import World
from litestar.testing import TestClient
from support import Session, assert_problem


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def mine(client: TestClient[Any], session: Session, query: str = "") -> list[dict[str, Any]]:
    r = client.get(f"/appointments{query}", headers=session.headers)
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()
    return result


def test_each_member_sees_their_schedule(client: TestClient[Any], world: World) -> None:
    a = one(client, world)
    sibling = new_case(client, world.therapist, "Aino")
    b = create(client, world.therapist, [sibling], startsAt="2026-10-05T10:00:00+03:00")[
        "appointments"
    ][0]
    # the therapist: every case, in time order
    assert [x["id"] for x in mine(client, world.therapist)] == [b["id"], a["id"]]
    # a guardian, the child, a caregiver with the schedule scope: their case only
    child = pair_child(client, world)
    carer = new_caregiver(client, world, ["schedule"])
    for session in (world.guardian, world.guardian2, child, carer):
        assert [x["id"] for x in mine(client, session)] == [a["id"]]
        assert get(client, session, a["id"])["id"] == a["id"]
        assert [x["id"] for x in case_schedule(client, session, world.case_id)] == [a["id"]]
    # a caregiver without it sees nothing
    hidden = new_caregiver(client, world, ["homework"], "school@example.fi")
    assert mine(client, hidden) == []
    assert_problem(
        client.get(f"/cases/{world.case_id}/appointments", headers=hidden.headers), 403, "forbidden"
    )
    assert_problem(
        client.get(f"/appointments/{a['id']}", headers=hidden.headers), 404, "appointment_not_found"
    )
    # a colleague without the case sees nothing either
    colleague = new_therapist(client, world, "colleague@example.fi")
    assert mine(client, colleague) == []


def test_the_window_of_a_schedule(client: TestClient[Any], world: World) -> None:
    a = one(client, world)
    assert (
        mine(
            client,
            world.guardian,
            "?from=2026-10-06T00:00:00%2B03:00&to=2026-10-07T00:00:00%2B03:00",
        )[0]["id"]
        == a["id"]
    )
    assert mine(client, world.guardian, "?from=2026-10-06T16:00:01%2B03:00") == []
    assert case_schedule(client, world.guardian, world.case_id)[0]["id"] == a["id"]
    for query, code in (
        ("?from=2026-10-06T00:00:00", "validation_error"),
        ("?from=yesterday", "validation_error"),
        ("?from=2026-10-07T00:00:00Z&to=2026-10-06T00:00:00Z", "range_invalid"),
        ("?from=2026-01-01T00:00:00Z&to=2027-12-31T00:00:00Z", "range_too_long"),
    ):
        assert_problem(
            client.get(f"/appointments{query}", headers=world.guardian.headers), 422, code
        )
        assert_problem(
            client.get(
                f"/cases/{world.case_id}/appointments{query}", headers=world.guardian.headers
            ),
            422,
            code,
        )


def test_schedules_need_a_token_and_a_member(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    a = one(client, world)
    assert_problem(client.get("/appointments"), 401, "unauthenticated")
    assert_problem(client.get(f"/appointments/{a['id']}"), 401, "unauthenticated")
    assert_problem(client.get(f"/cases/{world.case_id}/appointments"), 401, "unauthenticated")
    # an admin has no schedule of their own, and is no member of a case
    assert_problem(client.get("/appointments", headers=world.admin.headers), 403, "forbidden")
    assert_problem(
        client.get(f"/cases/{world.case_id}/appointments", headers=world.admin.headers),
        404,
        "case_not_found",
    )
    assert get(client, world.admin, a["id"])["id"] == a["id"]  # the org's admin may look
    for session in (other_world.therapist, other_world.guardian, other_world.admin):
        assert_problem(
            client.get(f"/appointments/{a['id']}", headers=session.headers),
            404,
            "appointment_not_found",
        )
        assert_problem(
            client.get(f"/cases/{world.case_id}/appointments", headers=session.headers),
            404,
            "case_not_found",
        )
    assert_problem(
        client.get(f"/appointments/{NIL}", headers=world.therapist.headers),
        404,
        "appointment_not_found",
    )
    assert mine(client, other_world.guardian) == []
    assert mine(client, other_world.therapist) == []
