"""Live events: a cancellation reaches the other members' sockets at once (names and ids
only), and the canceller's device hears when it has been seen."""

from __future__ import annotations

from typing import Any

import pytest
from appointments_support import (
    NOW,
    cancel,
    close,
    connect,
    create,
    new_case,
    next_event,
    no_event,
    one,
    pair_child,
    set_now,
)
from conftest import World
from litestar.testing import TestClient
from support import login


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def test_a_cancellation_reaches_the_therapist_and_the_child_live(
    client: TestClient[Any], world: World
) -> None:
    a = one(client, world)
    child = pair_child(client, world)
    laptop = login(client, "therapist@example.fi", device="laptop")
    sockets = {
        "therapist": connect(client, world.therapist),
        "laptop": connect(client, laptop),
        "guardian2": connect(client, world.guardian2),
        "child": connect(client, child),
        "canceller": connect(client, world.guardian),
    }
    try:
        r = cancel(client, world.guardian, a["id"])
        assert r.status_code == 201, r.text
        c = r.json()
        expected = {
            "type": "event",
            "event": "appointment_cancelled",
            "ids": {
                "appointmentId": a["id"],
                "caseId": str(world.case_id),
                "cancellationId": c["id"],
            },
        }
        for name in ("therapist", "laptop", "guardian2", "child"):
            assert next_event(sockets[name]) == expected, name
        # the cancelling device already knows; an idempotent retry sends nothing new
        no_event(sockets["canceller"])
        assert cancel(client, world.guardian, a["id"]).status_code == 200
        no_event(sockets["therapist"])

        # the therapist's device acknowledges; the canceller's device hears it
        r = client.post(f"/cancellations/{c['id']}/acks", headers=world.therapist.headers)
        assert r.status_code == 200, r.text
        assert next_event(sockets["canceller"]) == {
            "type": "event",
            "event": "cancellation_seen",
            "ids": {"cancellationId": c["id"], "appointmentId": a["id"]},
        }
        # a repeated ack is not announced again
        client.post(f"/cancellations/{c['id']}/acks", headers=world.therapist.headers)
        no_event(sockets["canceller"])
    finally:
        for ws in sockets.values():
            close(ws)


def test_other_families_of_a_group_hear_nothing_of_a_guardians_cancellation(
    client: TestClient[Any], world: World
) -> None:
    other = new_case(client, world.therapist, "Aino")
    g = create(client, world.therapist, [world.case_id, other], groupKind="children")
    a = g["appointments"][0]
    therapist = connect(client, world.therapist)
    guardian2 = connect(client, world.guardian2)
    try:
        c = cancel(client, world.guardian, a["id"]).json()
        assert next_event(therapist)["ids"] == {
            "appointmentId": a["id"],
            "caseId": str(world.case_id),
            "cancellationId": c["id"],
        }
        assert next_event(guardian2)["event"] == "appointment_cancelled"
        # the therapist then cancels the whole: one event for the other case's members
        c2 = cancel(client, world.therapist, a["id"], reason="therapist_unavailable").json()
        no_event(guardian2)  # this family's place was already cancelled
        assert c2["caseIds"] == [str(other)]
    finally:
        close(therapist)
        close(guardian2)


def test_a_new_session_is_announced(client: TestClient[Any], world: World) -> None:
    ws = connect(client, world.guardian)
    try:
        a = one(client, world)
        assert next_event(ws) == {
            "type": "event",
            "event": "appointment_scheduled",
            "ids": {"appointmentId": a["id"], "caseId": str(world.case_id)},
        }
        r = client.patch(
            f"/appointments/{a['id']}",
            json={"startsAt": "2026-10-07T16:00:00+03:00"},
            headers=world.therapist.headers,
        )
        assert r.status_code == 200, r.text
        assert next_event(ws)["event"] == "appointment_rescheduled"
    finally:
        close(ws)
