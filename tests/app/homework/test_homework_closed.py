"""A closed case's homework stays readable until its retention, but takes nothing new:
no task, change, tick, undo or reminder time (409 case_closed), and the child's daily
reminder stops."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from support import assert_problem

from app.config import Settings

from homework_support import (  # isort: skip
    NOW,
    TODAY,
    assign,
    at,
    megolm,
    nudge,
    pair_child,
    set_now,
    settings,
    task_body,
    tick,
)

__all__ = ["settings"]  # fixtures


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def test_a_closed_case_takes_no_new_homework_and_stays_readable(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    child = pair_child(client, world)
    task = assign(client, world)
    assert tick(client, child, task["id"], TODAY).status_code == 201
    r = client.put(f"/cases/{world.case_id}/homework/reminder", json={"time": "17:30"},
                   headers=world.guardian.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    r = client.post(f"/org/cases/{world.case_id}/close", headers=world.admin.headers)
    assert r.status_code == 204, r.text

    t, g = world.therapist.headers, world.guardian.headers
    r = client.post(
        f"/cases/{world.case_id}/homework",
        json=task_body(world.case_id, world.therapist),
        headers=t,
    )
    assert_problem(r, 409, "case_closed")
    content = megolm(world.therapist, world.case_id, b"new content")
    r = client.patch(f"/homework/{task['id']}", json={"content": content}, headers=t)
    assert_problem(r, 409, "case_closed")
    assert_problem(tick(client, world.guardian, task["id"], TODAY - timedelta(days=1)), 409,
                   "case_closed")  # fmt: skip
    assert_problem(client.delete(f"/homework/{task['id']}/ticks/{TODAY}", headers=child.headers),
                   409, "case_closed")  # fmt: skip
    r = client.put(f"/cases/{world.case_id}/homework/reminder", json={"time": None}, headers=g)
    assert_problem(r, 409, "case_closed")
    # the roles still decide first: a therapist cannot tick an open or a closed case
    assert_problem(tick(client, world.therapist, task["id"], TODAY), 403, "not_your_tick")
    # what there is stays readable until the retention deletes it
    assert [x["id"] for x in client.get(f"/cases/{world.case_id}/homework", headers=g).json()] == [
        task["id"]
    ]
    ticks = client.get(f"/homework/{task['id']}/ticks", headers=t)
    assert [x["day"] for x in ticks.json()] == [TODAY.isoformat()]
    r = client.get(f"/cases/{world.case_id}/homework/reminder", headers=g)
    assert r.json()["time"] == "17:30"


def test_the_childs_daily_reminder_stops_when_the_case_closes(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    pair_child(client, world)
    assign(client, world)
    r = client.put(f"/cases/{world.case_id}/homework/reminder", json={"time": "17:30"},
                   headers=world.guardian.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    assert nudge(settings, at(TODAY, 17, 31), digest_minutes=10**6) == 1  # open: reminded
    r = client.post(f"/org/cases/{world.case_id}/close", headers=world.admin.headers)
    assert r.status_code == 204, r.text
    tomorrow = TODAY + timedelta(days=1)
    assert nudge(settings, at(tomorrow, 17, 31), digest_minutes=10**6) == 0
