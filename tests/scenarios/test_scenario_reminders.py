"""Reminders are sent exactly once across a restart in the middle of the reminder window.

A real `kaari serve` whose clock starts (KAARI_TEST_CLOCK_START) at 18:30 in Helsinki on
the evening before a session, in a therapy period that ends within 60 days: the family
gets the evening reminder, guardians and the therapist the period reminder. The server
is stopped and started again at 19:30, still in the window; a session added after the
restart gets its reminder (the scheduler runs), and no earlier reminder comes twice —
checked at a strict push-service stand-in and in the reminders_sent table. Every person
is a Matrix device (tests/scenarios/matrix_people.py); the first session's details are an
encrypted event of the family room, which a guardian reads after the restart and which
no push, database file or log holds in the clear.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from matrix_people import onboard
from push_service import PushService, Subscription
from servers import KaariServer, stored_bytes

from client.appointments import Appointments

SESSION = "2026-12-08T16:00:00+02:00"
LATER_SESSION = "2026-12-08T10:00:00+02:00"
FIRST_START = "2026-12-07T18:30:00+02:00"
SECOND_START = "2026-12-07T19:30:00+02:00"
DETAILS = "Tuokaa Einon kumisaappaat, menemme pihalle harjoittelemaan"


@pytest.fixture
def push() -> Iterator[PushService]:
    service = PushService()
    yield service
    service.close()


def wait_for(check: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.1)


def received(push: PushService, sub: Subscription) -> Counter[str]:
    return Counter(json.dumps(p, sort_keys=True) for p in push.for_subscription(sub))


def test_reminders_once_across_a_restart(tmp_path: Path, push: PushService) -> None:
    env = {
        "KAARI_DATA_DIR": str(tmp_path / "data"),
        "KAARI_NOTIFY_POLL_SECONDS": "0.2",
        "KAARI_REMINDER_INTERVAL_SECONDS": "0.2",
        "KAARI_TEST_CLOCK_START": FIRST_START,
        "KAARI_PUSH_ALLOW_LOOPBACK": "true",  # the push-service stand-in
    }
    server = KaariServer(env, tmp_path / "server.log")
    people = onboard(server, tmp_path / "devices")
    try:
        therapist = Appointments(people.open("therapist"), people.therapist.api)
        for name in ("anna", "mikko", "tablet", "eino"):
            people.open(name).close()  # every device has its keys before the session
        push.expected_key = people.guardian.api.get("/push/vapid-public-key")["publicKey"]
        subs = {}
        for name, who in (
            ("guardian", people.guardian),
            ("guardian2", people.guardian2),
            ("therapist", people.therapist),
            ("child", people.child),
        ):
            subs[name] = push.subscribe()
            who.api.post("/me/push-subscriptions", subs[name].as_json())
        period = people.therapist.api.post(
            f"/cases/{people.case_id}/periods",
            {"payer": "kela", "startsOn": "2026-08-01", "endsOn": "2027-01-31",
             "sessionsGranted": 30},
        )  # fmt: skip
        first = therapist.schedule(
            [people.case_id], SESSION, "home", details={people.case_id: DETAILS}
        )["appointments"][0]["id"]

        reminder = {"type": "session_reminder",
                    "ids": {"appointmentId": first, "caseId": people.case_id}}  # fmt: skip
        ending = {"type": "period_ending",
                  "ids": {"periodId": period["id"], "caseId": people.case_id,
                          "requestKind": "therapy_statement"}}  # fmt: skip
        want = {
            "guardian": [reminder, ending],
            "guardian2": [reminder, ending],
            "child": [reminder],
            "therapist": [ending],
        }

        def all_there() -> bool:
            return all(
                all(received(push, subs[n])[json.dumps(p, sort_keys=True)] >= 1 for p in ps)
                for n, ps in want.items()
            )

        wait_for(all_there)
        server.stop()

        server.env["KAARI_TEST_CLOCK_START"] = SECOND_START
        server.start()
        later = therapist.schedule([people.case_id], LATER_SESSION, "office")["appointments"][0][
            "id"
        ]
        # the family reads the first session's details after the restart
        anna = Appointments(people.open("anna"), people.guardian.api)
        shown = anna.details(anna.api.get(f"/appointments/{first}"), people.case_id)
        assert (shown.readable, shown.text) == (True, DETAILS)
        anna.matrix.close()
        later_reminder = {"type": "session_reminder",
                          "ids": {"appointmentId": later, "caseId": people.case_id}}  # fmt: skip
        want["guardian"].append(later_reminder)
        want["guardian2"].append(later_reminder)
        want["child"].append(later_reminder)
        wait_for(all_there)
        time.sleep(2.0)  # ten more scheduler rounds after the restart
        server.stop()

        for name, payloads in want.items():
            got = received(push, subs[name])
            reminders = Counter(
                {k: v for k, v in got.items() if json.loads(k)["type"] != "appointment_scheduled"}
            )
            assert reminders == Counter(json.dumps(p, sort_keys=True) for p in payloads), name
        assert push.refused == []
        for name in subs:
            assert DETAILS not in json.dumps(push.for_subscription(subs[name]))
        everything = stored_bytes(tmp_path, "")
        for text in (DETAILS, "kumisaappaat"):
            assert text.encode() not in everything, text
        therapist.matrix.close()

        db = sqlite3.connect(tmp_path / "data" / "kaari.sqlite3")
        try:
            rows = db.execute(
                "SELECT kind, count(*) FROM reminders_sent GROUP BY kind ORDER BY kind"
            ).fetchall()
        finally:
            db.close()
        # session reminders: two sessions x (two guardians + the child); period: 2 + 1
        assert rows == [("period_ending", 3), ("session_reminder", 6)]
    finally:
        server.stop()
