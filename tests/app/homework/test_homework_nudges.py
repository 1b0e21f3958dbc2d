"""Homework's notices: the therapist's push about ticks is batched (the live event is
not), and the child's daily reminder comes at the guardian's time, once, only when
something is left to do, never in quiet hours."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from push_service import PushService
from support import assert_problem

from app.config import Settings

from homework_support import (  # isort: skip
    NOW,
    TODAY,
    assign,
    at,
    new_caregiver,
    nudge,
    pair_child,
    set_now,
    settings,
    tick,
)

from notifications_support import of_type, outbox, push, subscribe, wait_until  # isort: skip

__all__ = ["push", "settings"]  # fixtures


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def remind(settings: Settings, when: Any) -> int:
    """A round in which only reminders can be due (the tick digest waits for days)."""
    return nudge(settings, when, digest_minutes=10**6)


def kinds(settings: Settings, user_id: Any) -> list[tuple[str, dict[str, str]]]:
    return [(r.kind, r.ids) for r in outbox(settings, user_id)]


def test_the_therapist_gets_one_push_per_batch_of_ticks(
    client: TestClient[Any], settings: Settings, world: World, push: PushService
) -> None:
    child = pair_child(client, world)
    sub = subscribe(client, world.therapist, push)
    a, b = assign(client, world), assign(client, world)
    assert tick(client, child, a["id"], TODAY).status_code == 201
    assert tick(client, child, b["id"], TODAY).status_code == 201
    assert nudge(settings, NOW + timedelta(minutes=30)) == 0  # the batch is still open
    later = NOW + timedelta(minutes=61)
    set_now(client, later)
    assert nudge(settings, later) == 1
    assert nudge(settings, later) == 0  # never twice
    digest = wait_until(lambda: of_type(push, sub, "homework_ticked"))
    assert digest == [{"type": "homework_ticked",
                       "ids": {"caseId": str(world.case_id), "count": "2"}}]  # fmt: skip
    # an undo and a new tick later make a new batch
    client.delete(f"/homework/{a['id']}/ticks/{TODAY}", headers=child.headers)
    assert tick(client, child, a["id"], TODAY).status_code == 201
    assert nudge(settings, later + timedelta(minutes=30)) == 0
    assert nudge(settings, later + timedelta(minutes=62)) == 1
    assert [k for k, _ in kinds(settings, world.therapist.user_id)] == ["homework_ticked"] * 2
    # the family is not told of its own ticks by push
    assert kinds(settings, world.guardian.user_id) == []


def test_the_daily_reminder(client: TestClient[Any], settings: Settings, world: World) -> None:
    child = pair_child(client, world)
    r = client.put(f"/cases/{world.case_id}/homework/reminder", json={"time": "17:30"},
                   headers=world.guardian.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json() == {"caseId": str(world.case_id), "time": "17:30"}
    r = client.get(f"/cases/{world.case_id}/homework/reminder", headers=child.headers)
    assert r.json()["time"] == "17:30"
    task = assign(client, world)
    assert remind(settings, at(TODAY, 17, 29)) == 0  # not yet
    assert remind(settings, at(TODAY, 17, 31)) == 1
    assert remind(settings, at(TODAY, 18, 0)) == 0  # once a day
    reminded = [r for r in outbox(settings) if r.kind == "homework_reminder"]
    assert reminded == []  # no push subscription: decided, nothing to send
    tomorrow = TODAY + timedelta(days=1)
    assert tick(client, child, task["id"], TODAY).status_code == 201
    set_now(client, at(tomorrow, 9))
    assert tick(client, child, task["id"], tomorrow).status_code == 201
    assert remind(settings, at(tomorrow, 17, 31)) == 0  # all done: no reminder
    # a server that was down all evening does not remind at night
    day_after = tomorrow + timedelta(days=1)
    assert remind(settings, at(day_after, 19, 45)) == 0
    assert remind(settings, at(day_after, 19, 29)) == 1


def test_the_reminder_respects_quiet_hours(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    pair_child(client, world)
    assign(client, world)
    r = client.put(f"/cases/{world.case_id}/quiet-hours", json={"start": "19:00", "end": "07:00"},
                   headers=world.guardian.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    r = client.put(f"/cases/{world.case_id}/homework/reminder", json={"time": "20:15"},
                   headers=world.guardian.headers)  # fmt: skip
    assert_problem(r, 422, "reminder_in_quiet_hours")
    r = client.put(f"/cases/{world.case_id}/homework/reminder", json={"time": "18:30"},
                   headers=world.guardian.headers)  # fmt: skip
    assert r.status_code == 200
    # quiet hours moved later to start at 18:00: the reminder waits for no one, it is skipped
    client.put(f"/cases/{world.case_id}/quiet-hours", json={"start": "18:00", "end": "07:00"},
               headers=world.guardian.headers)  # fmt: skip
    assert remind(settings, at(TODAY, 18, 31)) == 0


def test_who_sets_the_reminder(client: TestClient[Any], world: World, other_world: World) -> None:
    child = pair_child(client, world)
    caregiver = new_caregiver(client, world, ["homework"])
    for who in (child, world.therapist, caregiver):
        r = client.put(f"/cases/{world.case_id}/homework/reminder", json={"time": "17:00"},
                       headers=who.headers)  # fmt: skip
        assert_problem(r, 403, "forbidden")
    r = client.put(f"/cases/{world.case_id}/homework/reminder", json={"time": "17:00"},
                   headers=other_world.guardian.headers)  # fmt: skip
    assert_problem(r, 404, "case_not_found")
    for bad in ("24:00", "7:00", "17.00", 1700):
        r = client.put(f"/cases/{world.case_id}/homework/reminder", json={"time": bad},
                       headers=world.guardian.headers)  # fmt: skip
        assert_problem(r, 422, "validation_error")
    r = client.get(f"/cases/{world.case_id}/homework/reminder", headers=world.guardian.headers)
    assert r.json()["time"] is None
    r = client.put(f"/cases/{world.case_id}/homework/reminder", json={"time": None},
                   headers=world.guardian.headers)  # fmt: skip
    assert r.status_code == 200
    assert r.json()["time"] is None
