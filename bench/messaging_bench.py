"""Messaging under load, against a real `kaari serve` (loopback only).

Setup (through the real HTTP API): one therapist with FAMILIES cases; each case has
two guardians with two devices each, so a message to a family thread goes to 4
devices. Every device has real keys on the server. The bench sends pre-built
envelopes (valid Olm-ciphertext shape, random bodies of BODY bytes): it measures the
server, not the clients' encryption (see bench/crypto_bench.py for that).

  throughput  CONCURRENCY senders post TOTAL envelopes as fast as the server takes them
  latency     a steady RATE envelopes/s for SECONDS; every recipient device of 10 families
              is connected to /ws and synced; latency = POST start to `messages` frame
  idle        IDLE sockets (25 per device session) open and idle: server RSS per socket

Run: .venv/bin/python bench/messaging_bench.py [throughput|latency|idle|all]
         [--db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers import KaariServer, fresh_postgres_database

from client.api import Api
from client.device import Device
from client.messenger import Messenger

FAMILIES = 20
BODY = 300  # bytes of Olm ciphertext: a short chat message
PASSWORD = "bench-password-0123456789"  # noqa: S105 - a throwaway bench account


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def server_pid(srv: KaariServer) -> int:
    assert srv.proc is not None
    return srv.proc.pid


class Setup:
    def __init__(self, srv: KaariServer, tmp: Path) -> None:
        self.srv = srv
        self.tmp = tmp
        self.therapist: dict[str, Any] = {}
        self.threads: list[str] = []  # family thread per case
        self.recipients: dict[str, dict[str, str]] = {}  # thread -> device -> user
        self.tokens: dict[str, str] = {}  # device -> token
        self.curves: dict[str, str] = {}  # device -> Curve25519 identity key

    def build(self) -> None:
        srv = self.srv
        org = srv.cli("admin", "create-org", "--name", "Bench")
        srv.cli(
            "admin", "create-user", "--org", org, "--email", "admin@bench.fi",
            "--display-name", "Admin", "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip
        srv.start()
        url = srv.url
        admin = Api(url)
        admin.login("admin@bench.fi", PASSWORD, "admin")

        def accept(code: str, email: str) -> dict[str, Any]:
            body = {"code": code, "email": email, "password": PASSWORD,
                    "displayName": email.split("@")[0], "device": {"name": "phone"}}  # fmt: skip
            result: dict[str, Any] = Api(url).post("/invites/accept", body)
            return result

        self.therapist = accept(admin.post("/org/invites", {"role": "therapist"})["code"],
                                "terhi@bench.fi")  # fmt: skip
        t_api = Api(url, token=self.therapist["token"])
        self._keys(self.therapist)
        for n in range(FAMILIES):
            case = t_api.post("/cases", {"childDisplayName": f"Child {n}"})["id"]
            for g in range(2):
                email = f"g{g}.{n}@bench.fi"
                first = accept(t_api.post(f"/cases/{case}/invites", {})["code"], email)
                second = Api(url)
                second.login(email, PASSWORD, "tablet")
                for body in (first, {"token": second.token, "deviceId": str(second.device_id),
                                     "user": {"id": str(second.user_id)}}):  # fmt: skip
                    self._keys(body)
            threads = {t["kind"]: t["id"] for t in t_api.get(f"/cases/{case}/threads")}
            thread = threads["family"]
            self.threads.append(thread)
            devices = t_api.get(f"/threads/{thread}/devices")["devices"]
            self.recipients[thread] = {d["deviceId"]: d["userId"] for d in devices}
            assert len(self.recipients[thread]) == 4

    def _keys(self, body: dict[str, Any]) -> None:
        api = Api(self.srv.url, token=body["token"])
        device = Device.create(self.tmp / "devices" / body["deviceId"], secrets.token_bytes(32),
                               body["user"]["id"], body["deviceId"])  # fmt: skip
        Messenger(api, device).publish_keys()
        self.curves[body["deviceId"]] = device.curve25519
        device.close()
        self.tokens[body["deviceId"]] = body["token"]

    def envelope(self, thread: str, n: int) -> bytes:
        sender_user = self.therapist["user"]["id"]
        sender_device = self.therapist["deviceId"]
        curve = self.curves[sender_device]
        cts = {}
        for device, user in self.recipients[thread].items():
            cts[device] = {
                "type": "olm", "v": 1, "senderUserId": sender_user,
                "senderDeviceId": sender_device, "senderCurve25519": curve,
                "recipientUserId": user, "recipientDeviceId": device, "messageType": 1,
                "body": base64.b64encode(os.urandom(BODY)).decode(),
            }  # fmt: skip
        return json.dumps({"clientMessageId": f"b-{n}-{uuid.uuid4().hex[:8]}",
                           "ciphertexts": cts}).encode()  # fmt: skip


async def throughput(setup: Setup, total: int, concurrency: int) -> dict[str, float]:
    bodies = [(setup.threads[n % FAMILIES], setup.envelope(setup.threads[n % FAMILIES], n))
              for n in range(total)]  # fmt: skip
    headers = {"authorization": f"Bearer {setup.therapist['token']}",
               "content-type": "application/json"}  # fmt: skip
    latencies: list[float] = []
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=setup.srv.url, timeout=60, limits=limits) as http:

        async def worker() -> None:
            while not queue.empty():
                thread, body = queue.get_nowait()
                t = time.perf_counter()
                r = await http.post(f"/threads/{thread}/messages", content=body, headers=headers)
                assert r.status_code == 201, r.text
                latencies.append((time.perf_counter() - t) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"envelopes/s": total / elapsed, "p50 ms": pct(latencies, 50),
            "p99 ms": pct(latencies, 99), "n": total}  # fmt: skip


async def _socket(url: str, token: str) -> Any:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        r = await http.post("/ws/ticket", headers={"authorization": f"Bearer {token}"})
        r.raise_for_status()
        ticket = r.json()["ticket"]
    ws = await websockets.connect(url.replace("http://", "ws://") + f"/ws?ticket={ticket}",
                                  max_size=4 * 1024 * 1024, open_timeout=30)  # fmt: skip
    hello = json.loads(await ws.recv())
    assert hello["type"] == "hello"
    return ws


async def latency(setup: Setup, rate: float, seconds: float) -> dict[str, float]:
    families = setup.threads[:10]
    sent_at: dict[str, float] = {}
    delivery: list[float] = []
    post_ms: list[float] = []
    sockets = []
    for thread in families:
        for device in setup.recipients[thread]:
            ws = await _socket(setup.srv.url, setup.tokens[device])
            await ws.send(json.dumps({"type": "sync", "afterSeq": 0}))
            sockets.append(ws)
    expected = 0

    async def reader(ws: Any) -> None:
        last_ack = 0.0  # acks coalesced as client/live.py does: at most every 250 ms
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "messages":
                now = time.perf_counter()
                for item in frame["items"]:
                    start = sent_at.get(item["envelopeId"])
                    if start is not None:
                        delivery.append((now - start) * 1000)
                if now - last_ack >= 0.25:
                    last_ack = now
                    await ws.send(json.dumps({"type": "ack", "upToSeq": frame["upToSeq"]}))
            elif frame["type"] == "ping":
                await ws.send('{"type":"pong"}')

    readers = [asyncio.create_task(reader(ws)) for ws in sockets]
    headers = {"authorization": f"Bearer {setup.therapist['token']}",
               "content-type": "application/json"}  # fmt: skip
    count = int(rate * seconds)
    bodies = [(families[n % len(families)], setup.envelope(families[n % len(families)], n))
              for n in range(count)]  # fmt: skip
    async with httpx.AsyncClient(base_url=setup.srv.url, timeout=60,
                                 limits=httpx.Limits(max_connections=64)) as http:  # fmt: skip

        async def send(thread: str, body: bytes) -> None:
            t = time.perf_counter()
            r = await http.post(f"/threads/{thread}/messages", content=body, headers=headers)
            assert r.status_code == 201, r.text
            sent_at[r.json()["id"]] = t
            post_ms.append((time.perf_counter() - t) * 1000)

        tasks = []
        start = time.perf_counter()
        for n, (thread, body) in enumerate(bodies):
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(send(thread, body)))
        await asyncio.gather(*tasks)
        expected = count * 4
        deadline = time.perf_counter() + 10
        while len(delivery) < expected and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    for task in readers:
        task.cancel()
    for ws in sockets:
        await ws.close()
    return {"rate/s": rate, "POST p50 ms": pct(post_ms, 50), "POST p99 ms": pct(post_ms, 99),
            "delivery p50 ms": pct(delivery, 50), "delivery p99 ms": pct(delivery, 99),
            "delivered": len(delivery), "expected": expected}  # fmt: skip


async def idle(setup: Setup, count: int) -> dict[str, float]:
    per_device = 25  # tickets per device stay under the 30/minute limit
    sessions = []
    for n in range(count // per_device):
        api = Api(setup.srv.url)
        api.login("terhi@bench.fi", PASSWORD, f"idle {n}")
        sessions.append(api.token)
        api.close()
    pid = server_pid(setup.srv)
    await asyncio.sleep(1)
    before = rss_kib(pid)
    sockets = []
    for token in sessions:
        opened = await asyncio.gather(*(_socket(setup.srv.url, token) for _ in range(per_device)))
        sockets.extend(opened)
    await asyncio.sleep(3)
    after = rss_kib(pid)
    for ws in sockets:
        await ws.close()
    return {"sockets": len(sockets), "RSS before MiB": before / 1024,
            "RSS after MiB": after / 1024,
            "KiB per socket": (after - before) / len(sockets)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["throughput", "latency", "idle", "all"], nargs="?",
                        default="all")  # fmt: skip
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--total", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--idle", type=int, default=5000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kaari-bench-"))
    with ExitStack() as stack:
        env = {
            "KAARI_DATA_DIR": str(tmp / "data"),
            "KAARI_LOG_LEVEL": "WARNING",
            "KAARI_LOGIN_MAX_ATTEMPTS_PER_IP": "1000000",
            "KAARI_WS_RATE_PER_SECOND": "1000",
            "KAARI_WS_RATE_BURST": "1000",
        }
        if args.db == "postgresql":
            env["KAARI_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
        srv = KaariServer(env, tmp / "server.log")
        stack.callback(srv.stop)
        setup = Setup(srv, tmp)
        started = time.perf_counter()
        setup.build()
        print(f"setup: {time.perf_counter() - started:.1f} s ({args.db})", flush=True)
        if args.what in ("throughput", "all"):
            print("throughput", asyncio.run(throughput(setup, args.total, args.concurrency)))
        if args.what in ("latency", "all"):
            print("latency", asyncio.run(latency(setup, args.rate, args.seconds)))
        if args.what in ("idle", "all"):
            print("idle", asyncio.run(idle(setup, args.idle)))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
