"""A guardian cancels the afternoon session, against a real `kaari serve` process
(SQLite and PostgreSQL), every person on a Matrix device (tests/scenarios/matrix_people.py).

The therapist schedules the session with its details (an encrypted event of the family
room); the guardian's device cancels it with a note (another such event). The
therapist's two devices get `appointment_cancelled` over their WebSockets (the time is
printed; the bound asserted is a generous 5 s), the therapist's device acknowledges it,
the guardian's device sees `cancellation_seen`, the child's device gets the event, and a
device that was offline learns it from the state when it comes back, while a push notice
was queued and delivered for it (to a strict push-service stand-in). The therapist reads
the note and the other guardian the details and the note, decrypted on their devices;
then neither text is found in the database, the blob store or the logs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from matrix_people import LiveEvents, onboard
from push_service import PushService
from servers import scenario_server, stored_bytes

from client.appointments import Appointments

BOUND_SECONDS = 5.0
DETAILS = "Kotikatu 7 A 3, summeri ei toimi: soita 040 123 4567 kun olet pihalla"
NOTE = "Eino oksenteli yöllä, hän jää tänään kotiin lepäämään"


@pytest.fixture
def push() -> Iterator[PushService]:
    service = PushService()
    yield service
    service.close()


def poll_until(lives: dict[str, LiveEvents], name: str, seconds: float) -> dict[str, float]:
    """Poll every socket until each has the event; when each got it (monotonic)."""
    got: dict[str, float] = {}
    deadline = time.monotonic() + seconds
    while len(got) < len(lives) and time.monotonic() < deadline:
        for key, live in lives.items():
            if key not in got:
                live.poll(0.02)
                if live.named(name):
                    got[key] = time.monotonic()
    return got


def test_a_cancellation_reaches_every_device(
    tmp_path: Path, database: str, push: PushService
) -> None:
    server = scenario_server(
        tmp_path,
        database,
        KAARI_NOTIFY_POLL_SECONDS="0.2",
        KAARI_PUSH_ALLOW_LOOPBACK="true",  # the push-service stand-in
    )
    people = onboard(server, tmp_path / "devices")
    case_id = people.case_id
    try:
        laptop = people.login("terhi@example.fi", "therapist-laptop")
        therapist = Appointments(people.open("therapist"), people.therapist.api)
        guardian = Appointments(people.open("anna"), people.guardian.api)
        people.open("mikko").close()  # keys published, then offline until it comes back
        for name in ("tablet", "eino", "therapist-laptop"):
            people.open(name).close()
        push.expected_key = people.guardian.api.get("/push/vapid-public-key")["publicKey"]
        offline_sub = push.subscribe()
        people.guardian2.api.post("/me/push-subscriptions", offline_sub.as_json())

        starts = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
        created = therapist.schedule([case_id], starts.isoformat(), "home",
                                     details={case_id: DETAILS})  # fmt: skip
        appointment_id = created["appointments"][0]["id"]

        lives = {
            "therapist phone": LiveEvents(people.therapist.api),
            "therapist laptop": LiveEvents(laptop.api),
            "guardian": LiveEvents(people.guardian.api),
            "child": LiveEvents(people.child.api),
        }
        for live in lives.values():
            live.connect()
        # guardian2's device is offline: its socket is not open

        began = time.monotonic()
        cancellation = guardian.cancel(appointment_id, "illness", notes={case_id: NOTE})
        receivers = {k: v for k, v in lives.items() if k != "guardian"}
        arrived = poll_until(receivers, "appointment_cancelled", BOUND_SECONDS)
        figures = {k: round((t - began) * 1000) for k, t in arrived.items()}
        print(f"\nappointment_cancelled over the WebSocket after (ms): {figures}")
        assert set(arrived) == set(receivers), figures
        assert all(t - began < BOUND_SECONDS for t in arrived.values())
        for key in receivers:
            assert receivers[key].named("appointment_cancelled")[0]["ids"] == {
                "appointmentId": appointment_id,
                "caseId": case_id,
                "cancellationId": cancellation["id"],
            }
        assert lives["guardian"].named("appointment_cancelled") == []  # the canceller's own

        # the therapist's phone shows it, with the note decrypted, and acknowledges
        notice = therapist.api.get(f"/cancellations/{cancellation['id']}")
        assert therapist.note(notice, case_id).text == NOTE
        therapist.api.post(f"/cancellations/{cancellation['id']}/acks")
        seen = poll_until({"guardian": lives["guardian"]}, "cancellation_seen", BOUND_SECONDS)
        print(
            f"cancellation_seen after the cancel (ms): {round((seen['guardian'] - began) * 1000)}"
        )
        assert lives["guardian"].named("cancellation_seen")[0]["ids"] == {
            "cancellationId": cancellation["id"],
            "appointmentId": appointment_id,
        }
        notice = people.guardian.api.get(f"/cancellations/{cancellation['id']}")
        assert [(s["role"], s["deviceId"]) for s in notice["seenBy"]] == [
            ("therapist", people.therapist.device_id)
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
        back = LiveEvents(people.guardian2.api)
        back.connect()
        back.poll(0.5)
        assert back.named("appointment_cancelled") == []
        mikko = Appointments(people.open("mikko"), people.guardian2.api)
        schedule = mikko.api.get("/appointments")
        (mine,) = [a for a in schedule if a["id"] == appointment_id]
        assert mine["status"] == "cancelled"
        assert mine["cases"][0]["cancellationId"] == cancellation["id"]
        assert mikko.details(mine, case_id).text == DETAILS
        notice = mikko.api.get(f"/cancellations/{cancellation['id']}")
        assert notice["reason"] == "illness"
        assert mikko.note(notice, case_id).text == NOTE
        for live in [*lives.values(), back]:
            live.close()
        for client in (therapist, guardian, mikko):
            client.matrix.close()
    finally:
        server.stop()

    # the privacy test: neither text anywhere the server keeps anything
    everything = stored_bytes(tmp_path, database)
    for text in (DETAILS, NOTE, "Kotikatu", "oksenteli"):
        assert text.encode() not in everything, text
    for secret in people.secrets:
        assert secret.encode() not in everything
