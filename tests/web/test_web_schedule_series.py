"""The therapist's booking form beyond one session, in headless Chromium at laptop size
against a real `kaari serve` (SQLite and PostgreSQL): a weekly series with an encrypted
address, its quota preview and the server's warning past the period's granted sessions;
one occurrence moved, then the rest of the series; a group session over the size rule
refused in the user's language (fi, sv, en) beside the server's own words, then a valid
group; a late cancellation with what it costs the period. The guardian's Python reference
client (client/appointments.py) sees the series' times and decrypts the details, and
neither the address nor the group's details are anywhere the server keeps anything."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from servers import scenario_server, stored_bytes
from test_web_therapist import DESKTOP, SESSION, set_value
from web_browser import Chromium, Page
from web_support import (
    PASSWORD,
    assert_accessible,
    choose_language,
    chromium,
    onboard,
    shot,
    text_of,
)

from client.api import Api
from client.appointments import Appointments
from client.matrix import MatrixClient, MatrixHttp

__all__ = ["chromium"]  # a fixture (web_support)

HELSINKI = ZoneInfo("Europe/Helsinki")
ALL = "[...document.querySelectorAll"
REFUSED = {
    "en": "Too many for a group of children: at most 4 per therapist.",
    "fi": "Liian monta ryhmään, jossa on lapsia: enintään 4 terapeuttia kohden.",
    "sv": "För många för en grupp med barn: högst 4 per terapeut.",
}


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=HELSINKI)


def show_week_of(page: Page, today: date, day: date) -> None:
    """The week view of ``day``'s week: from today's, forward a week at a time."""
    page.click("#today")
    weeks = (day - timedelta(days=day.weekday())) - (today - timedelta(days=today.weekday()))
    for _ in range(weeks.days // 7):
        page.click("#next")
    page.wait_for(
        f"!!document.querySelector(\".th-day[data-day='{day.isoformat()}']\")", 10, "the week"
    )


def starts(api: Api, case_id: str) -> dict[str, datetime]:
    return {
        a["id"]: datetime.fromisoformat(a["startsAt"]).astimezone(HELSINKI)
        for a in api.get(f"/cases/{case_id}/appointments")
    }


def quota_lines(page: Page) -> list[str]:
    return list(
        json.loads(page.evaluate(f"JSON.stringify({ALL}('#quota li')].map(e => e.textContent))"))
    )


def test_a_therapist_books_a_series_moves_it_and_books_groups(
    tmp_path: Path, database: str, chromium: Chromium
) -> None:
    server = scenario_server(tmp_path, database)
    address = "Kuusikuja 7 B 12, ovikoodi 4711"
    group_details = "Ryhmä Kirjastolla: ota sisäkengät"
    anna_mx: MatrixClient | None = None
    apis: list[Api] = []
    try:
        people = onboard(server)
        eino = people["case"]
        terhi_api = Api(server.url, token=people["therapist"]["token"])
        anna_api = Api(server.url, token=people["guardian"]["token"])
        apis += [terhi_api, anna_api]
        others = {
            name: terhi_api.post("/cases", {"childDisplayName": name})["id"]
            for name in ("Aino", "Onni", "Vilja", "Leo")
        }
        today = datetime.now(HELSINKI).date()
        period = terhi_api.post(
            f"/cases/{eino}/periods",
            {
                "payer": "kela",
                "startsOn": (today - timedelta(days=10)).isoformat(),
                "endsOn": (today + timedelta(days=120)).isoformat(),
                "sessionsGranted": 4,
            },
        )
        # the guardian's reference client, keyed before the browser sends the details
        anna_mx = MatrixClient.open(
            MatrixHttp.connect(server.url, people["guardian"]["token"]),
            tmp_path / "anna",
            os.urandom(32),
        )
        anna_mx.sync()
        anna = Appointments(anna_mx, anna_api)

        page = chromium.page()
        page.viewport(*DESKTOP)
        page.locale("en-GB")
        page.goto(f"{server.url}/app/")
        page.wait_for("!!document.querySelector('#email')", what="the sign-in form")
        page.type("#email", "terhi@example.fi")
        page.type("#password", PASSWORD)
        page.click("#signin")
        page.wait_for("document.querySelectorAll('.case-card').length === 5", 60, "the caseload")
        page.goto(f"{server.url}/app/schedule")
        page.wait_for(
            "document.querySelectorAll('#new-case option').length === 5", 60, "the booking form"
        )

        # a weekly series of five from tomorrow at 15:00; the period grants four
        first = today + timedelta(days=1)
        set_value(page, "#new-case", eino, "change")
        set_value(page, "#new-start", f"{first.isoformat()}T15:00")
        set_value(page, "#new-repeat", "count", "change")
        set_value(page, "#new-count", "5")
        set_value(page, "#new-place", "home", "change")
        page.type("#new-details", address)
        page.wait_for("document.querySelectorAll('#quota li').length === 2", 30, "the quota")
        used, over = quota_lines(page)
        assert used.startswith("Eino: 0 / 4 used and 0 more booked"), used
        assert over == "Eino: this booking goes 1 past the period's granted sessions.", over
        assert text_of(page, "#series-summary").startswith("5 weekly sessions at the same time")
        # "until a day" counts the same five
        set_value(page, "#new-repeat", "until", "change")
        set_value(page, "#new-until", (first + timedelta(days=30)).isoformat())
        page.wait_for(
            "document.querySelector('#series-summary')?.textContent.startsWith('5 weekly')",
            10,
            "the series until a day",
        )
        set_value(page, "#new-until", (first + timedelta(days=7 * 60)).isoformat())
        page.wait_for("document.querySelector('#new-submit').disabled", 10, "too long")
        assert text_of(page, "#series-summary").startswith("At most 52 sessions")
        set_value(page, "#new-until", (first + timedelta(days=28)).isoformat())
        page.wait_for("!document.querySelector('#new-submit').disabled", 10, "five again")
        page.evaluate(
            "document.activeElement.blur();"
            " document.querySelector('#new-submit').scrollIntoView({block: 'end'})"
        )
        for lang in ("fi", "sv", "en"):
            choose_language(page, lang)
            shot(page, f"schedule-series-{lang}-desktop.png")
        assert_accessible(page, "the series form")
        page.click("#new-submit")
        page.wait_for("!!document.querySelector('#new-done')", 60, "the series booked")
        assert text_of(page, "#new-done p") == "5 weekly sessions booked."
        series = sorted(starts(terhi_api, eino).items(), key=lambda kv: kv[1])
        ids = [i for i, _ in series]
        assert [s for _, s in series] == [at(first + timedelta(weeks=k), 15) for k in range(5)]
        (warned,) = json.loads(
            page.evaluate(
                f"JSON.stringify({ALL}('#new-warnings li')].map(e => [e.dataset.code,"
                " e.dataset.appointmentId, e.textContent]))"
            )
        )
        assert warned[:2] == ["period_quota_exceeded", ids[4]]
        assert warned[2].startswith("Eino, ")
        assert "past the period's granted" in warned[2]
        page.evaluate("document.querySelector('#new-done').scrollIntoView({block: 'end'})")
        shot(page, "schedule-series-warned-en-desktop.png")
        one = terhi_api.get(f"/appointments/{ids[0]}")
        assert one["seriesId"]
        assert all(terhi_api.get(f"/appointments/{i}")["seriesId"] == one["seriesId"] for i in ids)

        # move the second session an hour later, only it
        second = first + timedelta(weeks=1)
        show_week_of(page, today, second)
        row = SESSION.format(ids[1])
        page.wait_for(f'!!document.querySelector("{row} .move")', 30, "the second session")
        assert "weekly series" in text_of(page, f"{row} .ss-tags")
        page.click(f"{row} .move")
        page.wait_for("!!document.querySelector('#scope-one')", 10, "the move form")
        # focus moves to the form's title once it is shown (an effect after the render)
        page.wait_for("document.activeElement.id === 'move-title'", 10, "the move form's focus")
        assert page.evaluate("document.querySelector('#scope-one').checked")
        set_value(page, "#move-start", f"{second.isoformat()}T16:00")
        page.click("#move-submit")
        page.wait_for("!!document.querySelector('#move-done')", 30, "moved")
        assert page.evaluate("document.querySelector('#move-done').dataset.moved") == "1"
        page.wait_for(
            f"document.querySelector(\"{row} .time\")?.textContent.startsWith('16:00')",
            30,
            "the moved session on the week",
        )
        # then the third and the rest to 17:30
        third = first + timedelta(weeks=2)
        show_week_of(page, today, third)
        row = SESSION.format(ids[2])
        page.click(f"{row} .move")
        page.wait_for(
            f"document.querySelector('#move-session')?.dataset.appointmentId === '{ids[2]}'",
            10,
            "the move form of the third",
        )
        set_value(page, "#move-start", f"{third.isoformat()}T17:30")
        page.click("#scope-following")
        page.evaluate(
            "document.activeElement.blur();"
            " document.querySelector('#move-session').scrollIntoView()"
        )
        for lang in ("fi", "sv", "en"):
            choose_language(page, lang)
            shot(page, f"schedule-move-{lang}-desktop.png")
        assert_accessible(page, "the move form")
        page.click("#move-submit")
        page.wait_for("!!document.querySelector('#move-done')", 30, "the rest moved")
        assert page.evaluate("document.querySelector('#move-done').dataset.moved") == "3"
        expected = [at(first, 15), at(second, 16)] + [
            at(first + timedelta(weeks=k), 17, 30) for k in (2, 3, 4)
        ]
        assert [starts(terhi_api, eino)[i] for i in ids] == expected
        # the guardian's client: the same times, and each session's address decrypted
        assert [starts(anna_api, eino)[i] for i in ids] == expected
        for i in ids:
            read = anna.details(anna_api.get(f"/appointments/{i}"), eino)
            assert read.readable, read.problem
            assert read.text == address
        page.click("#move-close")
        page.wait_for("!document.querySelector('#move-session')", 10, "the move form closed")

        # a group of five children: over the rule, refused, in each language
        group_day = today + timedelta(days=2)
        set_value(page, "#new-repeat", "once", "change")
        set_value(page, "#new-start", f"{group_day.isoformat()}T09:00")
        page.click("#new-group")
        page.wait_for("!!document.querySelector('#group-rule')", 10, "the group fields")
        assert text_of(page, "#group-rule").startswith("A group session has 2\u20134 children")
        for case_id in others.values():
            page.click(f"#group-cases input[data-case='{case_id}']")
        page.wait_for(
            "document.querySelector('#group-size')?.dataset.fits === 'no'", 10, "five chosen"
        )
        assert text_of(page, "#group-size").startswith("In the group: 5")
        page.type("#new-details", group_details)
        page.click("#new-submit")
        page.wait_for("!!document.querySelector('#new-error')", 60, "the refusal")
        assert page.evaluate("document.querySelector('#new-error').dataset.code") == (
            "group_too_large"
        )
        assert "at most 4 clients per therapist" in text_of(page, "#new-error-detail")
        page.evaluate(
            "document.activeElement.blur();"
            " document.querySelector('#new-error').scrollIntoView({block: 'end'})"
        )
        for lang in ("fi", "sv", "en"):
            choose_language(page, lang)
            assert text_of(page, "#new-error") == REFUSED[lang]
            shot(page, f"schedule-group-refused-{lang}-desktop.png")
        assert_accessible(page, "the refused group")
        assert len(starts(terhi_api, eino)) == 5  # nothing booked
        # three children fit
        for name in ("Vilja", "Leo"):
            page.click(f"#group-cases input[data-case='{others[name]}']")
        page.wait_for(
            "document.querySelector('#group-size')?.dataset.fits === 'yes'", 10, "three chosen"
        )
        page.click("#new-submit")
        page.wait_for("!!document.querySelector('#new-done')", 60, "the group booked")
        assert not page.evaluate("!!document.querySelector('#new-error')")
        (group,) = [i for i, s in starts(terhi_api, eino).items() if s == at(group_day, 9)]
        full = terhi_api.get(f"/appointments/{group}")
        assert full["groupKind"] == "children"
        assert {c["caseId"] for c in full["cases"]} == {eino, others["Aino"], others["Onni"]}
        # the group is the period's sixth booking: warned for Eino
        codes = page.evaluate(
            f"JSON.stringify({ALL}('#new-warnings li')].map(e => [e.dataset.code, e.dataset.case]))"
        )
        assert ["period_quota_exceeded", eino] in json.loads(codes)
        # Anna sees her own child only, and decrypts the group's details
        seen = anna_api.get(f"/appointments/{group}")
        assert [c["caseId"] for c in seen["cases"]] == [eino]
        read = anna.details(seen, eino)
        assert read.readable, read.problem
        assert read.text == group_details
        show_week_of(page, today, group_day)
        row = SESSION.format(group)
        page.wait_for(f'!!document.querySelector("{row} .ss-tags")', 30, "the group on the week")
        assert text_of(page, f"{row} .ss-tags") == "group (children)"

        # Anna cancels a session in three hours: late, and it uses a session of the period
        late = terhi_api.post(
            "/appointments",
            {
                "caseIds": [eino],
                "startsAt": (datetime.now(UTC) + timedelta(hours=3)).isoformat(),
                "placeKind": "video",
            },
        )["appointments"][0]
        anna.cancel(late["id"], "illness")
        show_week_of(
            page, today, datetime.fromisoformat(late["startsAt"]).astimezone(HELSINKI).date()
        )
        row = SESSION.format(late["id"])
        page.wait_for(
            f'document.querySelector("{row} .ss-cost")?.dataset.counted === "yes"',
            30,
            "the late cancellation's cost",
        )
        assert page.evaluate(f'document.querySelector("{row}").dataset.late') == "yes"
        assert text_of(page, f"{row} .ss-cost") == "counts as a used session of the period"
        used_now = terhi_api.get(f"/cases/{eino}/periods/{period['id']}")["sessionsUsed"]
        assert used_now == 1
        assert_accessible(page, "the week with a series, a group and a cancellation")
    finally:
        if anna_mx is not None:
            anna_mx.close()
            anna_mx.http.close()
        for api in apis:
            api.close()
        server.stop()

    everything = stored_bytes(tmp_path, database)
    for text in (address, group_details, *people["secrets"]):
        assert text.encode() not in everything, text[:20]
    assert b"Kuusikuja" not in everything
    assert "sisäkengät".encode() not in everything
