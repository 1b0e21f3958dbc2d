"""The parent's schedule and "cancel in two taps" in headless Chromium against a real
`kaari serve` (SQLite and PostgreSQL): the therapist's Python reference client
(client/appointments.py) schedules a session with an encrypted address; the parent, on a
phone-sized screen, sees it decrypted, cancels with a note in two taps and marks the sick
day in one; the therapist's client decrypts the note and acknowledges it; the parent's
sheet says who saw it and when at once, brought by the page's socket (no poll). A
session that has started cannot be cancelled (its code in words). Then neither the note
nor the address is anywhere the server keeps anything."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from servers import scenario_server, stored_bytes
from web_browser import Chromium, poll
from web_support import (
    PHONE,
    assert_live,
    choose_language,
    chromium,
    keyed_devices,
    network_mark,
    onboard,
    shot,
    sign_in,
    text_of,
    watch_network,
)

from client.api import Api
from client.appointments import Appointments
from client.matrix import MatrixClient, MatrixHttp

__all__ = ["chromium"]  # a fixture (web_support)

HELSINKI = ZoneInfo("Europe/Helsinki")
SESSION = ".session[data-appointment-id='{}']"


def test_a_parent_sees_the_schedule_and_cancels_in_two_taps(
    tmp_path: Path, database: str, chromium: Chromium
) -> None:
    server = scenario_server(tmp_path, database)
    address = "Koivukuja 7 B 12, ovikoodi 4471"
    note = "Einolla on ollut kuumetta eilisillasta, 38,5"
    therapist_mx: MatrixClient | None = None
    api: Api | None = None
    try:
        people = onboard(server)
        case_id = people["case"]
        anna = people["guardian"]["user"]["matrixUserId"]
        therapist_token = people["therapist"]["token"]
        therapist_mx = MatrixClient.open(
            MatrixHttp.connect(server.url, therapist_token), tmp_path / "terhi", os.urandom(32)
        )
        api = Api(server.url, token=therapist_token)
        terhi = Appointments(therapist_mx, api)
        therapist_mx.sync()
        today = datetime.now(HELSINKI).date()
        period = {
            "payer": "kela",
            "startsOn": (today - timedelta(days=30)).isoformat(),
            "endsOn": (today + timedelta(days=60)).isoformat(),
            "sessionsGranted": 10,
        }
        api.post(f"/cases/{case_id}/periods", period)

        # the parent's device first: the details are encrypted for the devices there are
        page = chromium.page()
        page.viewport(*PHONE)
        page.locale("en-GB")
        watch_network(page)  # its requests and socket frames: the "seen" comes live
        sign_in(page, server.url)
        poll(lambda: keyed_devices(server.url, therapist_token, anna), 30, "the browser's keys")

        day = (datetime.now(HELSINKI) + timedelta(days=3)).date()
        starts = datetime(day.year, day.month, day.day, 14, 0, tzinfo=HELSINKI)
        booked = terhi.schedule([case_id], starts.isoformat(), "home", details={case_id: address})
        (appt,) = booked["appointments"]
        # one that started ten minutes ago: too late to cancel
        started = terhi.schedule(
            [case_id], (datetime.now(UTC) - timedelta(minutes=10)).isoformat(), "office"
        )["appointments"][0]

        # the schedule, from the thread's link: Helsinki time, the place, the address
        page.click("#schedule-link")
        row = SESSION.format(appt["id"])
        page.wait_for(
            f'document.querySelector("{row} .details")?.textContent === {json.dumps(address)}',
            30,
            "the decrypted address",
        )
        assert page.evaluate("location.pathname") == f"/app/cases/{case_id}/appointments"
        assert text_of(page, "h1") == "Eino: sessions"
        assert text_of(page, ".period").endswith("0 used, 10 left of 10")
        assert text_of(page, f"{row} .place") == "At home · Scheduled"
        when = text_of(page, f"{row} .when")
        assert "14:00" in when, when
        assert str(day.day) in when, when
        assert (
            text_of(page, f"{SESSION.format(started['id'])} .place") == "At the clinic · Scheduled"
        )
        # no "Can't come?" on a session that has started
        assert not page.evaluate(
            f'!!document.querySelector("{SESSION.format(started["id"])} .cant-come")'
        )
        for lang in ("fi", "sv", "en"):
            choose_language(page, lang)
            shot(page, f"schedule-{lang}-phone.png")
        assert text_of(page, f"{row} .place") == "At home · Scheduled"

        # tap one: "Can't come?" opens the sheet, illness preselected with the child's name
        page.click(f"{row} .cant-come")
        page.wait_for("!!document.querySelector('#cancel-sheet')", 10, "the cancel sheet")
        assert page.evaluate("location.pathname") == (
            f"/app/cases/{case_id}/appointments/{appt['id']}/cancel"
        )
        assert page.evaluate("document.querySelector('#reason-illness').checked") is True
        assert "Eino is ill" in text_of(page, "#cancel-sheet")
        for lang, ill in (
            ("fi", "Eino on sairaana"),
            ("sv", "Eino är sjuk"),
            ("en", "Eino is ill"),
        ):
            choose_language(page, lang)
            assert ill in text_of(page, "#cancel-sheet")
            shot(page, f"cancel-sheet-{lang}-phone.png")
        # the optional note, then tap two: Send
        page.type("#cancel-note", note)
        page.click("#cancel-send")
        page.wait_for("!!document.querySelector('#cancel-done')", 30, "cancelled")
        assert text_of(page, "#cancel-done") == "Cancelled. The therapist has been told."
        # one more tap: today is a sick day
        page.click("#sick-day")
        page.wait_for("!!document.querySelector('#sick-day-done')", 30, "the sick day")
        assert text_of(page, "#cancel-seen") == "Not seen yet"
        shot(page, "cancel-done-en-phone.png")
        assert today.isoformat() in api.get(f"/cases/{case_id}/homework/sick-days")["days"]

        # the therapist's client reads the cancellation and decrypts the note
        served = api.get(f"/appointments/{appt['id']}")
        (place,) = served["cases"]
        assert place["status"] == "cancelled"
        cancellation = api.get(f"/cancellations/{place['cancellationId']}")
        assert cancellation["reason"] == "illness"
        assert cancellation["cancelledByRole"] == "guardian"
        read = terhi.note(cancellation, case_id)
        assert read.readable, read.problem
        assert read.text == note
        assert read.sender_user_id == people["guardian"]["user"]["id"]
        # and acknowledges it: the parent's open sheet says who saw it and when, at once
        # (the fallback poll, every 45 s, runs only while the socket is down)
        mark = network_mark(page)
        acked = api.post(f"/cancellations/{cancellation['id']}/acks")
        seen_at = datetime.fromisoformat(acked["seenBy"][0]["seenAt"]).astimezone(HELSINKI)
        page.wait_for(
            "document.querySelector('#cancel-seen')?.dataset.seen === 'yes'", 10, "seen, live"
        )
        assert_live(
            page,
            mark,
            f"/cancellations/{cancellation['id']}",
            "cancellation_seen",
            cancellationId=cancellation["id"],
            appointmentId=appt["id"],
        )
        assert text_of(page, "#cancel-seen") == f"Seen by Terhi at {seen_at:%H:%M}"
        shot(page, "cancel-seen-en-phone.png")
        # the schedule under the sheet says the same
        page.click("#cancel-close")
        page.wait_for(
            f"document.querySelector(\"{row}\")?.dataset.status === 'cancelled'", 30, "cancelled"
        )
        assert text_of(page, f"{row} .place") == "At home · Cancelled"
        assert text_of(page, f"{row} .seen") == f"Seen by Terhi at {seen_at:%H:%M}"
        shot(page, "schedule-seen-en-phone.png")
        choose_language(page, "fi")
        assert text_of(page, f"{row} .seen") == f"Terhi näki klo {seen_at:%H.%M}"
        choose_language(page, "en")

        # the push action's link opens the sheet directly; a started session's code in words
        page.goto(f"{server.url}/app/cases/{case_id}/appointments/{started['id']}/cancel")
        page.wait_for("!!document.querySelector('#cancel-sheet')", 60, "the sheet, directly")
        page.click("#cancel-send")
        page.wait_for("!!document.querySelector('#cancel-error')", 30, "the error")
        assert page.evaluate("document.querySelector('#cancel-error').dataset.code") == (
            "appointment_started"
        )
        assert text_of(page, "#cancel-error").startswith("The session has already started")
        choose_language(page, "sv")
        assert text_of(page, "#cancel-error").startswith("Besöket har redan börjat")
        assert api.get(f"/appointments/{started['id']}")["status"] == "scheduled"
    finally:
        if therapist_mx is not None:
            therapist_mx.close()
            therapist_mx.http.close()
        if api is not None:
            api.close()
        server.stop()

    # privacy: the note and the address are nowhere the server keeps anything
    everything = stored_bytes(tmp_path, database)
    for text in (address, note, *people["secrets"]):
        assert text.encode() not in everything, text[:20]
    assert b"kuumetta" not in everything
    assert b"Koivukuja" not in everything
