"""Tasks over HTTP: a therapist sets and edits them, the family reads them; retries,
bad input, wrong roles and foreign cases change nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from support import assert_problem, login

from app.messaging.service import thread_id_of

from homework_support import (  # isort: skip
    MONDAY,
    NOW,
    TODAY,
    assign,
    at,
    room_event,
    content_event,
    homework_room,
    new_caregiver,
    pair_child,
    progress,
    set_now,
    settings,
    task_body,
    tasks_of,
    tick,
)

__all__ = ["settings"]  # fixtures
NIL = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def test_a_therapist_sets_a_task_and_the_family_reads_it(
    client: TestClient[Any], world: World
) -> None:
    child = pair_child(client, world)
    task = assign(client, world, schedule={"kind": "weekly", "weekdays": [3, 1]},
                  endsOn="2026-12-31", tickBy="child")  # fmt: skip
    assert task["schedule"] == {"kind": "weekly", "weekdays": [1, 3]}
    assert task["status"] == "active"
    assert task["contentVersion"] == 1
    assert task["tickBy"] == "child"
    assert task["segments"] == [{"startsOn": MONDAY.isoformat(), "schedule": task["schedule"]}]
    assert task["roomId"] == homework_room(world.case_id)
    assert task["contentEventId"].startswith("$")
    for reader in (world.therapist, world.guardian, world.guardian2, child):
        assert [t["id"] for t in tasks_of(client, reader, world.case_id)] == [task["id"]]
        r = client.get(f"/homework/{task['id']}", headers=reader.headers)
        assert r.status_code == 200
        assert r.json() == task


def test_a_retried_create_returns_the_first_task(client: TestClient[Any], world: World) -> None:
    body = task_body(client, world.case_id, world.therapist)
    first = client.post(f"/cases/{world.case_id}/homework", json=body,
                        headers=world.therapist.headers)  # fmt: skip
    again = client.post(f"/cases/{world.case_id}/homework", json=body,
                        headers=world.therapist.headers)  # fmt: skip
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(tasks_of(client, world.therapist, world.case_id)) == 1


def test_a_task_id_of_another_case_is_refused(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    task = assign(client, world)
    body = task_body(client, other_world.case_id, other_world.therapist, id=task["id"])
    r = client.post(f"/cases/{other_world.case_id}/homework", json=body,
                    headers=other_world.therapist.headers)  # fmt: skip
    assert_problem(r, 409, "task_id_taken")
    assert tasks_of(client, other_world.therapist, other_world.case_id) == []


BAD: list[tuple[dict[str, Any], str]] = [
    ({"schedule": {"kind": "weekly"}}, "schedule_invalid"),
    ({"schedule": {"kind": "weekly", "weekdays": [1, 1]}}, "schedule_invalid"),
    ({"schedule": {"kind": "weekly", "weekdays": [0]}}, "validation_error"),
    ({"schedule": {"kind": "weekly", "weekdays": [8]}}, "validation_error"),
    ({"schedule": {"kind": "perWeek"}}, "schedule_invalid"),
    ({"schedule": {"kind": "perWeek", "timesPerWeek": 8}}, "validation_error"),
    ({"schedule": {"kind": "daily", "timesPerWeek": 2}}, "schedule_invalid"),
    ({"schedule": {"kind": "daily", "weekdays": [1]}}, "schedule_invalid"),
    ({"schedule": {"kind": "monthly"}}, "validation_error"),
    ({"schedule": {"kind": "once"}, "endsOn": "2026-10-20"}, "task_dates_invalid"),
    ({"endsOn": "2026-10-01"}, "task_dates_invalid"),
    ({"endsOn": "2030-01-01"}, "task_too_long"),
    ({"startsOn": "2026-10-06"}, "task_starts_too_early"),
    ({"startsOn": "14.10.2026"}, "validation_error"),
    ({"tickBy": "therapist"}, "validation_error"),
    ({"id": "not-a-uuid"}, "validation_error"),
    ({"status": "active"}, "validation_error"),
    ({"contentEventId": "not an event id"}, "validation_error"),
    ({"contentEventId": "$" + "a" * 255}, "validation_error"),
]


def test_bad_input_is_refused_and_stores_nothing(client: TestClient[Any], world: World) -> None:
    for change, code in BAD:
        r = client.post(
            f"/cases/{world.case_id}/homework",
            json=task_body(client, world.case_id, world.therapist, **change),
            headers=world.therapist.headers,
        )
        assert_problem(r, 422, code)
    assert tasks_of(client, world.therapist, world.case_id) == []


def test_the_content_must_be_an_event_this_device_sent_to_the_homework_room(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    """422 content_event_invalid for an event that is not the calling device's own in
    this case's homework room; nothing is stored, an edit changes nothing."""
    laptop = login(client, "therapist@example.fi", device="laptop")
    family = f"!{thread_id_of(world.case_id, 'family')}:localhost"
    in_family = room_event(client, world.therapist, family).json()["event_id"]
    by_guardian = content_event(client, world.guardian, world.case_id)
    by_laptop = content_event(client, laptop, world.case_id)
    other_case = content_event(client, other_world.therapist, other_world.case_id)
    for event_id in (in_family, by_guardian, by_laptop, other_case, "$" + "n" * 43):
        body = {**task_body(client, world.case_id, world.therapist), "contentEventId": event_id}
        r = client.post(f"/cases/{world.case_id}/homework", json=body,
                        headers=world.therapist.headers)  # fmt: skip
        assert_problem(r, 422, "content_event_invalid")
    assert tasks_of(client, world.therapist, world.case_id) == []
    task = assign(client, world)
    for event_id in (in_family, by_guardian, by_laptop, other_case):
        r = client.patch(f"/homework/{task['id']}", json={"contentEventId": event_id},
                         headers=world.therapist.headers)  # fmt: skip
        assert_problem(r, 422, "content_event_invalid")
    for bad in ("not an event id", "$" + "a" * 255, 7, None):
        r = client.patch(f"/homework/{task['id']}", json={"contentEventId": bad},
                         headers=world.therapist.headers)  # fmt: skip
        assert_problem(r, 422, "validation_error")
    r = client.get(f"/homework/{task['id']}", headers=world.therapist.headers)
    assert r.json() == task


def test_the_homework_room_is_told_to_who_sees_the_homework(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    child = pair_child(client, world)
    with_grant = new_caregiver(client, world, ["homework"])
    without = new_caregiver(client, world, ["schedule"], "school@example.fi")
    path = f"/cases/{world.case_id}/homework/room"
    for who in (world.therapist, world.guardian, child, with_grant):
        r = client.get(path, headers=who.headers)
        assert r.status_code == 200, r.text
        assert r.json() == {"caseId": str(world.case_id), "roomId": homework_room(world.case_id)}
    assert_problem(client.get(path, headers=without.headers), 403, "forbidden")
    for who in (other_world.therapist, other_world.guardian, world.admin):
        assert_problem(client.get(path, headers=who.headers), 404, "case_not_found")
    r = client.get("/cases/not-a-case/homework/room", headers=world.therapist.headers)
    assert r.status_code in (400, 404)


def test_only_a_therapist_of_the_case_sets_and_edits_tasks(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    child = pair_child(client, world)
    caregiver = new_caregiver(client, world, ["homework"])
    for who in (world.guardian, child, caregiver):
        r = client.post(f"/cases/{world.case_id}/homework",
                        json=task_body(client, world.case_id, who),
                        headers=who.headers)  # fmt: skip
        assert_problem(r, 403, "forbidden")
    body = task_body(client, world.case_id, other_world.therapist)
    r = client.post(f"/cases/{world.case_id}/homework", json=body,
                    headers=other_world.therapist.headers)  # fmt: skip
    assert_problem(r, 404, "case_not_found")
    body = task_body(client, world.case_id, world.admin)
    r = client.post(f"/cases/{world.case_id}/homework", json=body,
                    headers=world.admin.headers)  # fmt: skip
    assert_problem(r, 404, "case_not_found")
    assert tasks_of(client, world.therapist, world.case_id) == []

    task = assign(client, world)
    for who, status, code in [
        (world.guardian, 403, "forbidden"),
        (child, 403, "forbidden"),
        (caregiver, 403, "forbidden"),
        (other_world.therapist, 404, "task_not_found"),
        (other_world.guardian, 404, "task_not_found"),
    ]:
        r = client.patch(f"/homework/{task['id']}", json={"status": "paused"}, headers=who.headers)
        assert_problem(r, status, code)
    assert client.get(f"/homework/{task['id']}", headers=world.therapist.headers).json() == task
    r = client.patch(f"/homework/{uuid.uuid4()}", json={"status": "paused"},
                     headers=world.therapist.headers)  # fmt: skip
    assert_problem(r, 404, "task_not_found")


def test_who_reads_tasks(client: TestClient[Any], world: World, other_world: World) -> None:
    task = assign(client, world)
    without = new_caregiver(client, world, ["schedule"], "school@example.fi")
    for who in (without,):
        assert_problem(client.get(f"/cases/{world.case_id}/homework", headers=who.headers),
                       403, "forbidden")  # fmt: skip
        assert_problem(client.get(f"/homework/{task['id']}", headers=who.headers), 403, "forbidden")
    with_grant = new_caregiver(client, world, ["homework"])
    assert [t["id"] for t in tasks_of(client, with_grant, world.case_id)] == [task["id"]]
    for who in (other_world.therapist, other_world.guardian):
        assert_problem(client.get(f"/cases/{world.case_id}/homework", headers=who.headers),
                       404, "case_not_found")  # fmt: skip
        assert_problem(client.get(f"/homework/{task['id']}", headers=who.headers),
                       404, "task_not_found")  # fmt: skip
    assert_problem(client.get(f"/cases/{world.case_id}/homework"), 401, "unauthenticated")


def test_editing_keeps_the_past_and_the_ticks(client: TestClient[Any], world: World) -> None:
    child = pair_child(client, world)
    task = assign(client, world)  # daily from Monday 12 October
    assert tick(client, child, task["id"], MONDAY).status_code == 201
    set_now(client, at(MONDAY.replace(day=21)))  # Wednesday of the next week
    content = content_event(client, world.therapist, world.case_id, b"new instructions")
    r = client.patch(
        f"/homework/{task['id']}",
        json={"contentEventId": content, "schedule": {"kind": "perWeek", "timesPerWeek": 2}},
        headers=world.therapist.headers,
    )
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["contentVersion"] == 2
    assert edited["contentEventId"] == content
    assert edited["schedule"] == {"kind": "perWeek", "timesPerWeek": 2}
    assert [s["startsOn"] for s in edited["segments"]] == ["2026-10-12", "2026-10-21"]
    report = progress(client, world.guardian, world.case_id, weeks=2)
    (weeks,) = [t["weeks"] for t in report["tasks"]]
    # the first week stays daily (7 expected, 1 done); the second: Mon, Tue daily + 2
    assert [(w["expected"], w["done"]) for w in weeks] == [(7, 1), (4, 0)]


def test_pause_resume_finish(client: TestClient[Any], world: World) -> None:
    child = pair_child(client, world)
    task = assign(client, world)
    r = client.patch(f"/homework/{task['id']}", json={"status": "paused"},
                     headers=world.therapist.headers)  # fmt: skip
    assert r.status_code == 200
    assert r.json()["status"] == "paused"
    assert_problem(tick(client, child, task["id"], TODAY), 409, "task_not_active")
    assert tick(client, child, task["id"], MONDAY).status_code == 201  # before the pause
    assert [t["id"] for t in tasks_of(client, child, world.case_id)] == [task["id"]]
    r = client.get(f"/cases/{world.case_id}/homework?status=active", headers=child.headers)
    assert r.json() == []
    set_now(client, at(TODAY.replace(day=16)))
    r = client.patch(f"/homework/{task['id']}", json={"status": "active"},
                     headers=world.therapist.headers)  # fmt: skip
    assert r.json()["status"] == "active"
    assert tick(client, child, task["id"], TODAY.replace(day=16)).status_code == 201
    (week,) = progress(client, world.therapist, world.case_id, weeks=1)["tasks"][0]["weeks"]
    # Monday and Tuesday before the pause, Friday to Sunday after it
    assert (week["expected"], week["done"]) == (5, 2)
    r = client.patch(f"/homework/{task['id']}", json={"status": "finished", "endsOn": None},
                     headers=world.therapist.headers)  # fmt: skip
    assert r.json()["status"] == "finished"
    # finished from today: today is no longer expected, its tick is kept
    (week,) = progress(client, world.therapist, world.case_id, weeks=1)["tasks"][0]["weeks"]
    assert (week["expected"], week["done"]) == (2, 2)
    set_now(client, at(TODAY.replace(day=17)))
    assert_problem(tick(client, child, task["id"], TODAY.replace(day=17)), 409, "task_not_active")
