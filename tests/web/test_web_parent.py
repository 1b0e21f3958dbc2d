"""The web app in headless Chromium against a real `kaari serve` (SQLite and PostgreSQL):
a parent on a phone-sized screen signs in, reads what the therapist's Python reference
client (client/matrix) sent, before and after a reload, replies, sees it delivered, and
the therapist's client decrypts the reply; read receipts both ways, end to end encrypted
(the parent's open thread sends an org.kaari.read event, the therapist's client decrypts
it; its receipt for the reply shows "Read" on the page); then nothing the parent typed,
nor any receipt, is in the database, the blob store or the logs in the clear."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
from servers import scenario_server, stored_bytes
from web_browser import Chromium, poll
from web_support import PASSWORD, PHONE, bodies, chromium, keyed_devices, onboard, shot

from client.matrix import MatrixClient, MatrixHttp
from client.matrix.receipts import READ_EVENT

__all__ = ["chromium"]  # a fixture (web_support)

ALL = "[...document.querySelectorAll"
OWN = "document.querySelector('.msg.own')"


def test_a_parent_signs_in_reads_and_replies_in_the_family_thread(
    tmp_path: Path, database: str, chromium: Chromium
) -> None:
    server = scenario_server(tmp_path, database)
    therapist: MatrixClient | None = None
    reply = "Kiitos Terhi! Eino harjoittelee saksilla joka ilta 🙂"
    first = "Hei Anna, muistathan torstain kotikäynnin kello 14."
    second = "Toisen viestin sisältö: tuokaa Einon lempilelu mukaan."
    after_takeover = "Viesti sille välilehdelle joka jäi auki"
    from_tab = "Toisesta välilehdestä: kiitos!"
    later = "Ja vielä: Eino kysyy saako hän tuoda koiran"
    try:
        people = onboard(server)
        room = people["room"]
        anna = people["guardian"]["user"]["matrixUserId"]
        therapist = MatrixClient.open(
            MatrixHttp.connect(server.url, people["therapist"]["token"]),
            tmp_path / "terhi",
            os.urandom(32),
        )
        therapist.sync()
        assert keyed_devices(server.url, people["therapist"]["token"], anna) == []

        page = chromium.page()
        page.viewport(*PHONE)
        page.locale("en-GB")
        page.goto(f"{server.url}/app/")
        page.wait_for("!!document.querySelector('#email')", what="the sign-in form")
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.text("#signin-title") == "Sign in"
        # the language switch: Finnish, then back
        page.evaluate(
            "(() => { const s = document.querySelector('#language'); s.value = 'fi';"
            " s.dispatchEvent(new Event('change', {bubbles: true})); })()"
        )
        page.wait_for("document.querySelector('#signin-title').textContent === 'Kirjaudu sisään'")
        page.evaluate(
            "(() => { const s = document.querySelector('#language'); s.value = 'en';"
            " s.dispatchEvent(new Event('change', {bubbles: true})); })()"
        )
        page.wait_for("document.querySelector('#signin-title').textContent === 'Sign in'")

        # a wrong password: the server's code in words, in the page's language
        page.type("#email", "anna@example.fi")
        shot(page, "signin-en-phone.png")
        page.type("#password", "not-the-password")
        page.click("#signin")
        page.wait_for("!!document.querySelector('#signin-error')", what="the sign-in error")
        assert page.evaluate("document.querySelector('#signin-error').dataset.code") == (
            "invalid_credentials"
        )
        assert page.text("#signin-error") == "The e-mail or password is wrong."
        page.evaluate("document.querySelector('#password').value = ''")
        shot(page, "signin-error-en-phone.png")
        page.type("#password", PASSWORD)
        page.click("#signin")

        # one case: straight into its family thread, once the device's keys are up
        page.wait_for("!!document.querySelector('#composer')", 60, "the family thread")
        assert f"/app/cases/{people['case']}/family" == page.evaluate("location.pathname")
        devices = poll(
            lambda: keyed_devices(server.url, people["therapist"]["token"], anna),
            30,
            "the browser's device keys on the server",
        )
        assert len(devices) == 1

        # the service worker is active and holds the shell and the crypto wasm
        cached = page.wait_for(
            "navigator.serviceWorker.ready.then(async r => {"
            " if (!r.active) return null;"
            " const names = (await caches.keys()).filter(n => n.startsWith('kaari-shell-'));"
            " if (names.length !== 1) return null;"
            " const urls = (await (await caches.open(names[0])).keys()).map(q => q.url);"
            " return urls.some(u => u.endsWith('.wasm')) ? JSON.stringify(urls) : null; })",
            60,
            "the service worker's cache",
        )
        urls = json.loads(cached)
        assert f"{server.url}/app/" in urls
        assert any(u.endswith(".js") and "/app/assets/index-" in u for u in urls)
        assert f"{server.url}/app/manifest.webmanifest" in urls
        assert (
            page.evaluate(
                "fetch('/app/manifest.webmanifest').then(r => r.json()).then(m => m.start_url)"
            )
            == "/app/"
        )

        # a second tab: the first one owns the device's crypto (a Web Lock); this one
        # works through it (BroadcastChannel): it reads live and sends
        tab = chromium.new_page(f"{server.url}/app/")
        tab.viewport(*PHONE)
        tab.wait_for("!!document.querySelector('#composer')", 60, "the thread in a second tab")
        therapist.send_text(room, first)
        for p in (page, tab):
            p.wait_for(
                f"{ALL}('.msg.theirs .body')].some(e => e.textContent === {json.dumps(first)})",
                30,
                "the therapist's message, live",
            )
        tab.type("#composer", from_tab)
        tab.click("#send")
        tab.wait_for(
            f"['sent', 'delivered'].includes(({OWN} || {{dataset: {{}}}}).dataset.status)",
            30,
            "sent from the second tab",
        )
        page.wait_for(f"{ALL}('.msg.own')].length === 1", 30, "the other tab's message")
        shot(tab, "second-tab-en-phone.png")
        chromium.close_page(tab)

        # a reload: history from the server, decrypted with the keys kept in IndexedDB
        second_id = therapist.send_text(room, second)
        page.call("Page.reload")
        page.wait_for("!!document.querySelector('#composer')", 60, "the thread after a reload")
        page.wait_for(
            "document.querySelectorAll('.msg.theirs .body').length >= 2", 30, "the history"
        )
        assert bodies(page, "theirs") == [first, second]

        # the parent replies
        page.type("#composer", reply)
        page.click("#send")
        page.wait_for(
            f"{ALL}('.msg.own')].every(e => ['sent', 'delivered'].includes(e.dataset.status))"
            f" && {ALL}('.msg.own')].length === 2",
            30,
            "the reply sent",
        )
        assert bodies(page, "own") == [from_tab, reply]

        # the therapist's client decrypts it, from the browser's device
        got: list[dict[str, Any]] = []

        def reply_arrived() -> bool:
            assert therapist is not None
            got.extend(therapist.sync(timeout_ms=1000).messages)
            return {from_tab, reply} <= {m["content"].get("body") for m in got}

        poll(reply_arrived, 30, "the reply at the therapist's client")
        for message in [m for m in got if m["content"].get("body") in (from_tab, reply)]:
            assert message["sender"] == anna
            assert message["sender_device"] == devices[0]  # one device for both tabs
        assert therapist.undecryptable() == []
        # her next sync acknowledged it: the parent sees "delivered"
        therapist.sync(timeout_ms=500)
        page.wait_for(
            "document.querySelector('.msg.own:last-child').dataset.status === 'delivered'",
            60,
            "delivered",
        )
        assert "Delivered" in page.text(".msg.own:last-child .meta")
        shot(page, "thread-en-phone.png")

        # the therapist signs in on a second device: the room's device set changed, so
        # the parent's next message is encrypted for it too (keys queried again, the
        # room key shared with the new device before the send)
        r = httpx.post(
            f"{server.url}/auth/login",
            json={"email": "terhi@example.fi", "password": PASSWORD, "device": {"name": "2"}},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        people["secrets"].append(r.json()["token"])
        laptop = MatrixClient.open(
            MatrixHttp.connect(server.url, r.json()["token"]), tmp_path / "terhi2", os.urandom(32)
        )
        try:
            laptop.sync()
            page.type("#composer", later)
            page.click("#send")
            page.wait_for(
                f"{ALL}('.msg.own')].filter(e => e.dataset.status === 'sent'"
                " || e.dataset.status === 'delivered').length === 3",
                30,
                "the second reply sent",
            )
            seen: list[dict[str, Any]] = []

            def later_arrived() -> bool:
                seen.extend(laptop.sync(timeout_ms=1000).messages)
                return any(m["content"].get("body") == later for m in seen)

            poll(later_arrived, 30, "the second reply at the therapist's new device")
            # (what was sent before it existed it cannot read: history comes from the
            # key backup, a later step)
            # (nor the parent's encrypted read receipts of that time, which the old
            # device decrypted)
            therapist.sync()
            receipts = {m["event_id"] for m in therapist.messages(room) if m["type"] == READ_EVENT}
            unread = [e for e in laptop.undecryptable() if e["event"]["event_id"] not in receipts]
            assert len(unread) == 4
        finally:
            laptop.close()
            laptop.http.close()
        for lang, delivered in (("fi", "Toimitettu"), ("sv", "Levererat")):  # the first reply
            page.evaluate(
                "(() => { const s = document.querySelector('#language'); s.value = '"
                + lang
                + "'; s.dispatchEvent(new Event('change', {bubbles: true})); })()"
            )
            page.wait_for(
                f"document.querySelector('[data-status=delivered] .meta').textContent"
                f".includes('{delivered}')"
            )
            page.wait_for(f"document.documentElement.lang === '{lang}'")
            shot(page, f"thread-{lang}-phone.png")

        # read receipts: the parent's open thread sent an encrypted org.kaari.read for the
        # therapist's newest message; the therapist's client decrypts it in sync
        def parent_read() -> bool:
            assert therapist is not None
            therapist.sync(timeout_ms=500)
            return therapist.read_receipts(room).get(anna, {}).get("event_id") == second_id

        poll(parent_read, 30, "the parent's receipt at the therapist's client")
        assert isinstance(therapist.read_receipts(room)[anna]["ts"], int)
        # an ordinary encrypted room event, at most one per message read (not per view)
        sent = [
            m["content"]["event_id"]
            for m in therapist.messages(room)
            if m["type"] == READ_EVENT and m["sender"] == anna
        ]
        assert second_id in sent
        assert len(sent) == len(set(sent)), sent
        # the therapist's client reads the parent's reply (its own encrypted receipt): it
        # and everything before it is "Read" on the parent's page (with the time); the
        # later message is not
        reply_id = next(m["event_id"] for m in got if m["content"].get("body") == reply)
        therapist.send_read_receipt(room, reply_id)
        page.wait_for(
            f"{ALL}('.msg.own')].map(e => e.dataset.status).join() === 'read,read,'"
            " + document.querySelector('.msg.own:last-child').dataset.status"
            " && document.querySelector('.msg.own:last-child').dataset.status !== 'read'",
            30,
            "the parent's reply read",
        )
        for lang, read in (("en", "Read "), ("fi", "Luettu "), ("sv", "Läst ")):  # sv last
            page.evaluate(
                "(() => { const s = document.querySelector('#language'); s.value = '"
                + lang
                + "'; s.dispatchEvent(new Event('change', {bubbles: true})); })()"
            )
            page.wait_for(
                f"document.querySelector('[data-status=read] .meta').textContent.includes('{read}')"
            )
            meta = page.text(".msg.own[data-status=read] .meta")
            assert any(c.isdigit() for c in meta.partition(read)[2]), meta  # when it was read
            page.evaluate(
                f"{ALL}('.msg.own[data-status=read]')].pop().scrollIntoView({{block: 'center'}})"
            )
            shot(page, f"thread-read-{lang}-phone.png")

        # the server dies (kill -9): the thread says there is no connection (in Swedish,
        # chosen last), and when the server is back the device syncs again by itself
        server.kill9()
        page.wait_for("!!document.querySelector('.offline')", 30, "the offline notice")
        assert page.text(".offline") == (
            "Ingen anslutning till Kaari. Kontrollera nätverket och försök igen."
        )
        server.start()
        page.wait_for("!document.querySelector('.offline')", 60, "back online")

        # the tab that owns the crypto closes: a second tab takes over with its own
        # worker on the same store, and still reads the thread
        last = chromium.new_page(f"{server.url}/app/")
        last.viewport(*PHONE)
        last.wait_for("!!document.querySelector('#composer')", 60, "a relaying tab")
        chromium.close_page(page)
        last.wait_for(
            f"{ALL}('.msg.theirs .body')].length === 2 && {ALL}('.msg.own .body')].length === 3",
            60,
            "the thread after the takeover",
        )
        therapist.send_text(room, after_takeover)
        last.wait_for(
            f"{ALL}('.msg.theirs .body')].some(e => e.textContent"
            f" === {json.dumps(after_takeover)})",
            60,
            "a live message in the tab that took over",
        )

        # sign out: the device's crypto store goes with it
        page = last
        page.click("#signout")
        page.wait_for("!!document.querySelector('#email')", 30, "the sign-in form again")
        stores = page.evaluate(
            "indexedDB.databases().then(all => JSON.stringify(all.map(d => d.name)))"
        )
        assert not [name for name in json.loads(stores) if name.startswith("kaari-crypto-")]
        assert keyed_devices(server.url, people["therapist"]["token"], anna) == []
    finally:
        if therapist is not None:
            therapist.close()
            therapist.http.close()
        server.stop()

    # the privacy test: nothing the parent typed (nor the therapist's texts, nor the
    # password) is anywhere the server keeps anything
    everything = stored_bytes(tmp_path, database)
    for text in (reply, first, second, later, from_tab, after_takeover, *people["secrets"]):
        assert text.encode() not in everything, text[:20]
    assert b"Eino harjoittelee" not in everything
    assert READ_EVENT.encode() not in everything  # receipts are ciphertext to the server
