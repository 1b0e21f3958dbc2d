"""Therapy-period accounting: sessions used per the org's policy, and booking warnings."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest
from appointments_support import NOW, START, cancel, create, one, period, set_now
from conftest import World
from litestar.testing import TestClient

from app.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The clock leaps ten months here; sign-ins age on the app clock too, and these tests
    are about periods, not about idle sessions."""
    return msgspec.structs.replace(settings, session_idle_days=3650)


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def used(client: TestClient[Any], world: World, period_id: str) -> tuple[int, int]:
    r = client.get(f"/cases/{world.case_id}/periods/{period_id}", headers=world.guardian.headers)
    assert r.status_code == 200, r.text
    return r.json()["sessionsUsed"], r.json()["sessionsRemaining"]


def outcome(client: TestClient[Any], world: World, appointment_id: str, status: str) -> None:
    r = client.post(
        f"/appointments/{appointment_id}/outcome",
        json={"status": status},
        headers=world.therapist.headers,
    )
    assert r.status_code == 200, r.text


def history(client: TestClient[Any], world: World) -> None:
    """One of each: completed, no-show, late cancellation, early cancellation, scheduled."""
    done, absent, late, early, _ = (one(client, world) for _ in range(5))
    set_now(client, START - timedelta(hours=2))
    assert cancel(client, world.guardian, late["id"]).json()["late"] is True
    set_now(client, START - timedelta(days=2))
    assert cancel(client, world.guardian, early["id"]).json()["late"] is False
    set_now(client, START + timedelta(hours=1))
    outcome(client, world, done["id"], "completed")
    outcome(client, world, absent["id"], "no_show")


@pytest.mark.parametrize(
    ("late_counts", "no_show_counts", "expected"),
    [(True, True, 3), (False, True, 2), (True, False, 2), (False, False, 1)],
)
def test_counting_follows_the_policy_for_the_payer(
    client: TestClient[Any], world: World, late_counts: bool, no_show_counts: bool, expected: int
) -> None:
    policy = {
        p: {"lateCancellation": True, "noShow": True}
        for p in ("kela", "municipality", "self", "other")
    }
    policy["municipality"] = {"lateCancellation": late_counts, "noShow": no_show_counts}
    r = client.patch("/org/policy", json={"countingPolicy": policy}, headers=world.admin.headers)
    assert r.status_code == 200, r.text
    kunta = period(client, world, "municipality", 10)
    history(client, world)
    assert used(client, world, kunta["id"]) == (expected, 10 - expected)
    # the same history under a payer that counts everything
    r = client.patch(
        f"/cases/{world.case_id}/periods/{kunta['id']}",
        json={"payer": "kela"},
        headers=world.therapist.headers,
    )
    assert r.json()["sessionsUsed"] == 3


def test_a_cancellation_says_which_periods_it_costs_a_session(
    client: TestClient[Any], world: World
) -> None:
    """countedCaseIds: late, inside a period, and the policy counts it for the payer."""
    policy = {
        p: {"lateCancellation": p == "kela", "noShow": True}
        for p in ("kela", "municipality", "self", "other")
    }
    r = client.patch("/org/policy", json={"countingPolicy": policy}, headers=world.admin.headers)
    assert r.status_code == 200, r.text
    kela = period(client, world, "kela", 10)
    late, early = one(client, world), one(client, world)
    outside = one(client, world, startsAt="2027-08-03T16:00:00+03:00")
    set_now(client, START - timedelta(days=2))
    assert cancel(client, world.guardian, early["id"]).json()["countedCaseIds"] == []
    set_now(client, START - timedelta(hours=2))
    got = cancel(client, world.guardian, late["id"]).json()
    assert (got["late"], got["countedCaseIds"]) == (True, [str(world.case_id)])
    assert used(client, world, kela["id"]) == (1, 9)
    # the therapist reads the same; a day no period covers costs nothing
    r = client.get(f"/cancellations/{got['id']}", headers=world.therapist.headers)
    assert r.json()["countedCaseIds"] == [str(world.case_id)]
    set_now(client, datetime.fromisoformat("2027-08-03T15:00:00+03:00"))
    far = cancel(client, world.guardian, outside["id"]).json()
    assert (far["late"], far["countedCaseIds"]) == (True, [])
    # a payer whose late cancellations do not count
    r = client.patch(
        f"/cases/{world.case_id}/periods/{kela['id']}",
        json={"payer": "municipality"},
        headers=world.therapist.headers,
    )
    assert r.status_code == 200, r.text
    r = client.get(f"/cancellations/{got['id']}", headers=world.therapist.headers)
    assert r.json()["countedCaseIds"] == []


def test_only_sessions_inside_the_period_count(client: TestClient[Any], world: World) -> None:
    p = period(client, world, granted=5)
    set_now(client, START + timedelta(hours=1))
    inside = one(client, world)
    outside = one(client, world, startsAt="2027-08-03T16:00:00+03:00")
    set_now(client, START.replace(year=2027, month=8, day=4))
    outcome(client, world, inside["id"], "completed")
    outcome(client, world, outside["id"], "completed")
    assert used(client, world, p["id"]) == (1, 4)
    # a session at 00:30 Helsinki time on the period's first day counts (22:30 UTC the day before)
    set_now(client, NOW)
    first_day = one(client, world, startsAt="2026-08-01T00:30:00+03:00")
    outcome(client, world, first_day["id"], "completed")
    assert used(client, world, p["id"]) == (2, 3)


def test_booking_past_the_quota_or_the_period_warns(client: TestClient[Any], world: World) -> None:
    p = period(client, world, granted=3)
    created = create(client, world.therapist, [world.case_id], weeklyOccurrences=5)
    ids = [a["id"] for a in created["appointments"]]
    assert len(ids) == 5
    assert created["warnings"] == [
        {
            "code": "period_quota_exceeded",
            "appointmentId": i,
            "caseId": str(world.case_id),
            "periodId": p["id"],
        }
        for i in ids[3:]
    ]
    # the appointments are saved all the same
    r = client.get(f"/cases/{world.case_id}/appointments", headers=world.therapist.headers)
    assert len(r.json()) == 5
    # cancelling one (early: not counted) frees a place
    cancel(client, world.guardian, ids[0])
    again = create(client, world.therapist, [world.case_id])
    assert [w["code"] for w in again["warnings"]] == ["period_quota_exceeded"]
    # outside every period
    late = create(client, world.therapist, [world.case_id], startsAt="2027-08-03T16:00:00+03:00")
    assert late["warnings"] == [
        {
            "code": "outside_period",
            "appointmentId": late["appointments"][0]["id"],
            "caseId": str(world.case_id),
            "periodId": None,
        }
    ]
    # moving it back inside the period warns about the quota instead
    r = client.patch(
        f"/appointments/{late['appointments'][0]['id']}",
        json={"startsAt": "2027-07-27T16:00:00+03:00"},
        headers=world.therapist.headers,
    )
    assert r.status_code == 200, r.text
    assert [w["code"] for w in r.json()["warnings"]] == ["period_quota_exceeded"]
    # and past the period's end it is outside again
    r = client.patch(
        f"/appointments/{late['appointments'][0]['id']}",
        json={"startsAt": "2027-08-01T10:00:00+03:00"},
        headers=world.therapist.headers,
    )
    assert [w["code"] for w in r.json()["warnings"]] == ["outside_period"]


def test_within_the_quota_there_is_no_warning(client: TestClient[Any], world: World) -> None:
    period(client, world, granted=4)
    assert create(client, world.therapist, [world.case_id], weeklyOccurrences=4)["warnings"] == []
