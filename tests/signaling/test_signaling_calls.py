"""Reference call clients (aiortc) meet through a real `kaari serve`: the waiting room,
offer/answer authenticated by the Matrix devices, a data channel and media; relay-only
through coturn; a swapped fingerprint, a reflected answer and a replayed offer refused; a
mesh of three; two instances on one Redis and one PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCPeerConnection
from calls_support import CALL_SECONDS, caller, clients, loopback_only, talk, video_room
from scenarios.matrix_onboarding import People, onboard
from servers import KaariServer, fresh_postgres_database
from signaling_support import TURN_SECRET, Coturn
from support import REDIS_URL, reachable, run, service_missing

from client.call import CALL_AUTH_INVALID, CallClient
from client.rtc import candidate_types

# the tests share one server for the module: keep them on one xdist worker
pytestmark = pytest.mark.xdist_group("signaling-calls")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KaariServer, People, Any]]:
    """One server on SQLite for the module (with coturn when it is installed)."""
    tmp = tmp_path_factory.mktemp("calls")
    env = {"KAARI_DATA_DIR": str(tmp / "data")}
    coturn = None
    try:
        coturn = Coturn(tmp, [TURN_SECRET])
        coturn.start()
        env |= {
            "KAARI_TURN_HOST": "127.0.0.1",
            "KAARI_TURN_PORT": str(coturn.port),
            "KAARI_TURN_TLS_PORT": "0",
            "KAARI_TURN_SECRETS": TURN_SECRET,
        }
    except pytest.skip.Exception:
        coturn = None
    server = KaariServer(env, tmp / "server.log")
    try:
        people = onboard(server)
        yield server, people, coturn
    finally:
        server.stop()
        if coturn is not None:
            coturn.stop()


async def meet(therapist: CallClient, guardian: CallClient, room: str) -> None:
    """Therapist in first, the guardian waits and is admitted."""
    await therapist.join(room)
    state = await guardian.join(room)
    mine = guardian.me()
    assert mine is not None, state
    assert mine["status"] == "waiting", state
    await therapist.wait_state(
        lambda s: any(
            p["deviceId"] == guardian.device_id and p["status"] == "waiting"
            for p in s["participants"]
        )
    )
    await therapist.admit([guardian.device_id])
    await guardian.wait_admitted()


def test_therapist_and_guardian_meet_with_authenticated_sdp(
    served: tuple[KaariServer, People, Any],
) -> None:
    _server, people, _ = served
    room = video_room(people)
    loopback_only()

    async def go() -> dict[str, Any]:
        t = caller(people.therapist, host_only=True)
        g = caller(people.guardian, host_only=True)
        async with asyncio.timeout(CALL_SECONDS), clients(t, g):
            started = time.monotonic()
            await meet(t, g, room)
            g_peer = await g.wait_peer(t.device_id)
            t_peer = await t.wait_peer(g.device_id)
            assert g_peer.offerer
            assert not t_peer.offerer
            await talk(g_peer, t_peer)
            return {
                "seconds": time.monotonic() - started,
                "refusals": t.refusals + g.refusals,
                "out_of_order": t.out_of_order + g.out_of_order,
                "types": candidate_types(t_peer.pc.remoteDescription.sdp),
                "frames": (g_peer.frames, t_peer.frames),
            }

    result = run(go())
    assert result["refusals"] == []
    assert result["out_of_order"] == 0
    assert set(result["types"]) == {"host"}
    print(f"waiting room to media both ways: {result['seconds']:.2f} s, frames {result['frames']}")


def test_relay_only_through_coturn(served: tuple[KaariServer, People, Any]) -> None:
    _server, people, coturn = served
    if coturn is None:
        service_missing("turnserver", "not installed")
    room = video_room(people)

    async def go() -> tuple[list[str], list[str]]:
        t = caller(people.therapist, relay_only=True)
        g = caller(people.guardian, relay_only=True)
        async with asyncio.timeout(CALL_SECONDS), clients(t, g):
            await meet(t, g, room)
            g_peer, t_peer = await g.wait_peer(t.device_id), await t.wait_peer(g.device_id)
            await talk(g_peer, t_peer)
            return (
                candidate_types(g_peer.pc.localDescription.sdp),
                candidate_types(t_peer.pc.localDescription.sdp),
            )

    offer_types, answer_types = run(go())
    assert offer_types
    assert set(offer_types) == {"relay"}
    assert answer_types
    assert set(answer_types) == {"relay"}


def test_a_fingerprint_swapped_by_the_relay_is_refused(
    served: tuple[KaariServer, People, Any],
) -> None:
    _server, people, _ = served
    room = video_room(people)
    loopback_only()

    async def attacker_fingerprint() -> str:
        pc = RTCPeerConnection()
        pc.createDataChannel("x")
        await pc.setLocalDescription(await pc.createOffer())
        found = re.search(r"a=fingerprint:\S+ \S+", pc.localDescription.sdp)
        await pc.close()
        assert found is not None
        return found.group(0)

    async def go() -> tuple[CallClient, CallClient]:
        mitm = await attacker_fingerprint()

        def swap(frame: dict[str, Any]) -> dict[str, Any]:
            if frame.get("type") == "signal" and frame.get("kind") == "offer":
                sdp = frame["payload"]["sdp"]
                frame["payload"]["sdp"] = re.sub(r"a=fingerprint:\S+ \S+", mitm, sdp)
            return frame

        t = caller(people.therapist, host_only=True, tamper=swap)
        g = caller(people.guardian, host_only=True)
        async with asyncio.timeout(CALL_SECONDS), clients(t, g):
            await meet(t, g, room)
            while not g.hangups:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            return t, g

    t, g = run(go())
    assert len(t.refusals) == 1
    assert t.refusals[0][0] == g.device_id
    assert t.refusals[0][1].startswith(f"{CALL_AUTH_INVALID}: sdp_changed: ")
    assert g.hangups == [(t.device_id, CALL_AUTH_INVALID)]
    assert t.peers == {}  # never applied


def test_a_reflected_answer_is_refused(served: tuple[KaariServer, People, Any]) -> None:
    """The relay hands the guardian her own offer back as the therapist's answer."""
    _server, people, _ = served
    room = video_room(people)
    loopback_only()
    offers: dict[str, str] = {}

    def record(frame: dict[str, Any]) -> dict[str, Any]:  # on the therapist's socket
        if frame.get("type") == "signal" and frame.get("kind") == "offer":
            offers["sdp"] = frame["payload"]["sdp"]
        return frame

    def reflect(frame: dict[str, Any]) -> dict[str, Any]:  # on the guardian's socket
        if frame.get("type") == "signal" and frame.get("kind") == "answer":
            frame["payload"]["sdp"] = offers["sdp"]
        return frame

    async def go() -> tuple[CallClient, CallClient, Any]:
        t = caller(people.therapist, host_only=True, tamper=record)
        g = caller(people.guardian, host_only=True, tamper=reflect)
        async with asyncio.timeout(CALL_SECONDS), clients(t, g):
            await meet(t, g, room)
            while not t.hangups:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            return t, g, g.peers[t.device_id].pc.remoteDescription

    t, g, applied = run(go())
    assert len(g.refusals) == 1
    assert g.refusals[0][0] == t.device_id
    assert g.refusals[0][1].startswith(f"{CALL_AUTH_INVALID}: sdp_changed: ")
    assert t.hangups == [(g.device_id, CALL_AUTH_INVALID)]
    assert applied is None  # the reflected offer was never applied as the answer


def test_a_replayed_offer_is_refused(served: tuple[KaariServer, People, Any]) -> None:
    """After the call connected, the callee asks for a restart; the relay replays the first
    offer instead of the new one."""
    _server, people, _ = served
    room = video_room(people)
    loopback_only()
    first: dict[str, Any] = {}

    def replay(frame: dict[str, Any]) -> dict[str, Any]:  # on the therapist's socket
        if frame.get("type") == "signal" and frame.get("kind") == "offer":
            if not first:
                first.update(frame["payload"])
            else:
                frame["payload"] = dict(first)
        return frame

    async def go() -> tuple[CallClient, CallClient, str | None]:
        t = caller(people.therapist, host_only=True, tamper=replay)
        g = caller(people.guardian, host_only=True)
        async with asyncio.timeout(CALL_SECONDS), clients(t, g):
            await meet(t, g, room)
            t_peer = await t.wait_peer(g.device_id)
            await t_peer.connected.wait()
            assert t.refusals == []
            await t.restart(g.device_id)
            while not g.hangups:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            return t, g, t.peers[g.device_id].refused

    t, g, refused = run(go())
    assert len(t.refusals) == 1
    assert t.refusals[0][0] == g.device_id
    assert t.refusals[0][1].startswith(f"{CALL_AUTH_INVALID}: sdp_changed: ")
    assert g.hangups == [(t.device_id, CALL_AUTH_INVALID)]
    assert refused == CALL_AUTH_INVALID  # the connected call was kept, the replay not applied


def test_a_mesh_of_three(served: tuple[KaariServer, People, Any]) -> None:
    _server, people, _ = served
    room = video_room(people)
    loopback_only()

    async def go() -> dict[tuple[str, str], bool]:
        t, g, c = (
            caller(p, host_only=True) for p in (people.therapist, people.guardian, people.child)
        )
        async with asyncio.timeout(CALL_SECONDS * 2), clients(t, g, c):
            await t.join(room)
            await t.admit(auto=True)
            await t.wait_state(lambda s: s["autoAdmit"])
            await g.join(room)
            await g.wait_admitted()
            await c.join(room)
            await c.wait_admitted()
            pairs = [(g, t), (c, t), (c, g)]  # (offerer, callee): the later admitted offers
            for a, b in pairs:
                pa, pb = await a.wait_peer(b.device_id), await b.wait_peer(a.device_id)
                assert pa.offerer
                assert not pb.offerer
                await talk(pa, pb, frames=3)
            return {(a.device_id, b.device_id): True for a, b in pairs}

    assert len(run(go())) == 3


def test_peers_on_two_instances_connect(tmp_path: Path) -> None:
    if not reachable(REDIS_URL):
        service_missing("Redis", REDIS_URL)
    loopback_only()
    with fresh_postgres_database() as database:
        shared = {
            "KAARI_REDIS_URL": REDIS_URL,
            "KAARI_REDIS_PREFIX": f"kaari-rooms-{os.getpid()}-{time.monotonic_ns()}:",
            "KAARI_DATABASE_URL": database,
        }
        a = KaariServer({**shared, "KAARI_DATA_DIR": str(tmp_path / "a")}, tmp_path / "a.log")
        b = KaariServer({**shared, "KAARI_DATA_DIR": str(tmp_path / "b")}, tmp_path / "b.log")
        try:
            a.start()
            b.start()
            people = onboard(a, url=a.url)
            room = video_room(people)

            async def go() -> None:
                t = caller(people.therapist, a.url)  # on instance A
                g = caller(people.guardian, b.url)  # on instance B
                async with asyncio.timeout(CALL_SECONDS), clients(t, g):
                    await meet(t, g, room)
                    g_peer, t_peer = await g.wait_peer(t.device_id), await t.wait_peer(g.device_id)
                    await talk(g_peer, t_peer)
                    assert t.refusals == []
                    assert g.refusals == []

            run(go())
        finally:
            a.stop()
            b.stop()
