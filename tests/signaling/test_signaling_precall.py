"""The pre-call test's API: the pass, the echo peer (media and pings come back), its
limits (per instance, per user, timeout, shutdown), bad offers, and the page itself."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiortc import (
    AudioStreamTrack,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from litestar.testing import TestClient
from signaling_support import app_settings, signed_in
from support import Session, accept_invite, assert_problem, run

from app.config import Settings
from app.core.principal import Principal
from client.rtc import configuration
from signaling.precall import check_pass, issue_pass
from signaling.service import Signaling

TIMEOUT = 20.0


def loopback(sqlite_template: Path, tmp_path: Path, **overrides: Any) -> Settings:
    # the echo peer (and, in this process, the test's own peer) offer only 127.0.0.1
    return app_settings(sqlite_template, tmp_path, precall_host_addresses="127.0.0.1", **overrides)


@pytest.fixture
def precall(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[TestClient[Any], Session]]:
    with signed_in(loopback(sqlite_template, tmp_path)) as pair:
        yield pair


def get_pass(client: TestClient[Any], session: Session) -> str:
    r = client.post("/rtc/precall/pass", headers=session.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["url"] == "/precall#pass=" + body["pass"]
    token: str = body["pass"]
    return token


def echoes(client: TestClient[Any]) -> Signaling:
    signaling = client.app.state.signaling
    assert isinstance(signaling, Signaling)
    return signaling


async def offer_sdp(*, video: bool = True, audio: bool = True) -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection(configuration([]))
    if video:
        pc.addTrack(VideoStreamTrack())
    if audio:
        pc.addTrack(AudioStreamTrack())
    pc.createDataChannel("precall")
    await pc.setLocalDescription(await pc.createOffer())
    assert pc.localDescription is not None
    return pc, pc.localDescription.sdp


async def post_offer(client: TestClient[Any], token: str, sdp: str) -> Any:
    return await asyncio.to_thread(
        client.post, "/rtc/precall/offer", json={"pass": token, "type": "offer", "sdp": sdp}
    )


async def echo_test(client: TestClient[Any], token: str) -> dict[str, Any]:
    """What the page does: offer, connect, ping over the data channel, see media back."""
    pc, sdp = await offer_sdp()
    came_back: dict[str, Any] = {}
    pc.on("track", lambda track: came_back.__setitem__(track.kind, track))
    try:
        async with asyncio.timeout(TIMEOUT):
            r = await post_offer(client, token, sdp)
            assert r.status_code == 200, r.text
            answer = r.json()
            assert answer["type"] == "answer"
            assert answer["timeoutSeconds"] > 0
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            channel = pc.createDataChannel("pings")
            opened = asyncio.Event()
            channel.on("open", opened.set)
            pongs: asyncio.Queue[str] = asyncio.Queue()
            channel.on("message", pongs.put_nowait)
            await opened.wait()
            rtts = []
            for i in range(3):
                sent = time.perf_counter()
                channel.send(f"ping{i}")
                assert await pongs.get() == f"pong{i}"
                rtts.append((time.perf_counter() - sent) * 1000)
            channel.send("not a ping")
            channel.send("ping" + "x" * 100)  # too long: no answer
            channel.send("ping-last")
            assert await pongs.get() == "pong-last"
            video = await came_back["video"].recv()
            audio = await came_back["audio"].recv()
            return {
                "state": pc.connectionState,
                "rtt_ms": sorted(rtts)[1],
                "video": (video.width, video.height),
                "audio_samples": audio.samples,
            }
    finally:
        await asyncio.wait_for(pc.close(), 5)


def test_the_echo_peer_sends_media_back_and_answers_pings(
    precall: tuple[TestClient[Any], Session],
) -> None:
    client, session = precall
    started = time.monotonic()
    result = run(echo_test(client, get_pass(client, session)))
    print(f"echo test: {result}, {time.monotonic() - started:.2f} s")
    assert result["state"] == "connected"
    assert result["video"] == (640, 480)
    assert result["audio_samples"] > 0
    assert result["rtt_ms"] >= 0


def test_the_pass_needs_a_session_and_is_checked(
    precall: tuple[TestClient[Any], Session],
) -> None:
    client, session = precall
    assert_problem(client.post("/rtc/precall/pass"), 401, "unauthenticated")
    token = get_pass(client, session)
    settings = echoes(client).settings
    holder = check_pass(settings, token, time.time())
    assert (holder.user_id, holder.device_id) == (session.user_id, session.device_id)
    payload, _, mac = token.partition(".")
    forged = [
        "",
        "nonsense",
        payload + "." + mac[::-1],
        payload[:-2] + "AA." + mac,
        token + "x",
    ]
    for bad in forged:
        r = client.post("/rtc/precall/ice-servers", json={"pass": bad or "x"})
        assert_problem(r, 401, "precall_pass_invalid")
    # expired: issued long enough ago
    principal = Principal(session.user_id, session.user_id, "admin", session.device_id)
    old, _ = issue_pass(settings, principal, now=time.time() - 10_000)
    assert_problem(
        client.post("/rtc/precall/ice-servers", json={"pass": old}), 401, "precall_pass_invalid"
    )
    # another deployment's secret
    other = Settings(secret_key="another-deployment-secret-key-0123456789")
    foreign, _ = issue_pass(other, principal, time.time())
    assert_problem(
        client.post("/rtc/precall/offer", json={"pass": foreign, "type": "offer", "sdp": "v=0"}),
        401,
        "precall_pass_invalid",
    )
    r = client.post("/rtc/precall/ice-servers", json={"pass": token})
    assert r.status_code == 200, r.text
    assert r.json()["relay"] is False


def test_bad_offers_are_refused_and_leave_no_peer(
    precall: tuple[TestClient[Any], Session],
) -> None:
    client, session = precall
    token = get_pass(client, session)

    def offer(sdp: str, kind: str = "offer") -> Any:
        return client.post("/rtc/precall/offer", json={"pass": token, "type": kind, "sdp": sdp})

    assert_problem(offer("v=0\r\n"), 422, "invalid_sdp")
    assert_problem(offer("garbage\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"), 422, "invalid_sdp")
    assert_problem(offer("v=0", kind="answer"), 422, "validation_error")
    assert_problem(offer("x" * 40_000), 422, "validation_error")

    async def two_videos() -> Any:
        pc, sdp = await offer_sdp()
        try:
            video = sdp[sdp.index("m=video") : sdp.index("m=audio")]
            return await asyncio.to_thread(offer, sdp + video)
        finally:
            await pc.close()

    assert_problem(run(two_videos()), 422, "invalid_sdp")
    assert echoes(client).echoes.running == 0


def test_limits_per_instance_per_user_timeout_and_shutdown(
    sqlite_template: Path, tmp_path: Path
) -> None:
    settings = loopback(sqlite_template, tmp_path, precall_max_peers=2, precall_timeout_seconds=1.5)
    with signed_in(settings) as (client, admin):
        r = client.post("/org/invites", json={"role": "therapist"}, headers=admin.headers)
        therapist = accept_invite(client, r.json()["code"], "t@example.fi")
        r = client.post("/org/invites", json={"role": "therapist"}, headers=admin.headers)
        third = accept_invite(client, r.json()["code"], "t3@example.fi")
        state = echoes(client).echoes

        async def scenario() -> None:
            pcs = []
            try:
                replies = []
                for who in (admin, admin, therapist, third):
                    pc, sdp = await offer_sdp(video=False)
                    pcs.append(pc)
                    token = await asyncio.to_thread(get_pass, client, who)
                    replies.append(await post_offer(client, token, sdp))
                first, again, second, refused = replies
                assert [first.status_code, again.status_code, second.status_code] == [200] * 3
                assert state.running == 2  # the admin's second offer replaced the first
                body = assert_problem(refused, 503, "precall_busy")
                assert refused.headers["retry-after"] == "2"
                assert body["retryAfter"] == 2
                for _ in range(100):  # at most 10 s
                    if not state.running:
                        break
                    await asyncio.sleep(0.1)
                assert state.running == 0, "echo peers outlive their timeout"
                # one more, left running for the shutdown below
                pc, sdp = await offer_sdp(video=False)
                pcs.append(pc)
                token = await asyncio.to_thread(get_pass, client, third)
                assert (await post_offer(client, token, sdp)).status_code == 200
            finally:
                for pc in pcs:
                    await pc.close()

        run(scenario())
        assert state.running == 1
    assert state.running == 0, "shutdown leaves echo peers running"


def test_precall_off_is_503(sqlite_template: Path, tmp_path: Path) -> None:
    with signed_in(loopback(sqlite_template, tmp_path, precall_max_peers=0)) as (client, s):
        token = get_pass(client, s)

        async def attempt() -> Any:
            pc, sdp = await offer_sdp(video=False)
            try:
                return await post_offer(client, token, sdp)
            finally:
                await pc.close()

        assert_problem(run(attempt()), 503, "precall_disabled")


def test_no_sdp_pass_or_address_is_logged(
    precall: tuple[TestClient[Any], Session], caplog: pytest.LogCaptureFixture
) -> None:
    client, session = precall
    caplog.set_level(logging.DEBUG)
    token = get_pass(client, session)
    run(echo_test(client, token))
    text = "\n".join(f"{r.name} {r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert token not in text
    for needle in ("a=fingerprint", "candidate", "127.0.0.1", "ice-pwd", "m=video"):
        assert needle not in text, needle
    assert "pre-call echo started" in text


@pytest.mark.parametrize(
    ("query", "accept", "lang", "title"),
    [
        ("", "", "fi", "Laitetesti ennen videotapaamista"),
        ("?lang=sv", "en", "sv", "Test före videomötet"),
        ("?lang=en", "fi", "en", "Check before the video session"),
        ("", "sv-FI,sv;q=0.9,en;q=0.8", "sv", "Test före videomötet"),
        ("", "de-DE, en-GB;q=0.5, fi;q=0.4", "en", "Check before the video session"),
        ("", "de, fr;q=0.5", "fi", "Laitetesti ennen videotapaamista"),
        ("?lang=xx", "fi;q=0, en", "en", "Check before the video session"),
    ],
)
def test_the_page_speaks_finnish_swedish_or_english(
    precall: tuple[TestClient[Any], Session], query: str, accept: str, lang: str, title: str
) -> None:
    client, _ = precall
    r = client.get("/precall" + query, headers={"accept-language": accept} if accept else {})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-language"] == lang
    assert f'<html lang="{lang}">' in r.text
    assert title in r.text
    assert "{{" not in r.text


def test_the_page_loads_nothing_from_elsewhere(
    precall: tuple[TestClient[Any], Session],
) -> None:
    client, _ = precall
    first, second = client.get("/precall"), client.get("/precall")
    csp = first.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce is not None
    assert first.text.count(f'nonce="{nonce.group(1)}"') == 2  # the style and the script
    assert nonce.group(1) not in second.text
    assert "default-src 'none'" in csp
    assert "connect-src 'self'" in csp
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["referrer-policy"] == "no-referrer"
    assert not re.search(r"(src|href)=\"(https?:)?//", first.text)
    assert "https://" not in first.text
    assert "http://" not in first.text
