"""Rescheduling one occurrence or the rest of a series, and marking how a session went."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from appointments_support import (
    HEL,
    NIL,
    NOW,
    START,
    cancel,
    case_schedule,
    create,
    get,
    one,
    pair_child,
    set_now,
)
from conftest import World
from litestar.testing import TestClient
from support import assert_problem


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def series(client: TestClient[Any], world: World, n: int = 4) -> list[dict[str, Any]]:
    start = datetime(2026, 10, 13, 16, 0, tzinfo=HEL)
    items: list[dict[str, Any]] = create(
        client, world.therapist, [world.case_id], startsAt=start.isoformat(), weeklyOccurrences=n
    )["appointments"]
    return items


def move(client: TestClient[Any], world: World, appointment_id: str, **payload: Any) -> Any:
    return client.patch(
        f"/appointments/{appointment_id}", json=payload, headers=world.therapist.headers
    )


def local(a: dict[str, Any]) -> tuple[int, int, int, int]:
    t = datetime.fromisoformat(a["startsAt"]).astimezone(HEL)
    return (t.month, t.day, t.hour, t.minute)


def test_moving_one_occurrence_leaves_the_rest(client: TestClient[Any], world: World) -> None:
    items = series(client, world)
    r = move(
        client, world, items[1]["id"], startsAt="2026-10-21T09:30:00+03:00", placeKind="school"
    )
    assert r.status_code == 200, r.text
    moved = r.json()["appointments"]
    assert [m["id"] for m in moved] == [items[1]["id"]]
    assert (local(moved[0]), moved[0]["placeKind"]) == ((10, 21, 9, 30), "school")
    after = {a["id"]: a for a in case_schedule(client, world.guardian, world.case_id)}
    assert [local(after[a["id"]]) for a in items] == [
        (10, 13, 16, 0),
        (10, 21, 9, 30),
        (10, 27, 16, 0),
        (11, 3, 16, 0),
    ]
    assert after[items[2]["id"]]["placeKind"] == "home"


def test_moving_the_rest_keeps_the_local_offset_across_dst(
    client: TestClient[Any], world: World
) -> None:
    items = series(client, world)
    # from the second occurrence on: an hour and a half later on the same weekday
    r = move(
        client,
        world,
        items[1]["id"],
        startsAt="2026-10-20T17:30:00+03:00",
        scope="following",
        durationMinutes=45,
    )
    assert r.status_code == 200, r.text
    moved = r.json()["appointments"]
    assert [m["id"] for m in moved] == [a["id"] for a in items[1:]]
    assert [local(m) for m in moved] == [(10, 20, 17, 30), (10, 27, 17, 30), (11, 3, 17, 30)]
    # after the change to winter time the UTC offset is +02:00
    assert [m["startsAt"] for m in moved] == [
        "2026-10-20T14:30:00Z",
        "2026-10-27T15:30:00Z",
        "2026-11-03T15:30:00Z",
    ]
    assert {m["durationMinutes"] for m in moved} == {45}
    assert get(client, world.guardian, items[0]["id"])["startsAt"] == items[0]["startsAt"]
    assert get(client, world.guardian, items[0]["id"])["durationMinutes"] == 60


def test_the_rest_skips_cancelled_occurrences(client: TestClient[Any], world: World) -> None:
    items = series(client, world)
    assert cancel(client, world.guardian, items[2]["id"]).status_code == 201
    r = move(client, world, items[1]["id"], startsAt="2026-10-22T16:00:00+03:00", scope="following")
    assert [m["id"] for m in r.json()["appointments"]] == [items[1]["id"], items[3]["id"]]
    assert get(client, world.therapist, items[2]["id"])["startsAt"] == items[2]["startsAt"]
    assert_problem(
        move(client, world, items[2]["id"], startsAt="2026-10-28T16:00:00+03:00"),
        409,
        "appointment_not_scheduled",
    )


def test_rescheduling_who_may(client: TestClient[Any], world: World, other_world: World) -> None:
    a = one(client, world)
    path = f"/appointments/{a['id']}"
    change = {"startsAt": "2026-10-07T16:00:00+03:00"}
    assert_problem(client.patch(path, json=change), 401, "unauthenticated")
    for session in (world.guardian, pair_child(client, world)):
        assert_problem(client.patch(path, json=change, headers=session.headers), 403, "forbidden")
    for session in (other_world.therapist, other_world.admin, world.admin):
        expected = (403, "forbidden") if session is world.admin else (404, "appointment_not_found")
        assert_problem(client.patch(path, json=change, headers=session.headers), *expected)
    assert_problem(
        client.patch(f"/appointments/{NIL}", json=change, headers=world.therapist.headers),
        404,
        "appointment_not_found",
    )
    assert get(client, world.therapist, a["id"]) == a


def test_bad_reschedules_are_422_and_change_nothing(client: TestClient[Any], world: World) -> None:
    a = one(client, world)
    for payload in (
        {"startsAt": "2026-10-07T16:00:00"},
        {"startsAt": None},
        {"durationMinutes": 30},
        {"placeKind": "beach"},
        {"scope": "all"},
        {"status": "cancelled"},
    ):
        assert_problem(move(client, world, a["id"], **payload), 422, "validation_error")
    assert_problem(
        move(client, world, a["id"], startsAt="2100-01-05T16:00:00+02:00"),
        422,
        "starts_at_out_of_range",
    )
    assert get(client, world.therapist, a["id"]) == a


# completed and no-show


def outcome(client: TestClient[Any], session: Any, appointment_id: str, **payload: Any) -> Any:
    return client.post(
        f"/appointments/{appointment_id}/outcome", json=payload, headers=session.headers
    )


def test_outcomes_only_after_the_start(client: TestClient[Any], world: World) -> None:
    a, b = one(client, world), one(client, world)
    set_now(client, START - timedelta(seconds=1))
    assert_problem(
        outcome(client, world.therapist, a["id"], status="completed"),
        409,
        "appointment_not_started",
    )
    set_now(client, START)
    r = outcome(client, world.therapist, a["id"], status="completed")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["cases"][0]["status"]) == ("completed", "completed")
    r = outcome(client, world.therapist, b["id"], status="no_show")
    assert (r.json()["status"], r.json()["cases"][0]["status"]) == ("no_show", "no_show")
    # a correction is allowed
    r = outcome(client, world.therapist, b["id"], status="completed")
    assert r.json()["status"] == "completed"
    # a cancelled session has no outcome
    set_now(client, NOW)
    c = one(client, world)
    cancel(client, world.guardian, c["id"])
    set_now(client, START + timedelta(hours=2))
    assert_problem(
        outcome(client, world.therapist, c["id"], status="no_show"), 409, "appointment_cancelled"
    )


def test_outcomes_who_may_and_bad_input(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    a = one(client, world)
    set_now(client, START + timedelta(hours=1))
    assert_problem(
        client.post(f"/appointments/{a['id']}/outcome", json={"status": "completed"}),
        401,
        "unauthenticated",
    )
    for session in (world.guardian, world.admin):
        assert_problem(outcome(client, session, a["id"], status="completed"), 403, "forbidden")
    for session in (other_world.therapist, other_world.guardian):
        assert_problem(
            outcome(client, session, a["id"], status="completed"), 404, "appointment_not_found"
        )
    for payload in (
        {},
        {"status": "cancelled"},
        {"status": "scheduled"},
        {"status": "completed", "caseIds": []},
    ):
        assert_problem(
            outcome(client, world.therapist, a["id"], **payload), 422, "validation_error"
        )
    assert_problem(
        outcome(client, world.therapist, a["id"], status="completed", caseIds=[NIL]),
        422,
        "case_not_in_appointment",
    )
    assert get(client, world.therapist, a["id"]) == a
