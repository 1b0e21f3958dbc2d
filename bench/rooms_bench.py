"""Call rooms against a real `kaari serve` (SQLite, in-process bus; loopback only).

  setup   ROUNDS calls one after another, each in its own room: the therapist is in with
          auto-admit on; time from the guardian's ``room_join`` to both aiortc peers
          "connected" (offer and answer authenticated by the Matrix devices, an Olm
          to-device event each through the mailbox, checked on both sides; host
          candidates on 127.0.0.1, no ICE servers). Median and p95.
  relay   ROOMS rooms at once, each with a therapist device and a guardian device
          (PAIRS devices of each, ROOMS / PAIRS rooms per device, all admitted); every
          room sends RATE ``signal`` frames a second (a 1 KB payload) from the guardian to
          the therapist for SECONDS; latency = send to receipt, p50/p99.

Run: .venv/bin/python bench/rooms_bench.py [setup|relay|all] [--rounds N] [--rooms N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import websockets

from client.api import Api
from client.call import CallClient
from client.matrix import MatrixClient, MatrixHttp
from signaling.precall import restrict_host_addresses

ROOT = Path(__file__).resolve().parents[1]
# after the project's packages: tests/ holds a directory named "app" too
sys.path.append(str(ROOT / "tests"))
sys.path.append(str(ROOT / "tests" / "scenarios"))
from matrix_onboarding import PASSWORD, People, onboard  # noqa: E402
from servers import KaariServer  # noqa: E402

PAIRS = 20
RATE = 1.0
SECONDS = 10.0
PAYLOAD = "x" * 1000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def new_room(people: People, minutes: int = 5) -> str:
    start = datetime.now(UTC) + timedelta(minutes=minutes)
    body = {"caseIds": [people.case_id], "startsAt": start.isoformat(), "placeKind": "video"}
    room: str = people.therapist.post("/appointments", body)["appointments"][0]["id"]
    return room


def matrix_of(m: Api, store: Path) -> MatrixClient:
    """The person's Matrix device, cross-signed by its owner (calls require it)."""
    assert m.token is not None
    client = MatrixClient.open(MatrixHttp.connect(m.base_url, m.token), store, os.urandom(32))
    client.bootstrap_cross_signing()
    client.sync()
    return client


async def setup_bench(people: People, rounds: int, stores: Path) -> list[float]:
    restrict_host_addresses(["127.0.0.1"])
    times: list[float] = []
    t_matrix = matrix_of(people.therapist, stores / "therapist")
    g_matrix = matrix_of(people.guardian, stores / "guardian")
    for _ in range(rounds):
        room = new_room(people)
        t = CallClient(people.therapist, t_matrix, [])
        g = CallClient(people.guardian, g_matrix, [])
        try:
            await t.connect()
            await g.connect()
            await t.join(room)
            await t.admit(auto=True)
            await t.wait_state(lambda s: bool(s["autoAdmit"]))
            started = time.perf_counter()
            await g.join(room)
            async with asyncio.timeout(30):
                gp = await g.wait_peer(t.device_id)
                tp = await t.wait_peer(g.device_id)
                await asyncio.gather(gp.connected.wait(), tp.connected.wait())
            times.append((time.perf_counter() - started) * 1000)
            assert not t.refusals
            assert not g.refusals
        finally:
            await t.close()
            await g.close()
    return times


async def open_socket(api: Api) -> Any:
    ticket = await asyncio.to_thread(api.ws_ticket)
    ws = await websockets.connect(api.ws_url(ticket), max_size=1 << 20)
    hello = json.loads(await ws.recv())
    assert hello["type"] == "hello"
    return ws


async def until(ws: Any, want: Any) -> dict[str, Any]:
    while True:
        frame = json.loads(await ws.recv())
        if frame["type"] == "error":
            raise RuntimeError(frame)
        if want(frame):
            return dict(frame)


async def relay_bench(url: str, people: People, rooms: int) -> dict[str, Any]:
    pairs = min(PAIRS, rooms)
    therapists = [Api(url) for _ in range(pairs)]
    guardians = [Api(url) for _ in range(pairs)]
    for n, api in enumerate(therapists):
        await asyncio.to_thread(api.login, "terhi@example.fi", PASSWORD, f"bench t{n}")
    for n, api in enumerate(guardians):
        await asyncio.to_thread(api.login, "anna@example.fi", PASSWORD, f"bench g{n}")
    room_ids = [new_room(people) for _ in range(rooms)]
    t_ws = [await open_socket(a) for a in therapists]
    g_ws = [await open_socket(a) for a in guardians]
    plan = [(room, n % pairs) for n, room in enumerate(room_ids)]
    for room, k in plan:
        await t_ws[k].send(json.dumps({"type": "room_join", "roomId": room}))
        await until(t_ws[k], lambda f, r=room: f["type"] == "room_state" and f["roomId"] == r)
        await t_ws[k].send(json.dumps({"type": "room_admit", "roomId": room, "autoAdmit": True}))
        await g_ws[k].send(json.dumps({"type": "room_join", "roomId": room}))
        await until(g_ws[k], lambda f, r=room: f["type"] == "room_state" and f["roomId"] == r)
    latencies: list[float] = []
    received = 0

    async def reader(ws: Any, stop: float) -> None:
        nonlocal received
        while time.perf_counter() < stop + 2:
            try:
                raw = await asyncio.wait_for(ws.recv(), 1)
            except TimeoutError:
                continue
            frame = json.loads(raw)
            if frame["type"] == "signal":
                latencies.append((time.perf_counter() - frame["payload"]["t"]) * 1000)
                received += 1
            elif frame["type"] == "error":
                print("error frame:", frame)
            elif frame["type"] == "ping":
                await ws.send('{"type":"pong"}')

    async def sender(k: int, stop: float) -> int:
        mine = [room for room, kk in plan if kk == k]
        to = str(therapists[k].device_id)
        sent, interval = 0, 1 / RATE
        next_at = time.perf_counter() + interval * (k / pairs)
        while next_at < stop:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            for room in mine:
                payload = {"t": time.perf_counter(), "sdp": PAYLOAD}
                frame = {"type": "signal", "roomId": room, "to": to, "kind": "candidate"}
                await g_ws[k].send(json.dumps({**frame, "payload": payload}))
                sent += 1
            next_at += interval
        return sent

    # drain the room_state frames of the setup
    await asyncio.sleep(1)
    for ws in t_ws + g_ws:
        while True:
            try:
                await asyncio.wait_for(ws.recv(), 0.05)
            except TimeoutError:
                break
    stop = time.perf_counter() + SECONDS
    readers = [asyncio.create_task(reader(ws, stop)) for ws in t_ws]
    sent = sum(await asyncio.gather(*(sender(k, stop) for k in range(pairs))))
    await asyncio.gather(*readers)
    for ws in t_ws + g_ws:
        await ws.close()
    return {
        "rooms": rooms,
        "sockets": 2 * pairs,
        "sent": sent,
        "received": received,
        "rate": sent / SECONDS,
        "p50": pct(latencies, 50),
        "p99": pct(latencies, 99),
        "max": max(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", nargs="?", default="all", choices=["setup", "relay", "all"])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--rooms", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "KAARI_DATA_DIR": str(Path(tmp) / "data"),
            "KAARI_LOG_LEVEL": "WARNING",
            "KAARI_LOGIN_MAX_ATTEMPTS_PER_IP": "10000",
        }
        server = KaariServer(env, Path(tmp) / "server.log")
        try:
            people = onboard(server)
            if args.what in ("setup", "all"):
                times = asyncio.run(setup_bench(people, args.rounds, Path(tmp) / "matrix"))
                print(
                    f"call setup, {len(times)} calls: median {statistics.median(times):.0f} ms, "
                    f"p95 {pct(times, 95):.0f} ms, max {max(times):.0f} ms"
                )
            if args.what in ("relay", "all"):
                r = asyncio.run(relay_bench(server.url, people, args.rooms))
                print(
                    f"relay, {r['rooms']} rooms on {r['sockets']} sockets, {r['rate']:.0f} "
                    f"signals/s: sent {r['sent']}, received {r['received']}; p50 "
                    f"{r['p50']:.2f} ms, p99 {r['p99']:.2f} ms, max {r['max']:.2f} ms"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
