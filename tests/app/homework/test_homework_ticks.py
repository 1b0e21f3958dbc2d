"""Ticks over HTTP: idempotent, undone on the same day, late offline ticks accepted up to
7 days, future and too-old ones refused; only the child or a guardian, as the task says;
the therapist's devices hear of a tick at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from support import PASSWORD, assert_problem

from homework_support import (  # isort: skip
    MONDAY,
    NOW,
    TODAY,
    assign,
    at,
    content_event,
    days_ago,
    homework_room,
    new_caregiver,
    pair_child,
    set_now,
    settings,
    tick,
)
from appointments_support import close, connect, next_event, no_event  # isort: skip

__all__ = ["settings"]  # fixtures


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def ticks_of(client: TestClient[Any], world: World, task_id: str) -> list[dict[str, Any]]:
    r = client.get(f"/homework/{task_id}/ticks", headers=world.therapist.headers)
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()
    return result


def test_a_tick_is_idempotent_and_carries_its_note(client: TestClient[Any], world: World) -> None:
    child = pair_child(client, world)
    task = assign(client, world)
    note = content_event(client, child, world.case_id, b"note ciphertext")
    first = tick(client, child, task["id"], TODAY, noteEventId=note)
    assert first.status_code == 201, first.text
    again = tick(client, child, task["id"], TODAY, noteEventId=note)
    assert again.status_code == 200
    assert again.json() == first.json()
    body = first.json()
    assert body["day"] == TODAY.isoformat()
    assert body["userId"] == str(child.user_id)
    assert body["deviceId"] == str(child.device_id)
    assert body["noteEventId"] == note
    assert [t["day"] for t in ticks_of(client, world, task["id"])] == [TODAY.isoformat()]


def test_undo_on_the_same_day_only(client: TestClient[Any], world: World) -> None:
    child = pair_child(client, world)
    task = assign(client, world)
    assert tick(client, child, task["id"], TODAY).status_code == 201
    r = client.delete(f"/homework/{task['id']}/ticks/{TODAY}", headers=child.headers)
    assert r.status_code == 204
    assert ticks_of(client, world, task["id"]) == []
    r = client.delete(f"/homework/{task['id']}/ticks/{TODAY}", headers=child.headers)
    assert r.status_code == 204  # a retried undo
    # yesterday's task ticked today (late) can be undone today, but not tomorrow
    assert tick(client, child, task["id"], days_ago(1)).status_code == 201
    set_now(client, NOW.replace(hour=23, minute=59))
    assert client.delete(f"/homework/{task['id']}/ticks/{days_ago(1)}",
                         headers=child.headers).status_code == 204  # fmt: skip
    assert tick(client, child, task["id"], TODAY).status_code == 201
    set_now(client, at(TODAY + timedelta(days=1), 0, 1))
    r = client.delete(f"/homework/{task['id']}/ticks/{TODAY}", headers=child.headers)
    assert_problem(r, 409, "undo_too_late")
    assert [t["day"] for t in ticks_of(client, world, task["id"])] == [TODAY.isoformat()]


def test_offline_ticks_arrive_late_within_seven_days(client: TestClient[Any], world: World) -> None:
    child = pair_child(client, world)
    task = assign(client, world, startsOn=days_ago(7).isoformat())
    # ticked on the tablet three days ago, offline since: accepted now with its own time
    offline = at(days_ago(3), 19, 30)
    r = tick(client, child, task["id"], days_ago(3), client_time=offline)
    assert r.status_code == 201, r.text
    assert r.json()["receivedAt"] > r.json()["clientTime"]
    assert tick(client, child, task["id"], days_ago(7)).status_code == 201
    r = tick(client, child, task["id"], days_ago(8))
    problem = assert_problem(r, 422, "tick_too_old")
    assert "7 days" in problem["detail"]
    assert len(ticks_of(client, world, task["id"])) == 2


def test_future_ticks_are_refused(client: TestClient[Any], world: World) -> None:
    child = pair_child(client, world)
    task = assign(client, world)
    tomorrow = TODAY + timedelta(days=1)
    assert_problem(tick(client, child, task["id"], tomorrow, client_time=NOW), 422,
                   "tick_in_future")  # fmt: skip
    # a clock far ahead of the server's
    assert_problem(tick(client, child, task["id"], tomorrow, client_time=at(tomorrow, 9)), 422,
                   "tick_in_future")  # fmt: skip
    # the day after the device's own date
    assert_problem(tick(client, child, task["id"], TODAY, client_time=at(days_ago(1), 20)), 422,
                   "tick_in_future")  # fmt: skip
    # a device clock a few minutes ahead is tolerated
    ahead = NOW + timedelta(minutes=4)
    assert tick(client, child, task["id"], TODAY, client_time=ahead).status_code == 201
    assert len(ticks_of(client, world, task["id"])) == 1


def test_only_due_active_days_are_ticked(client: TestClient[Any], world: World) -> None:
    child = pair_child(client, world)
    weekly = assign(client, world, schedule={"kind": "weekly", "weekdays": [1, 3]})
    assert tick(client, child, weekly["id"], MONDAY).status_code == 201
    assert tick(client, child, weekly["id"], TODAY).status_code == 201  # Wednesday
    assert_problem(tick(client, child, weekly["id"], days_ago(1)), 409, "task_not_due")  # Tue
    later = assign(client, world, startsOn=(TODAY + timedelta(days=2)).isoformat())
    assert_problem(tick(client, child, later["id"], TODAY), 409, "task_not_active")
    ended = assign(client, world, endsOn=MONDAY.isoformat())
    assert_problem(tick(client, child, ended["id"], TODAY), 409, "task_not_active")
    flexible = assign(client, world, schedule={"kind": "perWeek", "timesPerWeek": 2})
    assert tick(client, child, flexible["id"], days_ago(1)).status_code == 201


def test_who_may_tick(client: TestClient[Any], world: World, other_world: World) -> None:
    child = pair_child(client, world)
    caregiver = new_caregiver(client, world, ["homework"])
    by_child = assign(client, world, tickBy="child")
    by_guardian = assign(client, world, tickBy="guardian")
    both = assign(client, world, tickBy="both")
    assert_problem(tick(client, world.guardian, by_child["id"], TODAY), 403, "not_your_tick")
    assert_problem(tick(client, child, by_guardian["id"], TODAY), 403, "not_your_tick")
    for who in (world.therapist, caregiver):
        assert_problem(tick(client, who, both["id"], TODAY), 403, "not_your_tick")
    # a child of another case cannot even see the task
    other_child = pair_child(client, other_world)
    assert_problem(tick(client, other_child, both["id"], TODAY), 404, "task_not_found")
    assert_problem(tick(client, other_world.guardian, both["id"], TODAY), 404, "task_not_found")
    assert ticks_of(client, world, by_child["id"]) == []
    assert ticks_of(client, world, by_guardian["id"]) == []
    assert ticks_of(client, world, both["id"]) == []
    assert tick(client, child, by_child["id"], TODAY).status_code == 201
    assert tick(client, world.guardian, by_guardian["id"], TODAY).status_code == 201
    assert tick(client, world.guardian2, both["id"], TODAY).status_code == 201
    # undo follows the same rule
    r = client.delete(f"/homework/{by_child['id']}/ticks/{TODAY}", headers=world.guardian.headers)
    assert_problem(r, 403, "not_your_tick")
    r = client.delete(f"/homework/{both['id']}/ticks/{TODAY}", headers=other_child.headers)
    assert_problem(r, 404, "task_not_found")
    assert len(ticks_of(client, world, both["id"])) == 1


def test_bad_tick_input_changes_nothing(client: TestClient[Any], world: World) -> None:
    child = pair_child(client, world)
    task = assign(client, world)
    by_guardian = content_event(client, world.guardian, world.case_id)
    for body, code in [
        ({"clientTime": "2026-10-14T08:00:00"}, "validation_error"),  # no offset
        ({}, "validation_error"),
        ({"clientTime": NOW.isoformat(), "noteEventId": "not an id"}, "validation_error"),
        ({"clientTime": NOW.isoformat(), "note": "a plain note"}, "validation_error"),
        ({"clientTime": NOW.isoformat(), "noteEventId": by_guardian}, "content_event_invalid"),
        ({"clientTime": NOW.isoformat(), "noteEventId": task["contentEventId"]},
         "content_event_invalid"),
        ({"clientTime": NOW.isoformat(), "noteEventId": "$" + "n" * 43},
         "content_event_invalid"),
    ]:  # fmt: skip
        r = client.put(f"/homework/{task['id']}/ticks/{TODAY}", json=body, headers=child.headers)
        assert_problem(r, 422, code)
    r = client.put(f"/homework/{task['id']}/ticks/14.10.2026",
                   json={"clientTime": NOW.isoformat()}, headers=child.headers)  # fmt: skip
    assert r.status_code in (400, 404, 422)
    assert ticks_of(client, world, task["id"]) == []


def test_the_family_and_therapist_hear_of_a_tick_at_once(
    client: TestClient[Any], world: World
) -> None:
    child = pair_child(client, world)
    task = assign(client, world)
    therapist_ws = connect(client, world.therapist)
    child_ws = connect(client, child)
    try:
        assert tick(client, child, task["id"], TODAY).status_code == 201
        event = next_event(therapist_ws)
        assert event["event"] == "homework_ticked"
        assert event["ids"] == {"taskId": task["id"], "caseId": str(world.case_id),
                                "day": TODAY.isoformat()}  # fmt: skip
        no_event(child_ws)  # not to the device that ticked
        assert tick(client, child, task["id"], TODAY).status_code == 200
        no_event(therapist_ws)  # a retry is not news
        r = client.delete(f"/homework/{task['id']}/ticks/{TODAY}", headers=child.headers)
        assert r.status_code == 204
        assert next_event(therapist_ws)["event"] == "homework_unticked"
    finally:
        close(therapist_ws)
        close(child_ws)


def test_a_new_task_reaches_the_family_devices(client: TestClient[Any], world: World) -> None:
    child = pair_child(client, world)
    guardian_ws = connect(client, world.guardian)
    child_ws = connect(client, child)
    try:
        task = assign(client, world)
        for ws in (guardian_ws, child_ws):
            event = next_event(ws)
            assert event["event"] == "homework_assigned"
            assert event["ids"] == {"taskId": task["id"], "caseId": str(world.case_id)}
    finally:
        close(guardian_ws)
        close(child_ws)


def test_who_reads_ticks(client: TestClient[Any], world: World, other_world: World) -> None:
    child = pair_child(client, world)
    task = assign(client, world)
    assert tick(client, child, task["id"], TODAY).status_code == 201
    url = f"/homework/{task['id']}/ticks"
    for who in (world.guardian, child, new_caregiver(client, world, ["homework"])):
        r = client.get(url, headers=who.headers)
        assert r.status_code == 200
        assert [t["day"] for t in r.json()] == [TODAY.isoformat()]
    without = new_caregiver(client, world, ["schedule"], "school@example.fi")
    assert_problem(client.get(url, headers=without.headers), 403, "forbidden")
    for who in (other_world.therapist, other_world.guardian):
        assert_problem(client.get(url, headers=who.headers), 404, "task_not_found")
    r = client.get(f"{url}?from={MONDAY}&to={days_ago(1)}", headers=world.therapist.headers)
    assert r.json() == []
    r = client.get(f"{url}?from=yesterday", headers=world.therapist.headers)
    assert r.status_code in (400, 422)


def test_an_erased_guardians_tick_stays_without_its_note(
    client: TestClient[Any], world: World
) -> None:
    """GDPR erasure (DELETE /me): the tick counts in the child's progress, the note event
    is gone and the tick no longer points at it."""
    task = assign(client, world)
    note = content_event(client, world.guardian2, world.case_id, b"note ciphertext")
    assert tick(client, world.guardian2, task["id"], TODAY, noteEventId=note).status_code == 201
    r = client.request(
        "DELETE", "/me", json={"password": PASSWORD}, headers=world.guardian2.headers
    )
    assert r.status_code in (200, 202, 204), r.text
    (kept,) = ticks_of(client, world, task["id"])
    assert (kept["userId"], kept["noteEventId"]) == (str(world.guardian2.user_id), None)
    room = homework_room(world.case_id)
    r = client.get(f"/_matrix/client/v3/rooms/{room}/event/{note}", headers=world.therapist.headers)
    assert r.status_code == 404
