"""A group video session in the browser (issue #15) against a real `kaari serve` (SQLite
and PostgreSQL): three browser contexts of one headless Chromium with its fake camera
and microphone, the therapist and the guardians of two families of a children's group.
The therapist lets both families in; every one of them connects to both others (a mesh)
and decodes both others' video (getStats, per remote tile), the two families through the
therapist's vouch for each other's certificate, without learning who the other family
is. A fourth person, beyond the room's three seats (KAARI_ROOM_MAX_PARTICIPANTS=3, to
show the limit cheaply; the four-child group's seats are tests/signaling's), is refused
in words. The server keeps no SDP and no secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from servers import KaariServer, scenario_server, stored_bytes
from web_browser import Chromium, Page
from web_support import (
    PASSWORD,
    PHONE,
    assert_accessible,
    choose_language,
    chromium_in,
    onboard,
    shot,
)

TILE = ".call-peer"


def guardian(server: KaariServer, th: dict[str, str], case: str, email: str, name: str) -> str:
    """A guardian of ``case`` invited and accepted over the API; her session token."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        code = http.post(f"/cases/{case}/invites", json={}, headers=th).json()["code"]
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
        token: str = r.json()["token"]
        return token


def enter(chromium: Chromium, url: str, email: str, room: str, ready: str) -> Page:
    """A new browser context: sign in as ``email``, then open the room."""
    page = chromium.new_profile_page("about:blank")
    page.viewport(*PHONE)
    page.locale("en-GB")
    page.goto(f"{url}/app/")
    page.wait_for("!!document.querySelector('#email')", 60, f"{email}: the sign-in form")
    page.type("#email", email)
    page.type("#password", PASSWORD)
    page.click("#signin")
    page.wait_for(f"!!document.querySelector('{ready}')", 60, f"{email}: signed in")
    page.goto(f"{url}/app/calls/{room}")
    return page


def tiles(page: Page) -> list[dict[str, Any]]:
    found = page.evaluate(
        f"JSON.stringify([...document.querySelectorAll('{TILE}')].map(e => ({{"
        "state: e.dataset.state, frames: Number(e.dataset.framesDecoded || 0),"
        " name: e.getAttribute('aria-label')})))"
    )
    return list(json.loads(found))


def decodes_both(page: Page, who: str) -> list[str]:
    """Two remote tiles, both connected and decoding video (frames keep increasing);
    their names as this page shows them."""
    page.wait_for(
        f"[...document.querySelectorAll('{TILE}')].filter(e =>"
        " e.dataset.state === 'connected' && Number(e.dataset.framesDecoded) > 0).length === 2",
        60,
        f"{who}: both others connected with video",
    )
    first = [t["frames"] for t in tiles(page)]
    page.wait_for(
        f"(() => {{ const f = [...document.querySelectorAll('{TILE}')]"
        ".map(e => Number(e.dataset.framesDecoded));"
        f" return f.length === 2 && f[0] > {first[0] + 10} && f[1] > {first[1] + 10}; }})()",
        30,
        f"{who}: both others' frames increasing",
    )
    return sorted(t["name"] for t in tiles(page))


def test_a_group_video_session_in_the_browser(tmp_path: Path, database: str) -> None:
    server = scenario_server(tmp_path, database, KAARI_ROOM_MAX_PARTICIPANTS="3")
    try:
        with chromium_in(tmp_path, media=True) as chromium:
            flow(tmp_path, database, server, chromium)
    finally:
        server.stop()


def flow(tmp_path: Path, database: str, server: KaariServer, chromium: Chromium) -> None:
    people = onboard(server)
    th = {"authorization": f"Bearer {people['therapist']['token']}"}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        r = http.post("/cases", json={"childDisplayName": "Aino"}, headers=th)
        other_case = r.json()["id"]
    people["secrets"].append(guardian(server, th, other_case, "bea@example.fi", "Bea"))
    people["secrets"].append(guardian(server, th, people["case"], "pekka@example.fi", "Pekka"))
    body = {
        "caseIds": [people["case"], other_case],
        "groupKind": "children",
        "startsAt": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
        "placeKind": "video",
    }
    created = httpx.post(f"{server.url}/appointments", json=body, headers=th, timeout=30)
    assert created.status_code == 201, created.text
    room = created.json()["appointments"][0]["id"]

    # the therapist opens the room; both families wait and are let in
    terhi = enter(chromium, server.url, "terhi@example.fi", room, ".case-card")
    terhi.wait_for("document.querySelector('main.call')?.dataset.phase === 'in'", 60, "in")
    anna = enter(chromium, server.url, "anna@example.fi", room, "#composer")
    bea = enter(chromium, server.url, "bea@example.fi", room, "#composer")
    for page, who in ((anna, "Anna"), (bea, "Bea")):
        page.wait_for("!!document.querySelector('#call-waiting')", 60, f"{who} waiting")
    terhi.wait_for(
        "document.querySelectorAll('#call-waiting-list li').length === 2", 30, "both waiting"
    )
    terhi.click("#call-admit-all")

    # a mesh: each of the three decodes the other two's video
    assert decodes_both(terhi, "the therapist") == ["Anna (Parent)", "Bea (Parent)"]
    # a family sees the therapist by name and the other family only as "another family"
    assert decodes_both(anna, "Anna") == ["Another family", "Terhi (Therapist)"]
    assert decodes_both(bea, "Bea") == ["Another family", "Terhi (Therapist)"]
    assert "Bea" not in anna.text("main.call")
    assert "Anna" not in bea.text("main.call")
    assert_accessible(anna, "a family's group room")
    for lang in ("fi", "sv", "en"):
        choose_language(anna, lang)
        shot(anna, f"call-group-{lang}-phone.png")

    # a fourth person, beyond the room's three seats, is refused in words
    pekka = enter(chromium, server.url, "pekka@example.fi", room, "#composer")
    pekka.wait_for(
        "document.querySelector('#call-error')?.dataset.code === 'room_full'", 60, "refused"
    )
    assert pekka.text("#call-error") == "The room is full."
    shot(pekka, "call-full-en-phone.png")
    choose_language(pekka, "fi")
    assert pekka.text("#call-error") == "Huone on täynnä."
    shot(pekka, "call-full-fi-phone.png")
    choose_language(pekka, "sv")
    assert pekka.text("#call-error") == "Rummet är fullt."
    shot(pekka, "call-full-sv-phone.png")
    assert [len(tiles(p)) for p in (terhi, anna, bea)] == [2, 2, 2]

    # the server relays SDP and vouches but keeps none of them, nor the secrets
    everything = stored_bytes(tmp_path, database)
    assert b"a=fingerprint" not in everything
    assert b"org.kaari.call.vouch" not in everything
    for secret in people["secrets"]:
        assert secret.encode() not in everything
