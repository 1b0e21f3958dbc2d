"""The child's tablet in headless Chromium against a real `kaari serve` (SQLite and
PostgreSQL): the child pairs with a guardian's code, sees the tasks the therapist's
Python client (client/homework.py) set, decrypted on the tablet, ticks one, ticks
another while offline (queued in IndexedDB, sent when back online), undoes one the same
day, and rests on a sick day; the therapist sees the ticks; no title is anywhere the
server keeps anything."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from servers import scenario_server, stored_bytes
from test_web_parent import chromium, keyed_devices, onboard, shot
from web_browser import Chromium, Page, poll

from client.api import Api
from client.homework import Homework, Schedule
from client.matrix import MatrixClient, MatrixHttp

__all__ = ["chromium"]  # the browser fixture, shared with the parent's test

TABLET = (1024, 768)
HELSINKI = ZoneInfo("Europe/Helsinki")
BIKE = "🚲 Pyöräile kauppaan kypärä päässä"
SOCKS = "Laita sukat jalkaan itse"

#: the tablet's queue of offline ticks, as IndexedDB holds it (web/src/child/queue.ts)
QUEUE = """new Promise(done => { const r = indexedDB.open('kaari'); r.onsuccess = () => {
  const s = r.result.transaction('kv').objectStore('kv'); const keys = s.getAllKeys();
  keys.onsuccess = () => {
    const k = keys.result.filter(k => String(k).startsWith('child-tick-queue:'));
    if (k.length !== 1) return done('[]');
    const g = s.get(k[0]); g.onsuccess = () => done(JSON.stringify(g.result)); }; }; })"""


def choose_language(page: Page, lang: str) -> None:
    page.evaluate(
        "(() => { const s = document.querySelector('#language'); s.value = '"
        + lang
        + "'; s.dispatchEvent(new Event('change', {bubbles: true})); })()"
    )
    page.wait_for(f"document.documentElement.lang === '{lang}'")


def state(page: Page, task_id: str) -> str:
    return str(page.evaluate(f"document.querySelector('[data-task=\"{task_id}\"]').dataset.state"))


def network(page: Page, offline: bool) -> None:
    page.call(
        "Network.emulateNetworkConditions",
        offline=offline,
        latency=0,
        downloadThroughput=-1,
        uploadThroughput=-1,
    )


def test_the_child_pairs_ticks_online_and_offline_and_undoes(
    tmp_path: Path, database: str, chromium: Chromium
) -> None:
    server = scenario_server(tmp_path, database)
    terhi_mx: MatrixClient | None = None
    try:
        people = onboard(server)
        case = people["case"]
        g = {"authorization": f"Bearer {people['guardian']['token']}"}
        t = {"authorization": f"Bearer {people['therapist']['token']}"}
        api = Api(server.url, token=people["therapist"]["token"])
        terhi_mx = MatrixClient.open(
            MatrixHttp.connect(server.url, people["therapist"]["token"]),
            tmp_path / "terhi",
            os.urandom(32),
        )
        terhi = Homework(terhi_mx, api)
        now = datetime.now(HELSINKI)
        # a home visit the day after tomorrow: "Terhi comes on <weekday>"
        visit = (now + timedelta(days=2)).replace(hour=14, minute=0, second=0, microsecond=0)
        r = httpx.post(
            f"{server.url}/appointments",
            json={"caseIds": [case], "startsAt": visit.isoformat(), "placeKind": "home"},
            headers=t,
            timeout=10,
        )
        assert r.status_code == 201, r.text
        r = httpx.post(f"{server.url}/cases/{case}/pairing-codes", json={}, headers=g, timeout=10)
        assert r.status_code == 201, r.text
        code = r.json()["code"]

        page = chromium.page()
        page.viewport(*TABLET, scale=1.0)
        page.call("Emulation.setTimezoneOverride", timezoneId="Europe/Helsinki")
        page.call("Network.enable")
        page.locale("en-GB")
        page.goto(f"{server.url}/app/")
        page.click("#to-pair")  # the sign-in screen's way to the pairing screen
        page.wait_for("!!document.querySelector('#pair-code')", what="the pairing screen")
        assert page.text("#pair-title") == "Enter the code from your parent"
        for lang in ("fi", "sv", "en"):
            choose_language(page, lang)
            shot(page, f"pair-{lang}-tablet.png")
        # a wrong code: the server's code in words
        page.type("#pair-code", "ABCD2345")
        page.click("#pair")
        page.wait_for("!!document.querySelector('#pair-error')", what="the pairing error")
        assert page.evaluate("document.querySelector('#pair-error').dataset.code") == (
            "pairing_code_invalid"
        )
        assert page.text("#pair-error") == "That code is not right. Check it with your parent."
        page.evaluate("document.querySelector('#pair-code').select()")
        page.type("#pair-code", code.lower())
        page.click("#pair")
        page.wait_for("!!document.querySelector('main.today')", 60, "the child's today")
        assert page.evaluate("location.pathname") == "/app/today"
        # the tablet is the child's own Matrix device, with its keys on the server
        members = httpx.get(f"{server.url}/cases/{case}/members", headers=t, timeout=10).json()
        child = next(m["userId"] for m in members if m["role"] == "child")
        mx_child = f"@{child}:localhost"
        poll(
            lambda: keyed_devices(server.url, people["therapist"]["token"], mx_child),
            30,
            "the tablet's device keys",
        )
        # a used code does not pair a second tablet
        r = httpx.post(f"{server.url}/auth/pair", json={"code": code, "device": {"name": "x"}})
        assert r.status_code == 410
        assert r.json()["code"] == "pairing_code_used"

        # the therapist sets two tasks (the room key goes to the tablet's device)
        terhi_mx.sync()
        bike = terhi.assign(case, BIKE, "Kypärä päähän", schedule=Schedule.daily(),
                            starts_on=now.date(), tick_by="child")  # fmt: skip
        socks = terhi.assign(case, SOCKS, schedule=Schedule.per_week(3), starts_on=now.date())
        page.wait_for(  # live: the content events arrive by sync, then today again
            f"[...document.querySelectorAll('.task .title')].map(e => e.textContent).join('|')"
            f" === {json.dumps('Pyöräile kauppaan kypärä päässä|' + SOCKS)}",
            60,
            "both titles, decrypted on the tablet",
        )
        assert page.text(f"[data-task='{bike.id}'] .emoji") == "🚲"
        assert page.text(f"[data-task='{socks.id}'] .week") == "0 of 3 this week"
        assert page.text("#next-session").startswith("Terhi comes on ")
        weekday = visit.strftime("%A")  # the C locale's English name
        assert page.text("#next-session") == f"Terhi comes on {weekday}"
        label = page.evaluate(
            f"document.querySelector('[data-task=\"{bike.id}\"] .tick').ariaLabel"
        )
        assert label == "Done: Pyöräile kauppaan kypärä päässä"
        shot(page, "today-en-tablet.png")

        # a tick, online: a cheer, and the therapist sees it
        page.click(f"[data-task='{bike.id}'] .tick")
        page.wait_for("!!document.querySelector('#well-done')", 10, "the cheer")
        assert "Well done!" in page.text("#well-done")
        page.wait_for(
            f"document.querySelector('[data-task=\"{bike.id}\"]').dataset.state === 'done'"
        )
        poll(lambda: len(terhi.ticks(bike.id)) == 1, 10, "the first tick at the therapist")

        # offline: the tick waits in IndexedDB with the device's time
        network(page, True)
        page.wait_for("navigator.onLine === false", 10, "offline")
        ticked_at = datetime.now(UTC).replace(microsecond=0)
        page.click(f"[data-task='{socks.id}'] .tick")
        page.wait_for(
            f"document.querySelector('[data-task=\"{socks.id}\"]').dataset.state === 'waiting'",
            10,
            "the offline tick waiting",
        )
        assert page.text(f"[data-task='{socks.id}'] .week") == "1 of 3 this week"
        assert terhi.ticks(socks.id) == []
        (waiting,) = json.loads(page.evaluate(QUEUE))
        assert (waiting["taskId"], waiting["day"]) == (socks.id, now.date().isoformat())
        shot(page, "today-offline-en-tablet.png")
        time.sleep(1.5)  # the tick's clientTime is the click's, not the send's
        back_at = datetime.now(UTC)
        network(page, False)
        page.wait_for(
            f"document.querySelector('[data-task=\"{socks.id}\"]').dataset.state === 'done'",
            12,  # the `online` event sends it (the 15 s retry is a fallback)
            "the queued tick sent",
        )
        assert json.loads(page.evaluate(QUEUE)) == []
        (sent,) = poll(lambda: terhi.ticks(socks.id), 10, "the offline tick at the therapist")
        assert sent.day == now.date()
        clicked = datetime.fromisoformat(sent.client_time)
        assert ticked_at <= clicked < back_at < datetime.fromisoformat(sent.received_at)
        progress = terhi.progress(case, 1)
        done = {p["taskId"]: p["weeks"][-1]["done"] for p in progress["tasks"]}
        assert done == {bike.id: 1, socks.id: 1}
        assert page.text(f"[data-task='{socks.id}'] .week") == "1 of 3 this week"
        for lang in ("fi", "sv"):
            choose_language(page, lang)
            shot(page, f"today-{lang}-tablet.png")
        choose_language(page, "en")

        # undo, the same day
        page.click(f"[data-task='{bike.id}'] .undo")
        page.wait_for(
            f"document.querySelector('[data-task=\"{bike.id}\"]').dataset.state === 'todo'"
        )
        poll(lambda: terhi.ticks(bike.id) == [], 10, "the undo at the therapist")
        page.click(f"[data-task='{socks.id}'] .undo")
        page.wait_for(
            f"document.querySelector('[data-task=\"{socks.id}\"]').dataset.state === 'todo'"
        )

        # a sick day: nothing is due, the tablet says to rest
        day = now.date().isoformat()
        r = httpx.put(f"{server.url}/cases/{case}/homework/sick-days/{day}", headers=g, timeout=10)
        assert r.status_code == 204, r.text
        page.call("Page.reload")
        page.wait_for("!!document.querySelector('#rest')", 30, "the rest screen")
        assert page.text("#rest-title") == "Rest today"
        shot(page, "rest-en-tablet.png")
        page.viewport(768, 1024, scale=1.0)  # portrait
        shot(page, "rest-en-tablet-portrait.png")
    finally:
        if terhi_mx is not None:
            terhi_mx.close()
            terhi_mx.http.close()
        server.stop()

    everything = stored_bytes(tmp_path, database)
    for text in (BIKE, SOCKS, "Pyöräile kauppaan", "Kypärä päähän", *people["secrets"]):
        assert text.encode() not in everything, text[:20]
