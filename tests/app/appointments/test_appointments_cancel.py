"""Cancellations over HTTP: who, before the start only, the late flag at the policy's
boundary, idempotency, group attendance, notes, and who has seen the notice."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from appointments_support import (
    NIL,
    NOW,
    START,
    cancel,
    case_schedule,
    create,
    family_room,
    get,
    new_caregiver,
    new_case,
    one,
    pair_child,
    ref,
    set_now,
)
from conftest import World
from litestar.testing import TestClient
from support import accept_invite, assert_problem


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def test_a_guardian_cancels_and_the_therapist_sees_it(
    client: TestClient[Any], world: World
) -> None:
    a = one(client, world)
    note = ref(client, world.guardian, world.case_id)
    r = cancel(client, world.guardian, a["id"], note=[note])
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["appointmentId"] == a["id"]
    assert c["caseIds"] == [str(world.case_id)]
    assert c["whole"] is True
    assert (c["cancelledBy"], c["cancelledByRole"]) == (str(world.guardian.user_id), "guardian")
    assert (c["reason"], c["late"]) == ("illness", False)
    assert c["note"] == [{**note, "roomId": family_room(world.case_id)}]
    assert c["seenBy"] == []
    after = get(client, world.therapist, a["id"])
    assert after["status"] == "cancelled"
    assert after["cases"][0]["status"] == "cancelled"
    assert after["cases"][0]["cancellationId"] == c["id"]

    # the therapist's device has shown the notice at 08:14
    seen_at = datetime.fromisoformat("2026-10-01T08:14:00+03:00")
    set_now(client, seen_at)
    r = client.post(f"/cancellations/{c['id']}/acks", headers=world.therapist.headers)
    assert r.status_code == 200, r.text
    seen = r.json()["seenBy"]
    assert seen == [
        {
            "userId": str(world.therapist.user_id),
            "displayName": "Terhi",
            "role": "therapist",
            "deviceId": str(world.therapist.device_id),
            "seenAt": "2026-10-01T05:14:00Z",
        }
    ]
    # an ack is idempotent: the first time stands
    set_now(client, seen_at + timedelta(hours=1))
    r = client.post(f"/cancellations/{c['id']}/acks", headers=world.therapist.headers)
    assert r.json()["seenBy"] == seen
    # the other guardian sees it too; the canceller reads who has seen it
    r = client.post(f"/cancellations/{c['id']}/acks", headers=world.guardian2.headers)
    assert [s["role"] for s in r.json()["seenBy"]] == ["therapist", "guardian"]
    r = client.get(f"/cancellations/{c['id']}", headers=world.guardian.headers)
    assert r.status_code == 200, r.text
    assert r.json()["seenBy"][0]["seenAt"] == "2026-10-01T05:14:00Z"
    # the canceller's own ack records nothing
    r = client.post(f"/cancellations/{c['id']}/acks", headers=world.guardian.headers)
    assert len(r.json()["seenBy"]) == 2


def test_a_second_cancel_returns_the_first(client: TestClient[Any], world: World) -> None:
    a = one(client, world)
    first = cancel(client, world.guardian, a["id"])
    assert first.status_code == 201, first.text
    for session, reason in (
        (world.guardian, "family"),
        (world.guardian2, "other"),
        (world.therapist, "therapist_unavailable"),
    ):
        again = cancel(client, session, a["id"], reason=reason)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
    # even after the start, a retry gets the first answer
    set_now(client, START + timedelta(hours=1))
    again = cancel(client, world.guardian, a["id"])
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


def test_therapists_and_admins_cancel(client: TestClient[Any], world: World) -> None:
    for session, role in ((world.therapist, "therapist"), (world.admin, "admin")):
        a = one(client, world)
        r = cancel(client, session, a["id"], reason="therapist_unavailable")
        assert r.status_code == 201, r.text
        assert (r.json()["cancelledByRole"], r.json()["whole"]) == (role, True)
        assert get(client, world.guardian, a["id"])["status"] == "cancelled"


def test_no_cancellation_after_the_start(client: TestClient[Any], world: World) -> None:
    a = one(client, world)
    for when in (START, START + timedelta(seconds=1), START + timedelta(days=1)):
        set_now(client, when)
        assert_problem(cancel(client, world.guardian, a["id"]), 409, "appointment_started")
    assert get(client, world.therapist, a["id"])["status"] == "scheduled"
    set_now(client, START - timedelta(seconds=1))
    r = cancel(client, world.guardian, a["id"])
    assert r.status_code == 201
    assert r.json()["late"] is True


@pytest.mark.parametrize(
    ("seconds", "late"),
    [(-1, False), (0, False), (1, True)],
)
def test_late_flag_at_the_policy_boundary(
    client: TestClient[Any], world: World, seconds: int, late: bool
) -> None:
    r = client.patch("/org/policy", json={"lateCancelHours": 12}, headers=world.admin.headers)
    assert r.status_code == 200, r.text
    a = one(client, world)
    set_now(client, START - timedelta(hours=12) + timedelta(seconds=seconds))
    r = cancel(client, world.guardian, a["id"])
    assert r.status_code == 201, r.text
    assert r.json()["late"] is late


def test_default_window_is_24_hours(client: TestClient[Any], world: World) -> None:
    early, late = one(client, world), one(client, world)
    set_now(client, START - timedelta(hours=24))
    assert cancel(client, world.guardian, early["id"]).json()["late"] is False
    set_now(client, START - timedelta(hours=24) + timedelta(seconds=1))
    assert cancel(client, world.guardian, late["id"]).json()["late"] is True


def test_a_guardian_cancels_only_their_childs_place_in_a_group(
    client: TestClient[Any], world: World
) -> None:
    other = new_case(client, world.therapist, "Aino")
    a = create(client, world.therapist, [world.case_id, other], groupKind="children")[
        "appointments"
    ][0]
    # the family sees only its own case of the group
    mine = get(client, world.guardian, a["id"])
    assert [c["caseId"] for c in mine["cases"]] == [str(world.case_id)]
    r = cancel(client, world.guardian, a["id"], note=[ref(client, world.guardian, world.case_id)])
    assert r.status_code == 201, r.text
    c = r.json()
    assert (c["whole"], c["caseIds"]) == (False, [str(world.case_id)])
    seen_by_therapist = get(client, world.therapist, a["id"])
    assert seen_by_therapist["status"] == "scheduled"
    statuses = {x["caseId"]: x["status"] for x in seen_by_therapist["cases"]}
    assert statuses == {str(world.case_id): "cancelled", str(other): "scheduled"}
    # a note can only be for the family's own case
    a2 = create(client, world.therapist, [world.case_id, other], groupKind="children")[
        "appointments"
    ][0]
    assert_problem(
        cancel(client, world.guardian, a2["id"], note=[ref(client, world.guardian, other)]),
        422,
        "note_case_mismatch",
    )
    # the therapist then cancels the rest: the whole session is cancelled
    r = cancel(client, world.therapist, a["id"], reason="therapist_unavailable")
    assert r.status_code == 201
    assert r.json()["caseIds"] == [str(other)]
    assert get(client, world.therapist, a["id"])["status"] == "cancelled"


# who may


def test_cancelling_needs_a_token(client: TestClient[Any], world: World) -> None:
    a = one(client, world)
    c = cancel(client, world.therapist, one(client, world)["id"]).json()
    assert_problem(
        client.post(f"/appointments/{a['id']}/cancel", json={"reason": "illness"}),
        401,
        "unauthenticated",
    )
    assert_problem(client.get(f"/cancellations/{c['id']}"), 401, "unauthenticated")
    assert_problem(client.post(f"/cancellations/{c['id']}/acks"), 401, "unauthenticated")
    assert get(client, world.therapist, a["id"])["status"] == "scheduled"
    assert (
        client.get(f"/cancellations/{c['id']}", headers=world.therapist.headers).json()["seenBy"]
        == []
    )


def test_children_and_caregivers_do_not_cancel_but_see_the_notice(
    client: TestClient[Any], world: World
) -> None:
    a = one(client, world)
    child = pair_child(client, world)
    carer = new_caregiver(client, world, ["schedule"])
    for session in (child, carer):
        assert_problem(cancel(client, session, a["id"]), 403, "forbidden")
    assert get(client, world.therapist, a["id"])["status"] == "scheduled"
    c = cancel(client, world.therapist, a["id"]).json()
    for session, role in ((child, "child"), (carer, "caregiver")):
        r = client.post(f"/cancellations/{c['id']}/acks", headers=session.headers)
        assert r.status_code == 200, r.text
        assert role in [s["role"] for s in r.json()["seenBy"]]
    # a caregiver without the schedule scope knows nothing of it
    hidden = new_caregiver(client, world, ["homework"], "school@example.fi")
    assert_problem(cancel(client, hidden, a["id"]), 404, "appointment_not_found")
    assert_problem(
        client.get(f"/cancellations/{c['id']}", headers=hidden.headers),
        404,
        "cancellation_not_found",
    )
    assert_problem(
        client.post(f"/cancellations/{c['id']}/acks", headers=hidden.headers),
        404,
        "cancellation_not_found",
    )


def test_a_foreign_appointment_or_notice_is_not_found(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    a = one(client, world)
    c = cancel(client, world.guardian, one(client, world)["id"]).json()
    for session in (other_world.therapist, other_world.guardian, other_world.admin):
        assert_problem(cancel(client, session, a["id"]), 404, "appointment_not_found")
        assert_problem(
            client.get(f"/cancellations/{c['id']}", headers=session.headers),
            404,
            "cancellation_not_found",
        )
        assert_problem(
            client.post(f"/cancellations/{c['id']}/acks", headers=session.headers),
            404,
            "cancellation_not_found",
        )
    assert_problem(cancel(client, world.guardian, NIL), 404, "appointment_not_found")
    assert_problem(
        client.get(f"/cancellations/{NIL}", headers=world.guardian.headers),
        404,
        "cancellation_not_found",
    )
    # another family of a group does not see a guardian's cancellation of their own place
    sibling = new_case(client, world.therapist, "Aino")
    r = client.post(f"/cases/{sibling}/invites", json={}, headers=world.therapist.headers)
    parent = accept_invite(client, r.json()["code"], "aino.parent@example.fi", "P")
    g = create(client, world.therapist, [world.case_id, sibling], groupKind="children")[
        "appointments"
    ][0]
    mine = cancel(client, world.guardian, g["id"]).json()
    assert_problem(
        client.get(f"/cancellations/{mine['id']}", headers=parent.headers),
        404,
        "cancellation_not_found",
    )
    assert get(client, world.therapist, a["id"])["status"] == "scheduled"


def test_bad_cancellations_are_422_and_change_nothing(
    client: TestClient[Any], world: World
) -> None:
    a = one(client, world)
    good = ref(client, world.guardian, world.case_id)
    for payload in (
        {},
        {"reason": "weather"},
        {"reason": None},
        {"reason": "illness", "late": True},
        {"reason": "illness", "note": good},
        {"reason": "illness", "note": [{**good, "eventId": ""}]},
        {"reason": "illness", "note": [{**good, "eventId": "no-dollar"}]},
        {"reason": "illness", "note": [{**good, "caseId": "x"}]},
    ):
        r = client.post(
            f"/appointments/{a['id']}/cancel", json=payload, headers=world.guardian.headers
        )
        assert_problem(r, 422, "validation_error")
    assert_problem(
        cancel(client, world.guardian, a["id"], note=[ref(client, world.guardian2, world.case_id)]),
        422,
        "content_event_invalid",
    )
    assert_problem(
        cancel(client, world.guardian, a["id"], note=[good, good]), 422, "note_case_mismatch"
    )
    after = get(client, world.therapist, a["id"])
    assert after == get(client, world.therapist, a["id"])
    assert after["status"] == "scheduled"
    assert after["cases"][0]["cancellationId"] is None
    assert case_schedule(client, world.guardian, world.case_id)[0]["status"] == "scheduled"
