"""A guardian cancels the afternoon session, against a real `kaari serve` process.

The therapist's two devices get `appointment_cancelled` over their WebSockets (the time
is printed; the bound asserted is a generous 5 s), the therapist's device acknowledges
it, the guardian's device sees `cancellation_seen`, the child's device gets the event,
and a device that was offline learns it from the state when it comes back, while a push
notice was queued and delivered for it (to a strict push-service stand-in).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from push_service import PushService
from scenario_people import PASSWORD, device_for, onboard
from servers import KaariServer

from client.api import Api
from client.live import Live

BOUND_SECONDS = 5.0


@pytest.fixture
def push() -> Iterator[PushService]:
    service = PushService()
    yield service
    service.close()


def events(live: Live, name: str) -> list[dict[str, Any]]:
    return [e for e in live.events if e.get("event") == name]


def poll_until(lives: dict[str, Live], name: str, seconds: float) -> dict[str, float]:
    """Poll every socket until each has the event; when each got it (monotonic)."""
    got: dict[str, float] = {}
    deadline = time.monotonic() + seconds
    while len(got) < len(lives) and time.monotonic() < deadline:
        for key, live in lives.items():
            if key not in got:
                live.poll(0.02)
                if events(live, name):
                    got[key] = time.monotonic()
    return got


def test_a_cancellation_reaches_every_device(tmp_path: Path, push: PushService) -> None:
    server = KaariServer(
        {
            "KAARI_DATA_DIR": str(tmp_path / "data"),
            "KAARI_NOTIFY_POLL_SECONDS": "0.2",
            "KAARI_PUSH_ALLOW_LOOPBACK": "true",  # the push-service stand-in
        },
        tmp_path / "server.log",
    )
    people = onboard(server, tmp_path)
    try:
        url = server.url
        laptop = device_for(url, Api(url).login("terhi@example.fi", PASSWORD, "laptop"), tmp_path,
                            "therapist-laptop")  # fmt: skip
        push.expected_key = people.guardian.api.get("/push/vapid-public-key")["publicKey"]
        offline_sub = push.subscribe()
        people.guardian2.api.post("/me/push-subscriptions", offline_sub.as_json())

        starts = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
        created = people.therapist.api.post(
            "/appointments",
            {"caseIds": [people.case_id], "startsAt": starts.isoformat(), "placeKind": "home"},
        )
        appointment_id = created["appointments"][0]["id"]

        lives = {
            "therapist phone": Live(people.therapist),
            "therapist laptop": Live(laptop),
            "guardian": Live(people.guardian),
            "child": Live(people.child),
        }
        for live in lives.values():
            live.connect()
        # guardian2's device is offline: its socket is not open

        began = time.monotonic()
        cancellation = people.guardian.api.post(
            f"/appointments/{appointment_id}/cancel", {"reason": "illness"}
        )
        receivers = {k: v for k, v in lives.items() if k != "guardian"}
        arrived = poll_until(receivers, "appointment_cancelled", BOUND_SECONDS)
        figures = {k: round((t - began) * 1000) for k, t in arrived.items()}
        print(f"\nappointment_cancelled over the WebSocket after (ms): {figures}")
        assert set(arrived) == set(receivers), figures
        assert all(t - began < BOUND_SECONDS for t in arrived.values())
        for key in receivers:
            assert events(lives[key], "appointment_cancelled")[0]["ids"] == {
                "appointmentId": appointment_id,
                "caseId": people.case_id,
                "cancellationId": cancellation["id"],
            }
        assert events(lives["guardian"], "appointment_cancelled") == []  # the canceller's own

        # the therapist's phone shows it and acknowledges; the guardian sees who saw it
        people.therapist.api.post(f"/cancellations/{cancellation['id']}/acks")
        seen = poll_until({"guardian": lives["guardian"]}, "cancellation_seen", BOUND_SECONDS)
        print(
            f"cancellation_seen after the cancel (ms): {round((seen['guardian'] - began) * 1000)}"
        )
        assert events(lives["guardian"], "cancellation_seen")[0]["ids"] == {
            "cancellationId": cancellation["id"],
            "appointmentId": appointment_id,
        }
        notice = people.guardian.api.get(f"/cancellations/{cancellation['id']}")
        assert [(s["role"], s["deviceId"]) for s in notice["seenBy"]] == [
            ("therapist", str(people.therapist.device.device_id))
        ]

        # the offline device: the live event is gone for it, the state and a push are not
        want = {"appointment_scheduled", "appointment_cancelled"}
        deadline = time.monotonic() + BOUND_SECONDS
        while time.monotonic() < deadline:
            if {p["type"] for p in push.for_subscription(offline_sub)} >= want:
                break
            time.sleep(0.05)
        pushed = {p["type"]: p["ids"] for p in push.for_subscription(offline_sub)}
        assert pushed["appointment_cancelled"]["cancellationId"] == cancellation["id"]
        assert set(pushed) == want
        assert push.refused == []
        back = Live(people.guardian2)
        back.connect()
        back.poll(0.5)
        assert events(back, "appointment_cancelled") == []
        schedule = people.guardian2.api.get("/appointments")
        mine = [a for a in schedule if a["id"] == appointment_id]
        assert mine[0]["status"] == "cancelled"
        assert mine[0]["cases"][0]["cancellationId"] == cancellation["id"]
        assert people.guardian2.api.get(f"/cancellations/{cancellation['id']}")["reason"] == (
            "illness"
        )
        for live in [*lives.values(), back]:
            live.close()
    finally:
        server.stop()
