"""Web Push in the web app, in headless Chromium against a real `kaari serve` (SQLite and
PostgreSQL), and the parent's settings for the child's reminder time and quiet hours.

Headless Chromium cannot reach a real push service, so the browser's side of the push
service is the project's stand-in (tests/push_service.py, loopback): the test makes the
subscription's keys there and the page's `PushManager.subscribe()` hands the app that
subscription (an init script: the only stand-in; the app's code runs as it is, asking
for permission after a tap, subscribing with the server's VAPID key and registering the
subscription with the server). The server's own reminder job (its clock started at
18:30 in Helsinki the evening before the session, `KAARI_TEST_CLOCK_START`) pushes the
evening-before reminder to the stand-in, which checks the VAPID signature and decrypts
the message for real; the test then delivers that decrypted payload to the page's
service worker (DevTools `ServiceWorker.deliverPushMessage`), reads the notification it
showed (`registration.getNotifications()`), and taps its "Can't come? Cancel" action
through the service worker's tap handler: the cancel sheet of that session opens and
cancelling there cancels it on the server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from push_service import PushService, Subscription
from servers import scenario_server
from web_browser import Chromium, Page, poll
from web_support import PHONE, choose_language, chromium, onboard, shot, sign_in

from client.api import Api, ApiError

__all__ = ["chromium"]  # a fixture (web_support)

HELSINKI = ZoneInfo("Europe/Helsinki")


@pytest.fixture
def push() -> Iterator[PushService]:
    service = PushService()
    yield service
    service.close()


def evening_near_now() -> datetime:
    """A time of the reminder window (18:00 to midnight in Helsinki) as close to now as
    can be (at most ~9 hours off), so the VAPID token's 12-hour expiry, made on the
    server's clock, is valid on the real one that the stand-in checks it with."""
    now = datetime.now(UTC)
    today = now.astimezone(HELSINKI).date()
    best: datetime | None = None
    for d in (-1, 0, 1):
        day = today + timedelta(days=d)
        first = datetime.combine(day, time(18, 5), HELSINKI).astimezone(UTC)
        last = datetime.combine(day, time(23, 30), HELSINKI).astimezone(UTC)
        near = min(max(now, first), last)
        if best is None or abs(near - now) < abs(best - now):
            best = near
    assert best is not None
    return best.replace(microsecond=0).astimezone(HELSINKI)


def stand_in_push_manager(sub: Subscription) -> str:
    """An init script: `PushManager` gives the page the stand-in's subscription (the keys
    the test holds) instead of asking a push service this browser cannot reach. It keeps
    the `applicationServerKey` the app subscribed with, for the test to compare."""
    script = """(() => {
  const stand = STAND;
  const b64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  const unb64u = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")),
    (c) => c.charCodeAt(0)).buffer;
  const make = (options) => ({
    endpoint: stand.endpoint, expirationTime: null, options,
    getKey: (name) => unb64u(stand.keys[name]),
    toJSON: () => ({ endpoint: stand.endpoint, expirationTime: null, keys: stand.keys }),
    unsubscribe: async () => { localStorage.removeItem("kaari.test.push"); return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    if (!options || !options.userVisibleOnly)
      throw new DOMException("not visible", "NotAllowedError");
    localStorage.setItem("kaari.test.push", b64u(options.applicationServerKey));
    return make(options);
  };
  PushManager.prototype.getSubscription = async function () {
    return localStorage.getItem("kaari.test.push") ? make({}) : null;
  };
})();"""
    return script.replace("STAND", json.dumps(sub.as_json()))


def registration_id(page: Page, url: str) -> str:
    """The app's service worker registration, as DevTools names it."""
    page.wait_for(
        "navigator.serviceWorker.ready"
        ".then(r => !!r.active && !!navigator.serviceWorker.controller)",
        30,
        "the service worker in control",
    )
    page.call("ServiceWorker.enable")

    def found() -> str | None:
        page.evaluate("1")  # read the events that came meanwhile
        for e in page.worker_events:
            if e["method"] == "ServiceWorker.workerRegistrationUpdated":
                for r in e["params"]["registrations"]:
                    if r["scopeURL"] == f"{url}/app/" and not r["isDeleted"]:
                        return str(r["registrationId"])
        return None

    return str(poll(found, 10, "the registration"))


NOTICES_JS = """navigator.serviceWorker.ready.then(r => r.getNotifications({tag: %s}))
  .then(ns => ns.map(n => ({title: n.title, body: n.body, lang: n.lang,
    actions: (n.actions || []).map(a => ({action: a.action, title: a.title})), data: n.data})))"""


def delivered(page: Page, url: str, reg: str, payload: dict[str, Any], tag: str) -> dict[str, Any]:
    """Deliver a push payload to the service worker; the notification it shows."""
    # a notice still shown from before must not pass for the new one
    page.evaluate(
        "navigator.serviceWorker.ready"
        f".then(r => r.getNotifications({{tag: {json.dumps(tag)}}}))"
        ".then(ns => ns.forEach(n => n.close()))"
    )
    page.call(
        "ServiceWorker.deliverPushMessage", origin=url, registrationId=reg, data=json.dumps(payload)
    )
    shown = page.wait_for(
        f"({NOTICES_JS % json.dumps(tag)}).then(ns => ns.length ? ns[0] : null)",
        20,
        f"the notification {tag}",
    )
    return dict(shown)


def tap(page: Page, tag: str, action: str) -> None:
    """What a tap on the notification (or one of its actions) runs in the service worker."""
    page.evaluate(
        "navigator.serviceWorker.ready.then(r => r.active.postMessage("
        + json.dumps({"kind": "kaari.notice.tap", "tag": tag, "action": action})
        + "))"
    )


def test_a_reminder_push_opens_the_cancel_sheet_of_its_session(
    tmp_path: Path, database: str, chromium: Chromium, push: PushService
) -> None:
    evening = evening_near_now()
    server = scenario_server(
        tmp_path,
        database,
        KAARI_TEST_CLOCK_START=evening.isoformat(),
        KAARI_REMINDER_INTERVAL_SECONDS="0.2",
        KAARI_NOTIFY_POLL_SECONDS="0.2",
        KAARI_PUSH_ALLOW_LOOPBACK="true",  # the push-service stand-in on loopback
    )
    therapist: Api | None = None
    anna: Api | None = None
    try:
        people = onboard(server)
        case_id = people["case"]
        therapist = Api(server.url, token=people["therapist"]["token"])
        anna = Api(server.url, token=people["guardian"]["token"])
        vapid = anna.get("/push/vapid-public-key")["publicKey"]
        push.expected_key = vapid  # anything signed by another key is refused
        sub = push.subscribe()

        page = chromium.page()
        page.viewport(*PHONE)
        page.locale("en-GB")
        page.call("Page.addScriptToEvaluateOnNewDocument", source=stand_in_push_manager(sub))
        page.call("Browser.grantPermissions", origin=server.url, permissions=["notifications"])
        sign_in(page, server.url)

        # asked with a button on the thread, not on load: nothing registered yet
        page.wait_for("!!document.querySelector('#push-prompt-enable')", 20, "the prompt")
        assert anna.get("/me/push-subscriptions") == []
        for lang, lead in (
            ("fi", "Saat ilmoituksen"),
            ("sv", "Få ett meddelande"),
            ("en", "Get a notice"),
        ):
            choose_language(page, lang)
            assert page.text("#push-prompt").startswith(lead)
            shot(page, f"push-prompt-{lang}-phone.png")
        page.click("#push-prompt-enable")
        page.wait_for("!document.querySelector('#push-prompt')", 20, "the prompt gone")
        # subscribed with the server's VAPID key, and the subscription registered
        assert page.evaluate("localStorage.getItem('kaari.test.push')") == vapid
        (registered,) = anna.get("/me/push-subscriptions")
        assert registered["endpoint"] == sub.endpoint

        # the session tomorrow at 10:00 (Helsinki), on the server's evening clock
        tomorrow = evening.date() + timedelta(days=1)
        starts = datetime.combine(tomorrow, time(10, 0), HELSINKI)
        appt = therapist.post(
            "/appointments",
            {"caseIds": [case_id], "startsAt": starts.isoformat(), "placeKind": "office",
             "details": []},
        )["appointments"][0]  # fmt: skip

        # the server's reminder job pushes the evening-before reminder; the stand-in
        # verified the VAPID signature and decrypted it
        reminder = {"type": "session_reminder",
                    "ids": {"appointmentId": appt["id"], "caseId": case_id}}  # fmt: skip
        poll(lambda: reminder in push.for_subscription(sub), 30, "the reminder at the stand-in")
        scheduled = next(
            p for p in push.for_subscription(sub) if p["type"] == "appointment_scheduled"
        )
        assert scheduled["ids"]["appointmentId"] == appt["id"]
        for p in push.for_subscription(sub):
            assert set(p) == {"type", "ids"}, p  # content-free
        (received,) = [r for r in push.received if r.payload == reminder]
        assert received.headers["content-encoding"] == "aes128gcm"

        reg = registration_id(page, server.url)
        tag = f"session_reminder:{appt['id']}"
        for lang, title, body, action in (
            ("fi", "Käynti huomenna", "Eino: käynti huomenna klo 10.00", "Ei pääse? Peru"),
            ("sv", "Besök i morgon", "Eino har ett besök i morgon kl. 10:00",
             "Kan inte komma? Avboka"),
            ("en", "Session tomorrow", "Eino has a session tomorrow at 10:00",
             "Can't come? Cancel"),
        ):  # fmt: skip
            choose_language(page, lang)
            shown = delivered(page, server.url, reg, reminder, tag)
            assert (shown["title"], shown["lang"]) == (title, lang)
            assert shown["body"].replace("10.00", "10:00") == body.replace("10.00", "10:00")
            assert shown["actions"] == [{"action": "cancel", "title": action}]
            assert shown["data"] == reminder

        family = f"/app/cases/{case_id}/family"
        sessions = f"/app/cases/{case_id}/appointments"
        assert page.evaluate("location.pathname") == family
        # the reminder's body (this browser shows actions): the sessions
        tap(page, tag, "")
        page.wait_for(f"location.pathname === '{sessions}'", 20, "the sessions")
        page.evaluate("history.back()")
        page.wait_for(f"location.pathname === '{family}'", 20, "the thread again")

        # the other notice the server pushed: its tap opens the sessions too
        other = f"appointment_scheduled:{appt['id']}"
        shown = delivered(page, server.url, reg, scheduled, other)
        assert (shown["title"], shown["actions"]) == ("New session booked", [])
        tap(page, other, "")
        page.wait_for(f"location.pathname === '{sessions}'", 20, "the sessions")

        shown = delivered(page, server.url, reg, reminder, tag)
        # "Can't come? Cancel": the two-tap cancel sheet of that session
        tap(page, tag, "cancel")
        page.wait_for(
            f"location.pathname === '/app/cases/{case_id}/appointments/{appt['id']}/cancel'",
            20,
            "the cancel link",
        )
        page.wait_for("!!document.querySelector('#cancel-sheet')", 30, "the cancel sheet")
        assert page.evaluate(f"{NOTICES_JS % json.dumps(tag)}.then(ns => ns.length)") == 0
        assert "Eino is ill" in page.text("#cancel-sheet")
        page.click("#cancel-send")
        page.wait_for("!!document.querySelector('#cancel-done')", 30, "cancelled")
        (place,) = therapist.get(f"/appointments/{appt['id']}")["cases"]
        assert place["status"] == "cancelled"
        assert therapist.get(f"/cancellations/{place['cancellationId']}")["reason"] == "illness"

        # a message notice (the server sends none yet: the service worker's words and tap)
        message = {"type": "message", "ids": {"caseId": case_id}}
        shown = delivered(page, server.url, reg, message, f"message:{case_id}")
        assert (shown["title"], shown["body"]) == (
            "New message from your therapist",
            "Open Kaari to read it.",
        )
        tap(page, f"message:{case_id}", "")
        page.wait_for(f"location.pathname === '/app/cases/{case_id}/family'", 20, "the thread")
        page.wait_for("!!document.querySelector('#composer')", 30, "the thread's composer")
        assert not push.refused, push.refused

        # signing out unsubscribes this browser; the server keeps nothing for the device
        page.click("#signout")
        page.wait_for("!!document.querySelector('#email')", 30, "signed out")
        assert page.evaluate("localStorage.getItem('kaari.test.push')") is None
        assert anna.get("/me/push-subscriptions") == []
    finally:
        for client in (therapist, anna):
            if client is not None:
                client.close()
        server.stop()


def test_a_parent_sets_the_childs_reminder_time_and_quiet_hours(
    tmp_path: Path, database: str, chromium: Chromium
) -> None:
    server = scenario_server(tmp_path, database)
    therapist: Api | None = None
    try:
        people = onboard(server)
        case_id = people["case"]
        therapist = Api(server.url, token=people["therapist"]["token"])
        page = chromium.page()
        page.viewport(*PHONE)
        page.locale("en-GB")
        sign_in(page, server.url)
        page.click("#settings-link")
        page.wait_for("!!document.querySelector('#reminder-time')", 30, "the settings")
        assert page.evaluate("location.pathname") == f"/app/cases/{case_id}/settings"
        assert page.text("h1") == "Eino: notifications and reminders"
        assert page.text("#quiet-form").endswith(
            "No quiet hours set.Save the quiet hoursNo quiet hours"
        )

        def set_time(selector: str, value: str) -> None:
            page.evaluate(
                f"(() => {{ const i = document.querySelector({json.dumps(selector)});"
                f" i.value = {json.dumps(value)};"
                " i.dispatchEvent(new Event('input', {bubbles: true})); })()"
            )

        set_time("#reminder-time", "17:30")
        page.click("#reminder-save")
        page.wait_for("!!document.querySelector('#reminder-status')", 20, "saved")
        assert page.text("#reminder-status") == "Saved: 17:30."
        reminder_url = f"/cases/{case_id}/homework/reminder"
        assert therapist.get(reminder_url)["time"] == "17:30"

        set_time("#quiet-start", "20:00")
        set_time("#quiet-end", "07:00")
        page.click("#quiet-save")
        page.wait_for("!!document.querySelector('#quiet-status')", 20, "saved")
        assert page.text("#quiet-status") == "Saved: 20:00\u201307:00."
        quiet = therapist.get(f"/cases/{case_id}/quiet-hours")
        assert (quiet["start"], quiet["end"], quiet["timeZone"]) == (
            "20:00",
            "07:00",
            "Europe/Helsinki",
        )
        for lang, saved in (
            ("fi", "Tallennettu: klo 17:30."),
            ("sv", "Sparat: kl. 17:30."),
            ("en", "Saved: 17:30."),
        ):
            choose_language(page, lang)
            assert page.text("#reminder-status") == saved  # in the language shown
            page.evaluate("window.scrollTo(0, 0)")
            shot(page, f"settings-{lang}-phone.png")
            page.evaluate("document.querySelector('#quiet-form').scrollIntoView()")
            shot(page, f"settings-quiet-{lang}-phone.png")

        # a reminder in the quiet hours: the server's code in words; nothing changes
        set_time("#reminder-time", "21:15")
        page.click("#reminder-save")
        page.wait_for("!!document.querySelector('#reminder-status.error')", 20, "the error")
        assert page.evaluate("document.querySelector('#reminder-status').dataset.code") == (
            "reminder_in_quiet_hours"
        )
        assert page.text("#reminder-status") == (
            "The reminder falls in the quiet hours. Choose another time."
        )
        choose_language(page, "fi")
        assert page.text("#reminder-status") == (
            "Muistutus osuu hiljaiseen aikaan. Valitse toinen aika."
        )
        choose_language(page, "en")
        assert therapist.get(reminder_url)["time"] == "17:30"

        # equal start and end: 422 quiet_hours_empty in words
        set_time("#quiet-start", "08:00")
        set_time("#quiet-end", "08:00")
        page.click("#quiet-save")
        page.wait_for("!!document.querySelector('#quiet-status.error')", 20, "the error")
        assert page.text("#quiet-status") == "The quiet hours need a different start and end."

        # no quiet hours, no reminder; and the values survive a reload
        page.click("#quiet-clear")
        page.wait_for(
            "document.querySelector('#quiet-status')?.textContent === 'Saved: no quiet hours.'"
        )
        assert therapist.get(f"/cases/{case_id}/quiet-hours")["start"] is None
        set_time("#reminder-time", "21:15")
        page.click("#reminder-save")
        page.wait_for("document.querySelector('#reminder-status')?.textContent === 'Saved: 21:15.'")
        assert therapist.get(reminder_url)["time"] == "21:15"
        page.goto(f"{server.url}/app/cases/{case_id}/settings")
        page.wait_for("document.querySelector('#reminder-time')?.value === '21:15'", 60, "reloaded")
        assert page.evaluate("document.querySelector('#quiet-start').value") == ""
        page.click("#reminder-clear")
        page.wait_for(
            "document.querySelector('#reminder-status')?.textContent === 'Saved: no reminder.'"
        )
        assert therapist.get(reminder_url)["time"] is None
        # the therapist (not a guardian) may not: the server says so (the app shows no
        # buttons to a therapist)
        with pytest.raises(ApiError) as refused:
            therapist.request("PUT", reminder_url, json={"time": "18:00"})
        assert refused.value.status == 403
    finally:
        if therapist is not None:
            therapist.close()
        server.stop()
