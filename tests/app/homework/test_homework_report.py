"""Progress and the child's "today" over HTTP: numbers from the schedule and ticks alone,
weeks on the Helsinki calendar across the DST change, the summary since the last session,
and who may see them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from support import assert_problem

from homework_support import (  # isort: skip
    HEL,
    MONDAY,
    NOW,
    TODAY,
    assign,
    at,
    days_ago,
    new_caregiver,
    pair_child,
    progress,
    set_now,
    settings,
    tick,
)
from appointments_support import create  # isort: skip

__all__ = ["settings"]  # fixtures


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def today(client: TestClient[Any], who: Any) -> dict[str, Any]:
    r = client.get("/me/homework/today", headers=who.headers)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def test_progress_per_task_and_case(client: TestClient[Any], world: World) -> None:
    child = pair_child(client, world)
    start = (MONDAY - timedelta(weeks=1)).isoformat()  # Monday 5 October
    set_now(client, at(date(2026, 10, 5)))
    daily = assign(client, world, startsOn=start)
    weekly = assign(
        client, world, startsOn=start, schedule={"kind": "weekly", "weekdays": [1, 3, 5]}
    )
    flexible = assign(
        client, world, startsOn=start, schedule={"kind": "perWeek", "timesPerWeek": 2}
    )
    set_now(client, at(date(2026, 10, 7), 20))
    for day in (5, 6, 7):  # three days of the first week, ticked the same evening
        assert tick(client, child, daily["id"], date(2026, 10, day)).status_code == 201
    set_now(client, NOW)
    for d in (days_ago(2), days_ago(1), TODAY):  # Monday to Wednesday of this week
        assert tick(client, child, daily["id"], d).status_code == 201
    assert tick(client, child, weekly["id"], MONDAY).status_code == 201
    assert tick(client, child, flexible["id"], days_ago(1)).status_code == 201
    report = progress(client, world.therapist, world.case_id, weeks=2)
    assert report["today"] == TODAY.isoformat()
    by_id = {t["taskId"]: t for t in report["tasks"]}
    weeks = lambda t: [(w["weekStart"], w["expected"], w["done"]) for w in t["weeks"]]  # noqa: E731
    assert weeks(by_id[daily["id"]]) == [("2026-10-05", 7, 3), ("2026-10-12", 7, 3)]
    assert weeks(by_id[weekly["id"]]) == [("2026-10-05", 3, 0), ("2026-10-12", 3, 1)]
    assert weeks(by_id[flexible["id"]]) == [("2026-10-05", 2, 0), ("2026-10-12", 2, 1)]
    # the daily task: 12, 13, 14 in a row; the weekly one: Monday done, today not yet
    assert (by_id[daily["id"]]["streak"], by_id[daily["id"]]["streakUnit"]) == (3, "times")
    assert by_id[weekly["id"]]["streak"] == 1
    assert (by_id[flexible["id"]]["streak"], by_id[flexible["id"]]["streakUnit"]) == (0, "weeks")
    assert [(w["expected"], w["done"]) for w in report["weeks"]] == [(12, 3), (12, 5)]
    assert report["streak"] == 3  # days with a tick: 12, 13, 14; the 11th was due and missed
    # guardians see the same numbers
    assert progress(client, world.guardian, world.case_id, weeks=2) == report


def test_weeks_follow_the_helsinki_calendar_across_the_dst_change(
    client: TestClient[Any], world: World
) -> None:
    """Summer time ends on Sunday 25 October 2026 at 04:00 (EEST -> EET)."""
    child = pair_child(client, world)
    set_now(client, at(date(2026, 10, 19)))
    task = assign(client, world, startsOn="2026-10-19")
    # 23:30 on Sunday the 25th in Helsinki is 21:30 UTC: still Sunday, still that week
    late_sunday = at(date(2026, 10, 25), 23, 30)
    set_now(client, late_sunday)
    assert (
        tick(client, child, task["id"], date(2026, 10, 25), client_time=late_sunday).status_code
        == 201
    )
    # 00:30 on Monday the 26th is 22:30 UTC on Sunday: the server's today is Monday
    early_monday = at(date(2026, 10, 26), 0, 30)
    assert early_monday.utcoffset() == timedelta(hours=2)
    assert early_monday.astimezone(HEL).date() == date(2026, 10, 26)
    set_now(client, early_monday)
    assert (
        tick(client, child, task["id"], date(2026, 10, 26), client_time=early_monday).status_code
        == 201
    )
    report = progress(client, world.guardian, world.case_id, weeks=2)
    assert report["today"] == "2026-10-26"
    assert [(w["weekStart"], w["expected"], w["done"]) for w in report["tasks"][0]["weeks"]] == [
        ("2026-10-19", 7, 1),
        ("2026-10-26", 7, 1),
    ]
    assert report["tasks"][0]["streak"] == 2
    # the child's "today" is Monday's too
    assert [t["done"] for t in today(client, child)["tasks"]] == [True]


def test_the_summary_runs_from_the_last_session(client: TestClient[Any], world: World) -> None:
    child = pair_child(client, world)
    set_now(client, at(date(2026, 10, 1)))
    create(client, world.therapist, [world.case_id], startsAt=at(date(2026, 10, 6), 16).isoformat())
    create(
        client, world.therapist, [world.case_id], startsAt=at(date(2026, 10, 20), 16).isoformat()
    )
    set_now(client, NOW)
    task = assign(client, world, startsOn="2026-10-07")
    assert tick(client, child, task["id"], days_ago(1)).status_code == 201
    summary = progress(client, world.therapist, world.case_id)["summary"]
    # from the day after the session of 6 October through today: 8 days, 1 done
    assert (summary["since"], summary["until"]) == ("2026-10-07", TODAY.isoformat())
    assert (summary["expected"], summary["done"]) == (8, 1)
    assert summary["tasks"] == [{"taskId": task["id"], "expected": 8, "done": 1}]


def test_no_tasks_means_zeros(client: TestClient[Any], world: World) -> None:
    report = progress(client, world.therapist, world.case_id, weeks=3)
    assert report["tasks"] == []
    assert [w["weekStart"] for w in report["weeks"]] == ["2026-09-28", "2026-10-05", "2026-10-12"]
    assert report["streak"] == 0
    assert (report["summary"]["expected"], report["summary"]["done"]) == (0, 0)


def test_the_child_today(client: TestClient[Any], world: World) -> None:
    child = pair_child(client, world)
    daily = assign(client, world, tickBy="child")
    not_today = assign(client, world, schedule={"kind": "weekly", "weekdays": [2, 4]})
    flexible = assign(client, world, schedule={"kind": "perWeek", "timesPerWeek": 2})
    paused = assign(client, world)
    client.patch(f"/homework/{paused['id']}", json={"status": "paused"},
                 headers=world.therapist.headers)  # fmt: skip
    once_today = assign(client, world, schedule={"kind": "once"}, startsOn=TODAY.isoformat())
    assert tick(client, child, daily["id"], TODAY).status_code == 201
    assert tick(client, child, flexible["id"], days_ago(1)).status_code == 201
    view = today(client, child)
    assert view["day"] == TODAY.isoformat()
    items = {t["taskId"]: t for t in view["tasks"]}
    assert set(items) == {daily["id"], flexible["id"], once_today["id"]}
    assert not_today["id"] not in items
    assert items[daily["id"]] == {
        "taskId": daily["id"],
        "caseId": str(world.case_id),
        "roomId": daily["roomId"],
        "contentEventId": daily["contentEventId"],
        "done": True,
        "mayTick": True,
    }
    assert (items[flexible["id"]]["weekDone"], items[flexible["id"]]["weekTarget"]) == (1, 2)
    assert items[once_today["id"]]["done"] is False
    # a guardian sees the same tasks, and may not tick the child's own one
    guardian_items = {t["taskId"]: t for t in today(client, world.guardian)["tasks"]}
    assert set(guardian_items) == set(items)
    assert guardian_items[daily["id"]]["mayTick"] is False
    assert guardian_items[flexible["id"]]["mayTick"] is True


def test_who_sees_progress_and_today(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    assign(client, world)
    without = new_caregiver(client, world, ["schedule"], "school@example.fi")
    with_grant = new_caregiver(client, world, ["homework"])
    r = client.get(f"/cases/{world.case_id}/homework/progress", headers=without.headers)
    assert_problem(r, 403, "forbidden")
    assert today(client, without)["tasks"] == []
    assert progress(client, with_grant, world.case_id)["tasks"]
    assert [t["mayTick"] for t in today(client, with_grant)["tasks"]] == [False]
    for who in (other_world.therapist, other_world.guardian):
        r = client.get(f"/cases/{world.case_id}/homework/progress", headers=who.headers)
        assert_problem(r, 404, "case_not_found")
        assert today(client, who)["tasks"] == []
    other_child = pair_child(client, other_world)
    assert today(client, other_child)["tasks"] == []
    assert today(client, world.therapist)["tasks"] == []  # a therapist's view is progress
    for weeks in (0, 27, "x"):
        r = client.get(f"/cases/{world.case_id}/homework/progress?weeks={weeks}",
                       headers=world.therapist.headers)  # fmt: skip
        assert r.status_code == 400 or r.status_code == 422, r.text
    assert_problem(client.get("/me/homework/today"), 401, "unauthenticated")
