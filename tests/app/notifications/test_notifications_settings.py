"""Preferences (/me/notification-preferences) and a child's quiet hours
(/cases/{id}/quiet-hours): access, bad input, read-back, and what they do to notices."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from notifications_support import of_type, outbox, push, settings, subscribe, wait_until
from push_service import PushService
from support import assert_problem

from appointments_support import (  # isort: skip
    HEL, NIL, NOW, cancel, new_caregiver, one, pair_child, set_now,
)  # fmt: skip

__all__ = ["push", "settings"]  # fixtures

PREFS = "/me/notification-preferences"


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def test_preferences_default_and_change(client: TestClient[Any], world: World) -> None:
    assert_problem(client.get(PREFS), 401, "unauthenticated")
    assert_problem(client.put(PREFS, json={"channels": {}}), 401, "unauthenticated")
    r = client.get(PREFS, headers=world.guardian.headers)
    assert r.status_code == 200
    defaults = r.json()
    assert defaults["available"] == ["push"]  # no gateway: no e-mail or SMS
    assert defaults["channels"]["appointment_cancelled"] == ["push"]
    assert set(defaults["channels"]) == {
        "message", "appointment_scheduled", "appointment_rescheduled", "appointment_cancelled",
        "cancellation_seen", "session_reminder", "period_sessions_low", "period_ending",
        "homework_assigned", "homework_ticked", "homework_reminder", "document_shared",
        "document_requested", "document_request_closed", "document_request_due",
        "case_handed_over",
    }  # fmt: skip
    for body, code in (
        ({"channels": {"homework_due": ["push"]}}, "validation_error"),
        ({"channels": {"appointment_cancelled": ["fax"]}}, "validation_error"),
        ({"channels": {"appointment_cancelled": ["push"] * 4}}, "validation_error"),
        ({"channels": {"appointment_cancelled": ["email"]}}, "channel_unavailable"),
        ({"channels": {}, "extra": True}, "validation_error"),
    ):
        assert_problem(client.put(PREFS, json=body, headers=world.guardian.headers), 422, code)
    assert client.get(PREFS, headers=world.guardian.headers).json() == defaults
    r = client.put(
        PREFS, json={"channels": {"appointment_scheduled": []}}, headers=world.guardian.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["channels"]["appointment_scheduled"] == []
    assert client.get(PREFS, headers=world.guardian.headers).json() == r.json()
    # another user's preferences are untouched
    assert client.get(PREFS, headers=world.guardian2.headers).json() == defaults


def test_preferences_choose_the_channels(
    client: TestClient[Any], world: World, push: PushService
) -> None:
    sub = subscribe(client, world.guardian2, push)
    r = client.put(
        PREFS, json={"channels": {"appointment_scheduled": []}}, headers=world.guardian2.headers
    )
    assert r.status_code == 200
    a = one(client, world)
    assert cancel(client, world.guardian, a["id"]).status_code == 201
    assert wait_until(lambda: of_type(push, sub, "appointment_cancelled"))
    assert of_type(push, sub, "appointment_scheduled") == []


QUIET = "/cases/{}/quiet-hours"


def test_quiet_hours_access_and_input(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    path = QUIET.format(world.case_id)
    body = {"start": "20:00", "end": "07:00"}
    assert_problem(client.get(path), 401, "unauthenticated")
    assert_problem(client.put(path, json=body), 401, "unauthenticated")
    assert_problem(client.delete(path), 401, "unauthenticated")
    empty = client.get(path, headers=world.guardian.headers).json()
    assert empty == {"caseId": str(world.case_id), "start": None, "end": None,
                     "timeZone": "Europe/Helsinki", "updatedAt": None}  # fmt: skip
    child = pair_child(client, world)
    caregiver = new_caregiver(client, world, ["homework"])
    for who in (world.therapist, child):
        assert_problem(client.put(path, json=body, headers=who.headers), 403, "forbidden")
        assert_problem(client.delete(path, headers=who.headers), 403, "forbidden")
    assert_problem(client.get(path, headers=caregiver.headers), 403, "forbidden")
    for who in (other_world.guardian, other_world.therapist):
        assert_problem(client.put(path, json=body, headers=who.headers), 404, "case_not_found")
        assert_problem(client.get(path, headers=who.headers), 404, "case_not_found")
    r = client.put(QUIET.format(NIL), json=body, headers=world.guardian.headers)
    assert_problem(r, 404, "case_not_found")
    for bad, code in (
        ({"start": "24:00", "end": "07:00"}, "validation_error"),
        ({"start": "8:00", "end": "07:00"}, "validation_error"),
        ({"start": "20:00"}, "validation_error"),
        ({"start": "20:00", "end": "20:00"}, "quiet_hours_empty"),
        ({**body, "zone": "UTC"}, "validation_error"),
    ):
        assert_problem(client.put(path, json=bad, headers=world.guardian.headers), 422, code)
    assert client.get(path, headers=world.guardian.headers).json() == empty

    r = client.put(path, json=body, headers=world.guardian.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["start"], r.json()["end"]) == ("20:00", "07:00")
    for who in (world.guardian2, world.therapist, child):
        assert client.get(path, headers=who.headers).json() == r.json()
    assert client.delete(path, headers=world.guardian2.headers).status_code == 204
    assert client.get(path, headers=world.guardian.headers).json() == empty


def test_a_childs_push_waits_for_the_end_of_quiet_hours(
    client: TestClient[Any], world: World, push: PushService
) -> None:
    a = one(client, world)
    child = pair_child(client, world)
    child_sub = subscribe(client, child, push)
    therapist_sub = subscribe(client, world.therapist, push)
    r = client.put(
        QUIET.format(world.case_id),
        json={"start": "20:00", "end": "07:00"},
        headers=world.guardian.headers,
    )
    assert r.status_code == 200
    evening = datetime(2026, 10, 1, 21, 0, tzinfo=HEL)
    set_now(client, evening)
    assert cancel(client, world.guardian, a["id"]).status_code == 201
    assert wait_until(lambda: of_type(push, therapist_sub, "appointment_cancelled"))
    rows = outbox(client.app.state.runtime.settings, child.user_id)
    assert [r.next_attempt_at for r in rows] == [datetime(2026, 10, 2, 7, 0, tzinfo=HEL)]
    set_now(client, datetime(2026, 10, 2, 6, 59, tzinfo=HEL))
    time.sleep(0.3)  # six rounds of the sender
    assert of_type(push, child_sub, "appointment_cancelled") == []
    set_now(client, datetime(2026, 10, 2, 7, 0, tzinfo=HEL) + timedelta(seconds=1))
    assert wait_until(lambda: of_type(push, child_sub, "appointment_cancelled"))
