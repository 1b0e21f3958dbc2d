"""The therapist's side of the web app in headless Chromium at laptop size (1280x800)
against a real `kaari serve` (SQLite and PostgreSQL): the caseload with two cases (the
period highlight: time to book the doctor's visit; a guardian's open document request;
the search over the child's name, client-side; unread counts, counted in the browser's
crypto worker from the decrypted timeline: the guardian's messages while the therapist
is away and live, a read receipt from the therapist's other device, gone once the thread
is opened), the family thread both ways with the guardian's Python reference client,
and the schedule: a session booked in the week view with an encrypted address that the
guardian's client decrypts (client/appointments.py), the guardian's cancellation
appearing without a reload, a started session marked completed. Then neither the
address nor the messages are anywhere the server keeps anything."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from servers import scenario_server, stored_bytes
from web_browser import Chromium, Page, poll
from web_support import (
    PASSWORD,
    assert_accessible,
    assert_live,
    assert_reflows,
    choose_language,
    chromium,
    network_mark,
    onboard,
    requests_to,
    shot,
    text_of,
    watch_network,
)

from client.api import Api
from client.appointments import Appointments
from client.homework import Homework, Schedule
from client.matrix import MatrixClient, MatrixHttp

__all__ = ["chromium"]  # a fixture (web_support)

HELSINKI = ZoneInfo("Europe/Helsinki")
DESKTOP = (1280, 800)
TABLET = (820, 1180)
SESSION = ".th-session[data-appointment-id='{}']"
ALL = "[...document.querySelectorAll"
RANGE = "/appointments?from="  # the schedule's range, as the page asks for it


def set_value(page: Page, selector: str, value: str, event: str = "input") -> None:
    """A form control's value as the user would leave it (datetime-local, select)."""
    page.evaluate(
        f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
        " const proto = Object.getPrototypeOf(e);"
        f" Object.getOwnPropertyDescriptor(proto, 'value').set.call(e, {json.dumps(value)});"
        f" e.dispatchEvent(new Event({json.dumps(event)}, {{bubbles: true}})); }})()"
    )


def card(case_id: str) -> str:
    return f".case-card[data-case='{case_id}']"


def test_a_therapist_runs_the_caseload_messages_and_schedule(
    tmp_path: Path, database: str, chromium: Chromium
) -> None:
    server = scenario_server(tmp_path, database)
    address = "Pihlajatie 14 A 3, summeri Virtanen"
    to_family = "Hei Anna, torstain käynti on kotona kello 10."
    from_family = "Kiitos Terhi, Eino odottaa jo innolla!"
    unread_texts = ("Eino nukkui huonosti viime yönä.", "Voisimmeko puhua siitä torstaina?")
    anna_mx: MatrixClient | None = None
    terhi_mx: MatrixClient | None = None
    apis: list[Api] = []
    try:
        people = onboard(server)
        eino = people["case"]
        room = people["room"]
        therapist_token = people["therapist"]["token"]
        guardian_token = people["guardian"]["token"]
        terhi_id = people["therapist"]["user"]["matrixUserId"]
        terhi_api = Api(server.url, token=therapist_token)
        anna_api = Api(server.url, token=guardian_token)
        apis += [terhi_api, anna_api]
        # a second case, over HTTP
        aino = terhi_api.post("/cases", {"childDisplayName": "Aino"})["id"]
        today = datetime.now(HELSINKI).date()
        # Eino's period ends in 40 days: the doctor's visit is due; Aino's in 200
        for case_id, ends, granted in ((eino, 40, 20), (aino, 200, 15)):
            period = {
                "payer": "kela",
                "startsOn": (today - timedelta(days=100)).isoformat(),
                "endsOn": (today + timedelta(days=ends)).isoformat(),
                "sessionsGranted": granted,
            }
            terhi_api.post(f"/cases/{case_id}/periods", period)
        # the guardian asks for the therapy plan by a day
        needed_by = today + timedelta(days=21)
        asked = anna_api.post(
            f"/cases/{eino}/document-requests",
            {"kind": "therapy_plan", "neededBy": needed_by.isoformat()},
        )
        # the guardian's reference client: its device keyed before the browser sends
        anna_mx = MatrixClient.open(
            MatrixHttp.connect(server.url, guardian_token), tmp_path / "anna", os.urandom(32)
        )
        anna_mx.sync()
        anna = Appointments(anna_mx, anna_api)
        # a session that started ten minutes ago, from the therapist's other device (the
        # API): the browser marks it completed
        started = terhi_api.post(
            "/appointments",
            {
                "caseIds": [aino],
                "startsAt": (datetime.now(UTC) - timedelta(minutes=10)).isoformat(),
                "placeKind": "office",
            },
        )["appointments"][0]

        # Eino's next session, in two days at school
        soon = today + timedelta(days=2)
        terhi_api.post(
            "/appointments",
            {
                "caseIds": [eino],
                "startsAt": datetime(
                    soon.year, soon.month, soon.day, 14, 0, tzinfo=HELSINKI
                ).isoformat(),
                "placeKind": "school",
            },
        )

        # homework: the therapist's other device (the Python client) sets a task three
        # times a week, the guardian's client ticks today
        terhi_mx = MatrixClient.open(
            MatrixHttp.connect(server.url, therapist_token), tmp_path / "terhi", os.urandom(32)
        )
        terhi_mx.sync()
        socks = Homework(terhi_mx, terhi_api).assign(
            eino, "Sukat jalkaan itse", schedule=Schedule.per_week(3), starts_on=today
        )
        Homework(anna_mx, anna_api).tick(socks.id)
        (week,) = terhi_api.get(f"/cases/{eino}/homework/progress", weeks=1)["weeks"]
        assert week["done"] == 1

        # sign in at laptop size: the caseload is the therapist's home
        page = chromium.page()
        page.viewport(*DESKTOP)
        page.locale("en-GB")
        page.goto(f"{server.url}/app/")
        page.wait_for("!!document.querySelector('#email')", what="the sign-in form")
        page.type("#email", "terhi@example.fi")
        page.type("#password", PASSWORD)
        page.click("#signin")
        page.wait_for(
            f"document.querySelectorAll('.case-card').length === 2"
            f' && !!document.querySelector("{card(eino)} .request")',
            60,
            "the caseload",
        )
        assert page.evaluate("location.pathname") == "/app/"
        assert text_of(page, "h1") == "Caseload"
        assert page.evaluate(f"{ALL}('.case-card h2')].map(e => e.textContent)") == [
            "Aino",
            "Eino",
        ]
        end = today + timedelta(days=40)
        assert page.evaluate(
            f"document.querySelector(\"{card(eino)}\").classList.contains('book-doctor')"
        )
        assert not page.evaluate(
            f"document.querySelector(\"{card(aino)}\").classList.contains('book-doctor')"
        )
        assert text_of(page, f"{card(eino)} .doctor") in {
            f"Time to book the doctor's visit: the period ends {d}." for d in gb(end)
        }
        assert text_of(page, f"{card(eino)} .used").startswith("0 / 20, period ends")
        assert text_of(page, f"{card(eino)} .request") in {
            f"Therapy plan by {d}" for d in gb(needed_by)
        }
        assert (
            page.evaluate(f'document.querySelector("{card(eino)} .request").dataset.request')
            == asked["id"]
        )
        assert text_of(page, f"{card(aino)} .requests") == "None open"
        next_text = text_of(page, f"{card(eino)} .next")
        assert "14:00" in next_text, next_text
        assert next_text.endswith("At school"), next_text
        assert text_of(page, f"{card(aino)} .next") == "No session booked"
        assert text_of(page, f"{card(eino)} .homework") == f"1 / {week['expected']} done"
        assert text_of(page, f"{card(aino)} .homework") == "No homework"
        # unread counts, counted in the crypto worker from the decrypted history (the
        # server never learns what was read): nothing yet, no badge
        counted = " && ".join(
            f"document.querySelector(\"{card(c)} .{kind}-link\")?.dataset.unread === '0'"
            for c in (eino, aino)
            for kind in ("family", "child")
        )
        page.wait_for(counted, 60, "every thread counted")
        assert page.evaluate("document.querySelectorAll('.unread-badge').length") == 0
        # the guardian writes: one unread message on Eino's family thread, live
        first_unread = anna_mx.send_text(room, unread_texts[0])
        badge = f"{card(eino)} .family-link .unread-badge"
        page.wait_for(unread_is(eino, "1"), 30, "one unread message, live")
        assert text_of(page, badge) == "1"
        assert page.evaluate("document.querySelectorAll('.unread-badge').length") == 1
        one = {"fi": "1 lukematon viesti", "sv": "1 oläst meddelande", "en": "1 unread message"}
        for lang in ("fi", "sv", "en"):
            choose_language(page, lang)
            assert aria_label(page, badge) == one[lang]
            shot(page, f"caseload-{lang}-desktop.png")
        assert_accessible(page, "the caseload")
        assert_reflows(page, "the caseload", DESKTOP)
        page.viewport(*TABLET)
        shot(page, "caseload-en-tablet.png")
        page.viewport(*DESKTOP)

        # a second message
        anna_mx.send_text(room, unread_texts[1])
        page.wait_for(unread_is(eino, "2"), 30, "two unread messages, live")
        assert text_of(page, badge) == "2"
        assert aria_label(page, badge) == "2 unread messages"
        assert page.evaluate("document.querySelectorAll('.unread-badge').length") == 1
        # the therapist's other device (the Python client) has read the first: the
        # browser's count follows the user's own receipt, from whichever device
        terhi_mx.sync()
        terhi_mx.send_read_receipt(room, first_unread)
        page.wait_for(unread_is(eino, "1"), 30, "the other device's receipt")

        # the search narrows the list in the browser
        set_value(page, "#case-filter", "ein")
        page.wait_for("document.querySelectorAll('.case-card').length === 1", 10, "filtered")
        assert text_of(page, ".case-card h2") == "Eino"
        set_value(page, "#case-filter", "xyz")
        page.wait_for("!!document.querySelector('#no-match')", 10, "no match")
        set_value(page, "#case-filter", "")
        page.wait_for("document.querySelectorAll('.case-card').length === 2", 10, "all again")

        # the family thread, both ways with the guardian's reference client
        page.click(f"{card(eino)} .family-link")
        page.wait_for("!!document.querySelector('#composer')", 30, "the family thread")
        assert page.evaluate("location.pathname") == f"/app/cases/{eino}/family"
        # the unread messages are shown (the thread in view: read)
        for text in unread_texts:
            page.wait_for(
                f"{ALL}('.msg.theirs .body')].some(e => e.textContent === {json.dumps(text)})",
                60,
                "an unread message",
            )
        from_family_id = anna_mx.send_text(room, from_family)
        page.wait_for(
            f"{ALL}('.msg.theirs .body')].some(e => e.textContent === {json.dumps(from_family)})",
            60,
            "the guardian's message",
        )
        page.type("#composer", to_family)
        page.click("#send")
        got: list[dict[str, Any]] = []

        def reply_arrived() -> bool:
            assert anna_mx is not None
            got.extend(anna_mx.sync(timeout_ms=1000).messages)
            return to_family in {m["content"].get("body") for m in got}

        poll(reply_arrived, 30, "the therapist's message at the guardian's client")
        (mine,) = [m for m in got if m["content"].get("body") == to_family]
        assert mine["sender"] == terhi_id

        # the open thread told the room, encrypted, that the therapist read the guardian's
        # newest message: the guardian's client decrypts the receipt
        def therapist_read() -> bool:
            assert anna_mx is not None
            anna_mx.sync(timeout_ms=500)
            return anna_mx.read_receipts(room).get(terhi_id, {}).get("event_id") == from_family_id

        poll(therapist_read, 30, "the therapist's receipt at the guardian's client")
        # back to the caseload: nothing unread any more (the receipt counted), and the
        # child thread opens too
        page.click(".back")
        page.wait_for("document.querySelectorAll('.case-card').length === 2", 30, "the caseload")
        page.wait_for(unread_is(eino, "0"), 30, "all read")
        assert page.evaluate("document.querySelectorAll('.unread-badge').length") == 0
        page.click(f"{card(eino)} .child-link")
        page.wait_for("!!document.querySelector('#composer')", 30, "the child thread")
        assert page.evaluate("location.pathname") == f"/app/cases/{eino}/child"
        page.wait_for(
            "document.querySelector('h1').textContent === 'Messages with Eino'", 30, "its title"
        )

        # the schedule: the started session, marked completed; its page's requests and
        # socket frames recorded (the live events below are proven to come by the socket)
        watch_network(page)
        page.goto(f"{server.url}/app/schedule")
        row = SESSION.format(started["id"])
        page.wait_for(f'!!document.querySelector("{row} .mark-completed")', 60, "the schedule")
        assert text_of(page, f"{row} .who") == "Aino"
        assert text_of(page, f"{row} .what") == "At the clinic · Scheduled"
        page.click(f"{row} .mark-completed")
        page.wait_for(
            f"document.querySelector(\"{row}\")?.dataset.status === 'completed'", 30, "completed"
        )
        assert api_status(terhi_api, started["id"]) == "completed"

        # book tomorrow's session at Eino's home, the address encrypted
        tomorrow = today + timedelta(days=1)
        if tomorrow.isocalendar()[1] != today.isocalendar()[1]:
            page.click("#next")
        # a start the server refuses: its code in words
        set_value(page, "#new-start", "2101-01-01T10:00")
        page.click("#new-submit")
        page.wait_for("!!document.querySelector('#new-error')", 30, "the refusal")
        assert page.evaluate("document.querySelector('#new-error').dataset.code") == (
            "starts_at_out_of_range"
        )
        assert text_of(page, "#new-error") == "Check the start time."
        set_value(page, "#new-case", eino, "change")
        set_value(page, "#new-start", f"{tomorrow.isoformat()}T10:00")
        set_value(page, "#new-place", "home", "change")
        page.type("#new-details", address)
        page.click("#new-submit")
        page.wait_for("!!document.querySelector('#new-done')", 30, "booked")
        starts = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 10, 0, tzinfo=HELSINKI)
        (booked,) = [
            a
            for a in terhi_api.get(f"/cases/{eino}/appointments")
            if datetime.fromisoformat(a["startsAt"]) == starts
        ]
        row = SESSION.format(booked["id"])
        page.wait_for(f'!!document.querySelector("{row}")', 30, "the booked session")
        assert text_of(page, f"{row} .who") == "Eino"
        assert text_of(page, f"{row} .what") == "At home · Scheduled"
        assert "10:00" in text_of(page, f"{row} .time")
        # the guardian's client decrypts the address
        read = anna.details(anna_api.get(f"/appointments/{booked['id']}"), eino)
        assert read.readable, read.problem
        assert read.text == address
        for lang in ("fi", "sv", "en"):
            choose_language(page, lang)
            page.evaluate("document.activeElement.blur(); scrollTo(0, 0)")
            shot(page, f"therapist-week-{lang}-desktop.png")
        assert_accessible(page, "the week")
        assert_reflows(page, "the week", DESKTOP)
        page.viewport(*TABLET)
        shot(page, "therapist-week-en-tablet.png")
        page.viewport(*DESKTOP)

        # the guardian cancels late (within a day) from the Python client: it shows live,
        # because the page's socket said so (the fallback poll runs only while it is down,
        # every 45 s: these waits are far shorter, and no range is asked before the frame)
        page.wait_for(
            "document.querySelector('#live-state')?.dataset.live === 'open'", 30, "the socket"
        )
        assert text_of(page, "#live-state") == "Changes appear here as they happen."
        late_day = (datetime.now(UTC) + timedelta(hours=3)).astimezone(HELSINKI).date()
        if late_day.isocalendar()[1] != tomorrow.isocalendar()[1]:
            page.click("#today")  # the week on screen is the next one
            page.wait_for(
                f'!!document.querySelector("{SESSION.format(started["id"])}")', 30, "this week"
            )
        mark = network_mark(page)
        late = terhi_api.post(
            "/appointments",
            {
                "caseIds": [eino],
                "startsAt": (datetime.now(UTC) + timedelta(hours=3)).isoformat(),
                "placeKind": "video",
            },
        )["appointments"][0]
        late_row = SESSION.format(late["id"])
        page.wait_for(f'!!document.querySelector("{late_row}")', 10, "the new session, live")
        assert_live(page, mark, RANGE, "appointment_scheduled", appointmentId=late["id"])
        mark = network_mark(page)
        cancelled = anna.cancel(late["id"], "illness")
        page.wait_for(
            f"document.querySelector(\"{late_row}\")?.dataset.status === 'cancelled'"
            f" && document.querySelector(\"{late_row}\")?.dataset.late === 'yes'"
            f' && !!document.querySelector("{late_row} .period-cost")',
            10,
            "the cancellation, live",
        )
        assert_live(
            page, mark, RANGE, "appointment_cancelled", appointmentId=late["id"], caseId=eino
        )
        assert "late cancellation" in text_of(page, f"{late_row} .what")
        (period,) = terhi_api.get(f"/cases/{eino}/periods")
        assert text_of(page, f"{late_row} .period-cost") == (
            f"Period: {period['sessionsUsed']} of 20 used, {period['sessionsRemaining']} left"
        )
        # one tap: the therapist has seen it; the guardian's side is told
        assert text_of(page, f"{late_row} .ack") == "Mark as seen"
        assert_accessible(page, "the week with a cancellation")
        page.click(f"{late_row} .ack")
        page.wait_for(f"document.querySelector(\"{late_row}\")?.dataset.seen === 'yes'", 30, "seen")
        notice = anna_api.get(f"/cancellations/{cancelled['id']}")
        (seen,) = notice["seenBy"]
        assert seen["role"] == "therapist"
        assert seen["userId"] == people["therapist"]["user"]["id"]
        seen_at = datetime.fromisoformat(seen["seenAt"]).astimezone(HELSINKI)
        assert text_of(page, f"{late_row} .seen") == f"You saw it at {seen_at:%H:%M}"
        for lang in ("fi", "sv", "en"):
            choose_language(page, lang)
            page.evaluate("document.activeElement.blur(); scrollTo(0, 0)")
            shot(page, f"therapist-week-cancelled-{lang}-desktop.png")
        choose_language(page, "sv")
        assert text_of(page, f"{late_row} .seen") == f"Du såg den kl. {seen_at:%H.%M}"
        choose_language(page, "en")

        # the socket drops and no ticket can be had: the page says so; once tickets come
        # again it reconnects by itself and reads the range again (events may have been
        # missed meanwhile: the server keeps none to resume from)
        mark = network_mark(page)
        page.call("Network.setBlockedURLs", urls=["*/ws/ticket"])
        closed = close_sockets(page)
        assert closed >= 1, closed
        page.wait_for("document.querySelector('#live-state')?.dataset.live === 'down'", 10, "down")
        assert text_of(page, "#live-state").startswith("Reconnecting…")
        choose_language(page, "fi")
        assert text_of(page, "#live-state").startswith("Yhdistetään uudelleen…")
        choose_language(page, "en")
        page.call("Network.setBlockedURLs", urls=[])
        page.wait_for(
            "document.querySelector('#live-state')?.dataset.live === 'open'", 40, "reconnected"
        )
        hello = [
            float(m["params"]["timestamp"])
            for m in page.network_events[mark:]
            if m["method"] == "Network.webSocketFrameReceived"
            and '"hello"' in m["params"]["response"]["payloadData"]
        ]
        assert hello, "no hello on a new socket"
        poll(
            lambda: (
                network_mark(page) and [t for t in requests_to(page, mark, RANGE) if t > hello[0]]
            ),
            10,
            "the range read again after the new hello",
        )

        # the day view of today: the completed session
        page.click("#today")
        page.click("#view-day")
        page.wait_for("document.querySelectorAll('.th-day').length === 1", 10, "the day view")
        done_row = SESSION.format(started["id"])
        page.wait_for(f'!!document.querySelector("{done_row}")', 30, "today's session")
        assert text_of(page, f"{done_row} .what") == "At the clinic · Done"
        shot(page, "therapist-day-en-desktop.png")
        page.click("#view-week")
        page.wait_for("document.querySelectorAll('.th-day').length === 7", 10, "the week view")
    finally:
        for mx in (anna_mx, terhi_mx):
            if mx is not None:
                mx.close()
                mx.http.close()
        for api in apis:
            api.close()
        server.stop()

    everything = stored_bytes(tmp_path, database)
    for text in (
        address,
        to_family,
        from_family,
        *unread_texts,
        "Sukat jalkaan itse",
        *people["secrets"],
    ):
        assert text.encode() not in everything, text[:20]
    assert b"Pihlajatie" not in everything


def aria_label(page: Page, selector: str) -> str:
    """What a screen reader reads for the element (its aria-label)."""
    found = page.evaluate(
        f"document.querySelector({json.dumps(selector)}).getAttribute('aria-label')"
    )
    return str(found)


def unread_is(case_id: str, count: str) -> str:
    """The condition: the case's family thread link has its unread count, and a badge
    saying so exactly when there is one."""
    link = f'document.querySelector("{card(case_id)} .family-link")'
    badge = f'{link}?.querySelector(".unread-badge")'
    shown = f"{badge}?.textContent === {json.dumps(count)}" if count != "0" else f"!{badge}"
    return f"{link}?.dataset.unread === {json.dumps(count)} && {shown}"


def close_sockets(page: Page) -> int:
    """Close every WebSocket of the page as a dropped connection would (found on the
    heap over DevTools, the app keeps its socket private); how many."""
    proto = page.call("Runtime.evaluate", expression="WebSocket.prototype")["result"]
    found = page.call("Runtime.queryObjects", prototypeObjectId=proto["objectId"])
    closed = page.call(
        "Runtime.callFunctionOn",
        objectId=found["objects"]["objectId"],
        functionDeclaration="function () { this.forEach((s) => s.close()); return this.length; }",
        returnByValue=True,
    )
    return int(closed["result"]["value"])


def gb(d: Any) -> set[str]:
    """A date as en-GB writes it, with or without leading zeros."""
    return {f"{d.day:02d}/{d.month:02d}/{d.year}", f"{d.day}/{d.month}/{d.year}"}


def api_status(api: Api, appointment_id: str) -> str:
    return str(api.get(f"/appointments/{appointment_id}")["status"])
