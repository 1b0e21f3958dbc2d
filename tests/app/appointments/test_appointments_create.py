"""Scheduling over HTTP: single and group sessions, weekly series across DST, bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from appointments_support import (
    HEL,
    NIL,
    body,
    case_schedule,
    create,
    family_room,
    get,
    new_case,
    new_therapist,
    one,
    ref,
    set_now,
)
from conftest import World
from litestar.testing import TestClient
from support import assert_problem


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, datetime(2026, 10, 1, 9, 0, tzinfo=HEL))


def test_a_therapist_schedules_a_session(client: TestClient[Any], world: World) -> None:
    details = ref(client, world.therapist, world.case_id)
    created = create(client, world.therapist, [world.case_id], details=[details])
    assert created["warnings"] == [
        {
            "code": "outside_period",
            "appointmentId": created["appointments"][0]["id"],
            "caseId": str(world.case_id),
            "periodId": None,
        }
    ]
    a = created["appointments"][0]
    assert a["startsAt"] == "2026-10-06T13:00:00Z"
    assert a["endsAt"] == "2026-10-06T14:00:00Z"
    assert a["durationMinutes"] == 60
    assert (a["placeKind"], a["groupKind"], a["status"], a["seriesId"]) == (
        "home",
        None,
        "scheduled",
        None,
    )
    assert a["therapistIds"] == [str(world.therapist.user_id)]
    assert a["cases"] == [
        {
            "caseId": str(world.case_id),
            "status": "scheduled",
            "cancellationId": None,
            "roomId": family_room(world.case_id),
            "detailsEventId": details["eventId"],
        }
    ]
    # the family reads it back, pointing at the event of its family room
    assert get(client, world.guardian, a["id"]) == a
    assert case_schedule(client, world.guardian2, world.case_id) == [a]


def test_duration_and_place_bounds(client: TestClient[Any], world: World) -> None:
    for minutes in (45, 60):
        for place in ("home", "school", "daycare", "office", "video", "other"):
            a = one(client, world, durationMinutes=minutes, placeKind=place)
            assert (a["durationMinutes"], a["placeKind"]) == (minutes, place)


# group sessions


@pytest.mark.parametrize(
    ("kind", "count", "therapists", "code"),
    [
        ("children", 1, 1, "group_too_small"),
        ("children", 2, 1, None),
        ("children", 4, 1, None),
        ("children", 5, 1, "group_too_large"),
        ("adults", 2, 1, "group_too_small"),
        ("adults", 3, 1, None),
        ("adults", 5, 1, None),
        ("adults", 6, 1, "group_too_large"),
        ("children", 3, 2, "group_too_small"),
        ("children", 8, 2, None),
        ("children", 9, 2, "group_too_large"),
    ],
)
def test_group_size_per_therapist(
    client: TestClient[Any], world: World, kind: str, count: int, therapists: int, code: str | None
) -> None:
    cases = [world.case_id] + [
        new_case(client, world.therapist, f"Lapsi {n}") for n in range(count - 1)
    ]
    co = []
    if therapists == 2:
        colleague = new_therapist(client, world, "co@example.fi")
        for case_id in cases:
            r = client.post(
                f"/cases/{case_id}/therapists",
                json={"userId": str(colleague.user_id)},
                headers=world.therapist.headers,
            )
            assert r.status_code == 204, r.text
        co = [str(colleague.user_id)]
    r = client.post(
        "/appointments",
        json=body(cases, groupKind=kind, coTherapistIds=co),
        headers=world.therapist.headers,
    )
    if code is None:
        assert r.status_code == 201, r.text
        a = r.json()["appointments"][0]
        assert a["groupKind"] == kind
        assert sorted(c["caseId"] for c in a["cases"]) == sorted(str(c) for c in cases)
        assert len(a["therapistIds"]) == therapists
    else:
        assert_problem(r, 422, code)
        assert case_schedule(client, world.therapist, world.case_id) == []


def test_several_cases_need_a_group_kind(client: TestClient[Any], world: World) -> None:
    other = new_case(client, world.therapist)
    r = client.post(
        "/appointments", json=body([world.case_id, other]), headers=world.therapist.headers
    )
    assert_problem(r, 422, "group_kind_required")
    r = client.post(
        "/appointments",
        json=body([world.case_id, world.case_id], groupKind="children"),
        headers=world.therapist.headers,
    )
    assert_problem(r, 422, "duplicate_case")
    assert case_schedule(client, world.therapist, world.case_id) == []


def test_a_group_needs_a_therapist_of_every_case(client: TestClient[Any], world: World) -> None:
    colleague = new_therapist(client, world, "colleague@example.fi")
    theirs = new_case(client, colleague, "Vieras")
    # the caller is no therapist of the colleague's case: as if it did not exist
    r = client.post(
        "/appointments",
        json=body([world.case_id, theirs], groupKind="children"),
        headers=world.therapist.headers,
    )
    assert_problem(r, 404, "case_not_found")
    # a co-therapist must be a therapist of every case; two therapists need 4+ children
    mine = new_case(client, world.therapist)
    r = client.post(
        "/appointments",
        json=body(
            [world.case_id, mine], groupKind="children", coTherapistIds=[str(colleague.user_id)]
        ),
        headers=world.therapist.headers,
    )
    assert_problem(r, 422, "group_too_small")
    r = client.post(
        "/appointments",
        json=body([world.case_id], coTherapistIds=[str(colleague.user_id)]),
        headers=world.therapist.headers,
    )
    assert_problem(r, 422, "therapist_not_in_case")
    assert case_schedule(client, world.therapist, world.case_id) == []
    assert case_schedule(client, colleague, theirs) == []


# weekly series and daylight-saving time


def test_a_weekly_series_keeps_local_time_across_the_end_of_dst(
    client: TestClient[Any], world: World
) -> None:
    # Tuesdays at 16:00 in Helsinki; DST ends on Sunday 25 October 2026
    start = datetime(2026, 10, 13, 16, 0, tzinfo=HEL)
    created = create(
        client, world.therapist, [world.case_id], startsAt=start.isoformat(), weeklyOccurrences=4
    )
    items = created["appointments"]
    assert len(items) == 4
    series = {a["seriesId"] for a in items}
    assert len(series) == 1
    assert None not in series
    utc = [a["startsAt"] for a in items]
    assert utc == [
        "2026-10-13T13:00:00Z",
        "2026-10-20T13:00:00Z",
        "2026-10-27T14:00:00Z",
        "2026-11-03T14:00:00Z",
    ]
    local = [datetime.fromisoformat(u).astimezone(HEL) for u in utc]
    assert {(t.hour, t.minute, t.weekday()) for t in local} == {(16, 0, 1)}
    # the same holds in spring, when DST begins (last Sunday of March 2027)
    spring = create(
        client,
        world.therapist,
        [world.case_id],
        startsAt=datetime(2027, 3, 23, 16, 0, tzinfo=HEL).isoformat(),
        weeklyOccurrences=2,
    )["appointments"]
    assert [a["startsAt"] for a in spring] == ["2027-03-23T14:00:00Z", "2027-03-30T13:00:00Z"]


def test_a_start_in_another_offset_is_the_same_instant(
    client: TestClient[Any], world: World
) -> None:
    a = one(client, world, startsAt="2026-10-06T13:00:00+00:00")
    assert a["startsAt"] == "2026-10-06T13:00:00Z"
    assert datetime.fromisoformat(a["startsAt"]).astimezone(UTC).hour == 13


# who may


def test_scheduling_needs_a_token(client: TestClient[Any], world: World) -> None:
    assert_problem(client.post("/appointments", json=body([world.case_id])), 401, "unauthenticated")
    assert case_schedule(client, world.therapist, world.case_id) == []


def test_only_therapists_schedule(client: TestClient[Any], world: World) -> None:
    for session in (world.guardian, world.admin):
        r = client.post("/appointments", json=body([world.case_id]), headers=session.headers)
        assert_problem(r, 403, "forbidden")
    assert case_schedule(client, world.therapist, world.case_id) == []


def test_a_foreign_case_is_not_found(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    for case_id in (world.case_id, UUID(NIL)):
        r = client.post(
            "/appointments", json=body([case_id]), headers=other_world.therapist.headers
        )
        assert_problem(r, 404, "case_not_found")
    assert case_schedule(client, world.therapist, world.case_id) == []


# bad input


BAD: list[tuple[dict[str, Any], str, str | None]] = [
    ({"startsAt": "2026-10-06T16:00:00"}, "validation_error", "startsAt"),  # naive
    ({"startsAt": "6.10.2026 16:00"}, "validation_error", "startsAt"),
    ({"startsAt": "1999-12-31T16:00:00+02:00"}, "starts_at_out_of_range", None),
    ({"durationMinutes": 44}, "validation_error", "durationMinutes"),
    ({"durationMinutes": 61}, "validation_error", "durationMinutes"),
    ({"durationMinutes": 50.5}, "validation_error", "durationMinutes"),
    ({"placeKind": "park"}, "validation_error", "placeKind"),
    ({"groupKind": "teens"}, "validation_error", "groupKind"),
    ({"caseIds": []}, "validation_error", "caseIds"),
    ({"caseIds": ["not-a-uuid"]}, "validation_error", "caseIds"),
    ({"weeklyOccurrences": 0}, "validation_error", "weeklyOccurrences"),
    ({"weeklyOccurrences": 53}, "validation_error", "weeklyOccurrences"),
    ({"status": "completed"}, "validation_error", "status"),
    ({"details": {"type": "megolm"}}, "validation_error", "details"),
    ({"details": [{"type": "olm"}]}, "validation_error", "details"),
]


def test_bad_input_is_422_and_creates_nothing(client: TestClient[Any], world: World) -> None:
    for change, code, field in BAD:
        r = client.post(
            "/appointments",
            json={**body([world.case_id]), **change},
            headers=world.therapist.headers,
        )
        problem = assert_problem(r, 422, code)
        if field is not None:
            assert field in problem["detail"], (change, problem)
    good = ref(client, world.therapist, world.case_id)
    for details, code in [
        ([{**good, "eventId": "not an event id"}], "validation_error"),
        ([{**good, "eventId": "$" + "a" * 300}], "validation_error"),
        ([{**good, "extra": 1}], "validation_error"),
        ([{"caseId": str(world.case_id)}], "validation_error"),
        ([ref(client, world.guardian, world.case_id)], "content_event_invalid"),
        ([{**good, "caseId": NIL}], "details_case_mismatch"),
        ([good, good], "details_case_mismatch"),
    ]:
        r = client.post(
            "/appointments",
            json=body([world.case_id], details=details),
            headers=world.therapist.headers,
        )
        assert_problem(r, 422, code)
    assert case_schedule(client, world.therapist, world.case_id) == []
