"""A video session in the browser (issue #15) against a real `kaari serve` and a real
coturn on loopback (SQLite and PostgreSQL): two browser contexts of one headless
Chromium with its fake camera and microphone, the therapist at desktop size and the
parent on a phone. The therapist opens the room from the week's schedule, sees the
parent waiting and lets her in; a relay that swaps the DTLS fingerprint of the parent's
offer is refused by the therapist's browser (its code in words, the parent told), and
"Try again" connects them with the real one. Then getStats shows video frames decoded
and audio arriving on both sides; the camera and the microphone switch off and on; the
call goes audio only from the therapist's side and back from the parent's; the
parent's page reloads and her seat is resumed and the call repaired; the therapist
switches to relay-only and the connection is built again through coturn; the parent leaves."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from servers import Coturn, KaariServer, scenario_server, stored_bytes
from web_browser import Chromium, Page
from web_support import (
    PASSWORD,
    PHONE,
    assert_accessible,
    assert_reflows,
    choose_language,
    chromium_in,
    onboard,
    shot,
    sign_in,
)

from client.api import Api
from client.call import CallClient
from client.matrix import MatrixClient, MatrixHttp
from signaling.precall import restrict_host_addresses

TURN_SECRET = "web-video-turn-secret-0123456789abcdef"
DESKTOP = (1280, 800)
PEER = ".call-peer"

#: a compromised relay (as tests/signaling's tamper): while the flag is on, each offer that
#: reaches this page (on any of its sockets: a device's frames go to each) has the first
#: byte of its DTLS fingerprint changed; the app's own code is untouched
SWAP_NEXT_OFFER = """(() => {
  const slot = Object.getOwnPropertyDescriptor(WebSocket.prototype, "onmessage");
  Object.defineProperty(WebSocket.prototype, "onmessage", {
    configurable: true,
    get() { return slot.get.call(this); },
    set(handler) {
      slot.set.call(this, (e) => {
        if (window.kaariSwapOffers && typeof e.data === "string") {
          const f = JSON.parse(e.data);
          if (f.type === "signal" && f.kind === "offer") {
            f.payload.sdp = f.payload.sdp.replace(/^(a=fingerprint:sha-256 )(..)/m,
              (_, head, byte) => head + (byte === "AA" ? "BB" : "AA"));
            window.kaariSwapped = (window.kaariSwapped || 0) + 1;
            return handler.call(this, new MessageEvent("message", { data: JSON.stringify(f) }));
          }
        }
        return handler.call(this, e);
      });
    },
  });
})();"""


def peer_attr(page: Page, name: str) -> str:
    return str(page.evaluate(f"document.querySelector('{PEER}')?.dataset.{name} ?? ''"))


def flowing(
    page: Page, what: str, video: bool = True, audio: bool = True, timeout: float = 30
) -> None:
    """getStats (the tile's data-): frames decoded and audio packets keep increasing."""
    page.wait_for(
        f"document.querySelector('{PEER}')?.dataset.state === 'connected'",
        timeout,
        f"{what}: connected",
    )
    counters = (["framesDecoded"] if video else []) + (["audioPackets"] if audio else [])
    first = {c: int(peer_attr(page, c) or 0) for c in counters}
    for c in counters:
        page.wait_for(
            f"Number(document.querySelector('{PEER}')?.dataset.{c}) > {first[c] + 10}",
            timeout,
            f"{what}: {c} increasing",
        )
    if audio:
        page.wait_for(
            f"Number(document.querySelector('{PEER}')?.dataset.audioEnergy) > 0",
            timeout,
            f"{what}: sound",
        )


def second_guardian(server: KaariServer, people: dict[str, Any], tmp_path: Path) -> CallClient:
    """Pekka, a second guardian of the case, with a cross-signed Python device."""
    th = {"authorization": f"Bearer {people['therapist']['token']}"}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        code = http.post(f"/cases/{people['case']}/invites", json={}, headers=th).json()["code"]
        body = {
            "code": code,
            "email": "pekka@example.fi",
            "password": PASSWORD,
            "displayName": "Pekka",
            "locale": "fi",
            "device": {"name": "aiortc", "platform": "other"},
        }
        r = http.post("/invites/accept", json=body)
        assert r.status_code in (200, 201), r.text
        token = r.json()["token"]
    people["secrets"].append(token)
    mx = MatrixClient.open(
        MatrixHttp.connect(server.url, token), tmp_path / "pekka", os.urandom(32)
    )
    mx.bootstrap_cross_signing()
    mx.sync()
    return CallClient(Api(server.url, token=token), mx, [])


async def aiortc_parent(client: CallClient, room: str) -> dict[str, Any]:
    """Join, be let in, connect to the therapist's browser, count 30 of its video frames
    (the browser offers audio and video; aiortc answers), leave."""
    restrict_host_addresses(["127.0.0.1"])
    async with asyncio.timeout(120):
        await client.connect()
        try:
            await client.join(room, 30)
            state = await client.wait_admitted(90)
            therapist = next(
                p["deviceId"] for p in state["participants"] if p["role"] == "therapist"
            )
            peer = await client.wait_peer(therapist, 60)
            await peer.connected.wait()
            while peer.frames < 30:  # noqa: ASYNC110 (a test)
                await asyncio.sleep(0.05)
            await asyncio.sleep(3)  # the browser's getStats sees the frames too
            await client.leave()
            return {"frames": peer.frames, "refusals": client.refusals, "offerer": peer.offerer}
        finally:
            await client.close()


def test_a_video_session_in_the_browser(tmp_path: Path, database: str) -> None:
    coturn = Coturn(tmp_path, [TURN_SECRET])
    coturn.start()
    server = scenario_server(
        tmp_path,
        database,
        KAARI_TURN_HOST="127.0.0.1",
        KAARI_TURN_PORT=str(coturn.port),
        KAARI_TURN_TLS_PORT="0",
        KAARI_TURN_SECRETS=TURN_SECRET,
    )
    try:
        with chromium_in(tmp_path, media=True) as chromium:
            flow(tmp_path, database, server, chromium)
    finally:
        server.stop()
        coturn.stop()


def flow(tmp_path: Path, database: str, server: KaariServer, chromium: Chromium) -> None:
    people = onboard(server)
    th = {"authorization": f"Bearer {people['therapist']['token']}"}
    starts = datetime.now(UTC) + timedelta(minutes=5)
    created = httpx.post(
        f"{server.url}/appointments",
        json={"caseIds": [people["case"]], "startsAt": starts.isoformat(), "placeKind": "video"},
        headers=th,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    appt = created.json()["appointments"][0]["id"]
    row = f".th-session[data-appointment-id='{appt}']"

    # the therapist, at her desk, opens the room from the week's schedule
    terhi = chromium.page()
    terhi.viewport(*DESKTOP, scale=1)
    terhi.locale("en-GB")
    terhi.call("Page.addScriptToEvaluateOnNewDocument", source=SWAP_NEXT_OFFER)
    terhi.goto(f"{server.url}/app/")
    terhi.wait_for("!!document.querySelector('#email')", 60, "the sign-in form")
    terhi.type("#email", "terhi@example.fi")
    terhi.type("#password", PASSWORD)
    terhi.click("#signin")
    terhi.wait_for("!!document.querySelector('.case-card')", 60, "the caseload")
    terhi.goto(f"{server.url}/app/schedule")
    terhi.click(f"{row} .call-join")
    terhi.wait_for("document.querySelector('main.call')?.dataset.phase === 'in'", 60, "in the room")
    assert terhi.evaluate("location.pathname") == f"/app/calls/{appt}"
    assert terhi.text("#call-lobby-title") == "Waiting room"
    assert terhi.text(".call-lobby .muted") == "Nobody is waiting."

    # the parent, on her phone, from her schedule's session: the waiting room
    anna = chromium.new_profile_page("about:blank")
    anna.viewport(*PHONE)
    anna.locale("en-GB")
    sign_in(anna, server.url)
    anna.click("#schedule-link")
    anna.click(f".session[data-appointment-id='{appt}'] .call-join")
    anna.wait_for("!!document.querySelector('#call-waiting')", 60, "the waiting room")
    assert anna.text("#call-waiting").startswith("You are in the waiting room.")
    for lang in ("fi", "sv", "en"):
        choose_language(anna, lang)
        shot(anna, f"call-waiting-{lang}-phone.png")

    # she is on the therapist's list; let in, through a relay that swaps the fingerprint
    terhi.wait_for(
        "document.querySelectorAll('#call-waiting-list li').length === 1", 30, "Anna waiting"
    )
    assert terhi.text("#call-waiting-list li span") == "Anna (Parent)"
    for lang in ("fi", "sv", "en"):
        choose_language(terhi, lang)
        shot(terhi, f"call-lobby-{lang}-desktop.png")
    terhi.evaluate("window.kaariSwapOffers = true")
    terhi.click(".call-admit")
    terhi.wait_for(
        f"document.querySelector('{PEER} .call-refused')?.dataset.code === 'sdp_changed'",
        60,
        "the swapped fingerprint refused",
    )
    assert terhi.evaluate("window.kaariSwapped") >= 1
    terhi.evaluate("window.kaariSwapOffers = false")  # the relay behaves again
    assert terhi.text(f"{PEER} .call-refused").startswith("The call was stopped for your safety")
    anna.wait_for(
        f"document.querySelector('{PEER} .call-refused')?.dataset.code === 'refused_by_peer'",
        30,
        "the parent told",
    )
    for lang in ("fi", "sv", "en"):
        choose_language(terhi, lang)
        shot(terhi, f"call-refused-{lang}-desktop.png")
    # try again: the real offer, authenticated by Anna's device, connects
    terhi.click(f"{PEER} .call-retry")
    flowing(terhi, "the therapist")
    flowing(anna, "the parent")
    assert peer_attr(terhi, "path") == "direct"
    assert_accessible(anna, "the parent's room")
    assert_reflows(anna, "the parent's room")
    assert_accessible(terhi, "the therapist's room")
    for lang in ("fi", "sv", "en"):
        choose_language(anna, lang)
        shot(anna, f"call-{lang}-phone.png")
        choose_language(terhi, lang)
        shot(terhi, f"call-{lang}-desktop.png")

    # camera and microphone off and on (the other side is told)
    anna.click("#call-camera")
    terhi.wait_for(
        f"document.querySelector('{PEER}').dataset.remoteCamera === 'off'", 20, "camera off"
    )
    assert (
        anna.evaluate("document.querySelector('#call-self').srcObject.getVideoTracks().length") == 0
    )
    anna.click("#call-mic")
    terhi.wait_for(f"document.querySelector('{PEER}').dataset.remoteMic === 'off'", 20, "mic off")
    anna.click("#call-camera")
    anna.click("#call-mic")
    terhi.wait_for(
        f"document.querySelector('{PEER}').dataset.remoteCamera === 'on'"
        f" && document.querySelector('{PEER}').dataset.remoteMic === 'on'",
        20,
        "camera and mic on",
    )
    flowing(terhi, "the therapist, camera back")

    # audio only, from the therapist's side: both cameras stop; back from the parent's
    terhi.click("#call-audio-only")
    anna.wait_for(
        "document.querySelector('main.call').dataset.audioOnly === 'yes'", 20, "audio only"
    )
    anna.wait_for(
        "document.querySelector('#call-self').srcObject.getVideoTracks().length === 0",
        20,
        "her camera off",
    )
    assert (
        terhi.evaluate("document.querySelector('#call-self').srcObject.getVideoTracks().length")
        == 0
    )
    flowing(anna, "the parent, audio only", video=False)
    anna.click("#call-audio-only")
    terhi.wait_for(
        "document.querySelector('main.call').dataset.audioOnly === 'no'", 20, "video again"
    )
    flowing(terhi, "the therapist, video again")
    flowing(anna, "the parent, video again")

    # the parent's page reloads: her seat is resumed (no waiting room) and the call repaired
    anna.call("Page.reload")
    anna.wait_for("document.querySelector('main.call')?.dataset.phase === 'in'", 60, "resumed")
    flowing(anna, "the parent after the reload")
    flowing(terhi, "the therapist after the reload")

    # "Reconnect": an ICE restart on the same connection (the callee asks, the parent's
    # browser offers with new credentials), counted on both sides
    assert peer_attr(terhi, "iceRestarts") == "0"
    terhi.click(f"{PEER} .call-reconnect")
    for page in (terhi, anna):
        page.wait_for(
            f"document.querySelector('{PEER}')?.dataset.iceRestarts === '1'", 30, "restarted"
        )
    # the offerer (controlling) side's selected pair is of the new credentials
    anna.wait_for(
        f"document.querySelector('{PEER}')?.dataset.iceCurrent === 'yes'", 30, "the new pair"
    )
    flowing(terhi, "the therapist after the ICE restart")
    flowing(anna, "the parent after the ICE restart")

    # relay only: the connection is built again, through coturn
    terhi.evaluate("document.querySelector('#call-relay-only').click()")
    terhi.wait_for(
        f"document.querySelector('{PEER}')?.dataset.path === 'relay'", 30, "through the relay"
    )
    anna.wait_for(
        f"document.querySelector('{PEER}')?.dataset.path === 'relay'", 30, "through the relay"
    )
    flowing(terhi, "the therapist via coturn")
    flowing(anna, "the parent via coturn")

    # the parent leaves; the therapist is alone again
    anna.click("#call-hangup")
    anna.wait_for("!!document.querySelector('#call-ended')", 20, "left")
    terhi.wait_for(
        f"!document.querySelector('{PEER}') && !!document.querySelector('.call-alone')", 30, "alone"
    )

    # a room that is not hers (here: no such appointment) is refused in words
    anna.goto(f"{server.url}/app/calls/{uuid4()}")
    anna.wait_for(
        "document.querySelector('#call-error')?.dataset.code === 'room_not_found'", 60, "refused"
    )
    assert anna.text("#call-error") == "This session is not available to you."

    # the aiortc reference client (client/call.py) as a second parent, the browser's peer
    terhi.evaluate("document.querySelector('#call-relay-only').click()")  # relay-only off
    pekka = second_guardian(server, people, tmp_path)
    outcome: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: outcome.update(asyncio.run(aiortc_parent(pekka, appt)))
    )
    thread.start()
    try:
        terhi.wait_for(
            "document.querySelectorAll('#call-waiting-list li').length === 1", 60, "Pekka waiting"
        )
        terhi.click(".call-admit")
        flowing(terhi, "the therapist from aiortc", audio=False, timeout=60)
    finally:
        thread.join(90)
    assert outcome.get("refusals") == [], outcome
    assert outcome.get("offerer") is True, outcome
    assert int(outcome.get("frames", 0)) >= 30, outcome
    terhi.wait_for(f"!document.querySelector('{PEER}')", 30, "Pekka left")

    # the server relays SDP but keeps none of it, nor the secrets
    everything = stored_bytes(tmp_path, database)
    assert b"a=fingerprint" not in everything
    for secret in people["secrets"]:
        assert secret.encode() not in everything
    assert json.dumps(TURN_SECRET).encode() not in everything
