"""What the browser tests share: the build, a phone-sized Chromium, an organisation with
a therapist and a guardian of Eino's case, the language switch and screenshots."""

from __future__ import annotations

import json
import os
import struct
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from servers import KaariServer
from support import service_missing
from web_browser import Chromium, Page

from app.messaging.service import thread_id_of

PASSWORD = "web-Passw0rd-8d21"
DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
PHONE = (390, 844)
TABLET = (820, 1180)
#: KAARI_SCREENSHOTS=<dir> keeps the screens the test passes through (docs/screenshots)
SCREENSHOTS = os.environ.get("KAARI_SCREENSHOTS", "")


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Chromium]:
    """The test's headless Chromium (import it into the test module: a fixture)."""
    with chromium_in(tmp_path) as browser:
        yield browser


def sign_in(page: Page, url: str | None = None, timeout: float = 60) -> None:
    """Anna signs in on the page (at ``url``'s app, or where it is) and her family thread
    opens."""
    if url is not None:
        page.goto(f"{url}/app/")
    page.wait_for("!!document.querySelector('#email')", timeout, "the sign-in form")
    page.type("#email", "anna@example.fi")
    page.type("#password", PASSWORD)
    page.click("#signin")
    page.wait_for("!!document.querySelector('#composer')", timeout, "the family thread")


def text_of(page: Page, selector: str) -> str:
    return str(page.evaluate(f"document.querySelector({json.dumps(selector)})?.textContent ?? ''"))


def bodies(page: Page, side: str) -> list[str]:
    """The texts of the thread's messages of a side (``own`` or ``other``)."""
    found = page.evaluate(
        f"JSON.stringify([...document.querySelectorAll('.msg.{side} .body')]"
        ".map(e => e.textContent))"
    )
    return list(json.loads(found))


@contextmanager
def chromium_in(
    tmp_path: Path, *, media: bool = False, extra_args: Sequence[str] = ()
) -> Iterator[Chromium]:
    """A headless Chromium (``media``: the fake camera and microphone of calls;
    ``extra_args``: more switches); skipped (a failure under CI=true) without it or the
    build."""
    if not (DIST / "index.html").is_file():
        service_missing("web/dist", "not built; scripts/test.sh builds it (npm run build in web/)")
    # its profile and log outside the server's files that the privacy check reads
    browser = Chromium(tmp_path / "browser" / "profile", media=media, extra_args=extra_args)
    browser.start()
    try:
        yield browser
    finally:
        browser.stop()


def onboard(server: KaariServer, guardian: bool = True) -> dict[str, Any]:
    """An organisation, a therapist and a guardian of Eino's case, over the API (without
    ``guardian``: the case has none yet; the test invites one)."""
    org = server.cli("admin", "create-org", "--name", "Terapia Oy")
    server.cli(
        "admin", "create-user", "--org", org, "--email", "admin@example.fi",
        "--display-name", "Admin", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    server.start()
    with httpx.Client(base_url=server.url, timeout=30) as http:

        def accept(code: str, email: str, name: str) -> dict[str, Any]:
            body = {
                "code": code,
                "email": email,
                "password": PASSWORD,
                "displayName": name,
                "locale": "en",
                "device": {"name": "setup", "platform": "other"},
            }
            r = http.post("/invites/accept", json=body)
            assert r.status_code in (200, 201), r.text
            out: dict[str, Any] = r.json()
            return out

        login = {"email": "admin@example.fi", "password": PASSWORD, "device": {"name": "admin"}}
        admin = http.post("/auth/login", json=login).json()
        h = {"authorization": f"Bearer {admin['token']}"}
        code = http.post("/org/invites", json={"role": "therapist"}, headers=h).json()["code"]
        therapist = accept(code, "terhi@example.fi", "Terhi")
        th = {"authorization": f"Bearer {therapist['token']}"}
        case_id = http.post("/cases", json={"childDisplayName": "Eino"}, headers=th).json()["id"]
        parent: dict[str, Any] | None = None
        if guardian:
            code = http.post(f"/cases/{case_id}/invites", json={}, headers=th).json()["code"]
            parent = accept(code, "anna@example.fi", "Anna")
    return {
        "therapist": therapist,
        "guardian": parent,
        "case": case_id,
        "room": f"!{thread_id_of(UUID(case_id), 'family')}:localhost",
        "secrets": [PASSWORD, admin["token"], therapist["token"]]
        + ([parent["token"]] if parent else []),
    }


def keyed_devices(url: str, token: str, user: str) -> list[str]:
    """The devices of ``user`` that published Matrix keys, as another member sees them."""
    r = httpx.post(
        f"{url}/_matrix/client/v3/keys/query",
        json={"device_keys": {user: []}},
        headers={"authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return sorted(r.json()["device_keys"].get(user, {}))


def choose_language(page: Page, lang: str) -> None:
    """The switch in the top bar (or on the sign-in screen)."""
    page.evaluate(
        "(() => { const s = document.querySelector('#language'); s.value = '"
        + lang
        + "'; s.dispatchEvent(new Event('change', {bubbles: true})); })()"
    )
    page.wait_for(f"document.documentElement.lang === '{lang}'")


def shot(page: Page, name: str) -> None:
    """Keep the screen (with KAARI_SCREENSHOTS): a phone's also at tablet size, then the
    phone again (a parent uses either)."""
    if SCREENSHOTS:
        time.sleep(0.3)  # the last frame painted
        page.screenshot(Path(SCREENSHOTS) / name)
        if name.endswith("-phone.png"):
            page.viewport(*TABLET)
            time.sleep(0.4)
            page.screenshot(Path(SCREENSHOTS) / name.replace("-phone.png", "-tablet.png"))
            page.viewport(*PHONE)
            time.sleep(0.2)


#: axe-core, pinned in web/package.json's devDependencies (installed by npm ci)
AXE = DIST.parent / "node_modules" / "axe-core" / "axe.min.js"
#: axe impacts a browser test fails on
BLOCKING = ("serious", "critical")

AXE_RUN = """axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(
  r.violations.filter(v => %s.includes(v.impact)).map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary)}))))"""


def assert_accessible(page: Page, what: str) -> None:
    """axe-core on the page as it is now: no serious or critical violation."""
    if not AXE.is_file():
        service_missing("axe-core", "not installed; npm ci in web/ installs it")
    if page.evaluate("typeof axe === 'undefined'"):
        # a DevTools evaluation: not subject to the page's CSP
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = json.loads(page.evaluate(AXE_RUN % json.dumps(list(BLOCKING))))
    assert found == [], f"{what}: axe-core found {json.dumps(found, indent=1, ensure_ascii=False)}"


OVERFLOW = """JSON.stringify([...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 8).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className))"""


def assert_reflows(
    page: Page, what: str, size: tuple[int, int] = PHONE, scale: float = 2.0
) -> None:
    """At 200 % zoom (the viewport's CSS pixels halved, as the browser's zoom does) the
    screen needs no horizontal scrolling; the viewport is set back to ``size``."""
    page.viewport(size[0] // 2, size[1] // 2, scale=scale * 2)
    try:
        time.sleep(0.3)  # laid out again
        wide = page.evaluate(
            "document.documentElement.scrollWidth > document.documentElement.clientWidth"
        )
        assert not wide, f"{what} scrolls sideways at 200 %: {page.evaluate(OVERFLOW)}"
    finally:
        page.viewport(*size, scale=scale)


def checked(page: Page, what: str, size: tuple[int, int] = PHONE, scale: float = 2.0) -> None:
    """axe-core, and readable at 200 % zoom."""
    assert_accessible(page, what)
    assert_reflows(page, what, size, scale)


def set_value(page: Page, selector: str, value: str, event: str = "input") -> None:
    """A form control's value as the user would leave it (a date, a select, a number)."""
    page.evaluate(
        f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
        " const proto = Object.getPrototypeOf(e);"
        f" Object.getOwnPropertyDescriptor(proto, 'value').set.call(e, {json.dumps(value)});"
        f" e.dispatchEvent(new Event({json.dumps(event)}, {{bubbles: true}})); }})()"
    )


def png(width: int, height: int) -> bytes:
    """A real PNG of random pixels (distinctive bytes for the privacy checks)."""
    pixels = os.urandom(width * height * 3)
    rows = b"".join(b"\0" + pixels[y * width * 3 : (y + 1) * width * 3] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def watch_network(page: Page) -> None:
    """Record the page's requests and WebSocket frames (``Page.network_events``); before
    the page load whose socket is to be watched."""
    page.call("Network.enable")


def network_mark(page: Page) -> int:
    """A position in the recorded network events: what came before this call."""
    page.evaluate("0")  # the events already sent are read with the answer
    return len(page.network_events)


def live_frames(page: Page, since: int, event: str, **ids: str) -> list[float]:
    """When (DevTools timestamps) the page's socket received the live ``event`` with
    these ids since ``since``."""
    found = []
    for m in page.network_events[since:]:
        if m["method"] != "Network.webSocketFrameReceived":
            continue
        try:
            frame = json.loads(m["params"]["response"]["payloadData"])
        except ValueError:
            continue
        if frame.get("type") != "event" or frame.get("event") != event:
            continue
        if all(frame.get("ids", {}).get(k) == v for k, v in ids.items()):
            found.append(float(m["params"]["timestamp"]))
    return found


def requests_to(page: Page, since: int, path_part: str, method: str = "GET") -> list[float]:
    """When the page asked for a URL containing ``path_part`` since ``since``."""
    return [
        float(m["params"]["timestamp"])
        for m in page.network_events[since:]
        if m["method"] == "Network.requestWillBeSent"
        and m["params"]["request"]["method"] == method
        and path_part in m["params"]["request"]["url"]
    ]


def assert_live(page: Page, since: int, path_part: str, event: str, **ids: str) -> None:
    """The page's socket received the live ``event`` (with these ids) after ``since``,
    and the page asked for ``path_part`` only after that frame, at once: no poll brought
    the change (a poll that happened to follow the frame would not be milliseconds
    behind it; the app's fallback poll runs only while the socket is down, live.ts)."""
    frames = live_frames(page, since, event, **ids)
    assert frames, f"no {event} frame on the page's socket"
    asked = requests_to(page, since, path_part)
    assert asked, f"{path_part} was not asked again"
    assert min(asked) >= frames[0], (event, frames, asked)
    assert min(asked) - frames[0] < 1, (event, frames, asked)
