"""Sick days: a day the child was ill expects no homework (progress, streaks, the child's
today) and the child's reminder stays silent; a tick made anyway still counts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from support import Session, assert_problem

from app.config import Settings

from homework_support import (  # isort: skip
    MONDAY,
    NOW,
    TODAY,
    assign,
    at,
    new_caregiver,
    nudge,
    pair_child,
    progress,
    set_now,
    settings,
    tick,
)

__all__ = ["settings"]  # fixture

TUESDAY = MONDAY + timedelta(days=1)


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)  # Wednesday 14 October 2026


def mark(client: TestClient[Any], who: Session, case_id: Any, day: Any) -> Any:
    return client.put(f"/cases/{case_id}/homework/sick-days/{day.isoformat()}",
                      headers=who.headers)  # fmt: skip


def unmark(client: TestClient[Any], who: Session, case_id: Any, day: Any) -> Any:
    return client.delete(f"/cases/{case_id}/homework/sick-days/{day.isoformat()}",
                         headers=who.headers)  # fmt: skip


def sick_days(client: TestClient[Any], who: Session, case_id: Any) -> list[str]:
    r = client.get(f"/cases/{case_id}/homework/sick-days", headers=who.headers)
    assert r.status_code == 200, r.text
    assert r.json()["caseId"] == str(case_id)
    days: list[str] = r.json()["days"]
    return days


def test_a_sick_day_stops_counting_against_progress_and_streaks(
    client: TestClient[Any], world: World
) -> None:
    child = pair_child(client, world)
    task = assign(client, world)  # daily from Monday
    assert tick(client, child, task["id"], MONDAY).status_code == 201
    assert tick(client, child, task["id"], TODAY).status_code == 201
    before = progress(client, world.guardian, world.case_id)
    assert before["tasks"][0]["streak"] == 1  # Tuesday was missed
    assert before["streak"] == 1

    assert mark(client, world.guardian, world.case_id, TUESDAY).status_code == 204
    assert mark(client, world.guardian, world.case_id, TUESDAY).status_code == 204  # a retry
    assert sick_days(client, world.therapist, world.case_id) == [TUESDAY.isoformat()]

    after = progress(client, world.therapist, world.case_id)
    assert after["tasks"][0]["streak"] == 2  # Monday and today: Tuesday does not break it
    assert after["streak"] == 2
    assert after["weeks"][-1]["expected"] == before["weeks"][-1]["expected"] - 1
    assert after["tasks"][0]["expected"] == before["tasks"][0]["expected"] - 1
    assert after["summary"]["expected"] == before["summary"]["expected"] - 1
    assert after["summary"]["done"] == before["summary"]["done"] == 2

    # unmarked, the day counts again
    assert unmark(client, world.guardian, world.case_id, TUESDAY).status_code == 204
    assert unmark(client, world.guardian, world.case_id, TUESDAY).status_code == 204
    assert progress(client, world.guardian, world.case_id) == before


def test_a_tick_on_a_sick_day_still_counts(client: TestClient[Any], world: World) -> None:
    child = pair_child(client, world)
    task = assign(client, world)
    assert mark(client, world.therapist, world.case_id, TUESDAY).status_code == 204
    assert tick(client, child, task["id"], TUESDAY).status_code == 201  # practised anyway
    result = progress(client, world.guardian, world.case_id)
    assert result["summary"]["done"] == 1


def test_the_childs_today_is_empty_on_a_sick_day(client: TestClient[Any], world: World) -> None:
    child = pair_child(client, world)
    assign(client, world)
    r = client.get("/me/homework/today", headers=child.headers)
    assert len(r.json()["tasks"]) == 1
    assert mark(client, world.guardian, world.case_id, TODAY).status_code == 204
    r = client.get("/me/homework/today", headers=child.headers)
    assert r.status_code == 200
    assert r.json()["tasks"] == []


def test_no_reminder_on_a_sick_day(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    pair_child(client, world)
    r = client.put(f"/cases/{world.case_id}/homework/reminder", json={"time": "17:30"},
                   headers=world.guardian.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    assign(client, world)
    assert mark(client, world.guardian, world.case_id, TODAY).status_code == 204
    assert nudge(settings, at(TODAY, 17, 31), digest_minutes=10**6) == 0
    assert unmark(client, world.guardian, world.case_id, TODAY).status_code == 204
    assert nudge(settings, at(TODAY, 17, 32), digest_minutes=10**6) == 1


def test_who_marks_a_sick_day(client: TestClient[Any], world: World, other_world: World) -> None:
    child = pair_child(client, world)
    caregiver = new_caregiver(client, world, ["homework"])
    assert_problem(mark(client, child, world.case_id, TODAY), 403, "forbidden")
    assert_problem(mark(client, caregiver, world.case_id, TODAY), 403, "forbidden")
    assert_problem(unmark(client, child, world.case_id, TODAY), 403, "forbidden")
    # the caregiver with the homework grant and the child see them
    assert sick_days(client, caregiver, world.case_id) == []
    assert sick_days(client, child, world.case_id) == []
    # a foreign case: 404, never 403
    assert_problem(mark(client, other_world.guardian, world.case_id, TODAY), 404, "case_not_found")
    r = client.get(f"/cases/{world.case_id}/homework/sick-days",
                   headers=other_world.therapist.headers)  # fmt: skip
    assert_problem(r, 404, "case_not_found")
    outsider = new_caregiver(client, world, ["schedule"], email="mummo@example.fi")
    r = client.get(f"/cases/{world.case_id}/homework/sick-days", headers=outsider.headers)
    assert r.status_code == 403


def test_bad_sick_days_are_refused(client: TestClient[Any], world: World) -> None:
    g = world.guardian
    assert_problem(mark(client, g, world.case_id, TODAY - timedelta(days=15)), 422,
                   "sick_day_out_of_range")  # fmt: skip
    assert_problem(mark(client, g, world.case_id, TODAY + timedelta(days=8)), 422,
                   "sick_day_out_of_range")  # fmt: skip
    assert mark(client, g, world.case_id, TODAY + timedelta(days=7)).status_code == 204
    r = client.put(f"/cases/{world.case_id}/homework/sick-days/2026-02-30", headers=g.headers)
    assert r.status_code in (400, 404)
    assert r.status_code < 500
    r = client.put(f"/cases/{world.case_id}/homework/sick-days/{TODAY.isoformat()}")
    assert_problem(r, 401, "unauthenticated")
