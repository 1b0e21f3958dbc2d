"""Does argon2 block the event loop? `/health` latency while 20 logins run at once.

Starts a real `kaari serve` (SQLite, loopback), creates users through the CLI, then:
  1. baseline: /health latency with nothing else running;
  2. load: 20 concurrent logins, repeated ROUNDS times, while /health is probed
     every 5 ms on its own connection;
  3. timing: login latency for a known e-mail with a wrong password vs an unknown e-mail.
Prints a table; the figures go into BENCHMARKS.md. Run: .venv/bin/python bench/login_health.py
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers import KaariServer

CONCURRENT = 20
ROUNDS = 10
PASSWORD = "bench-password-0123456789"  # noqa: S105 - a throwaway bench account


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def probe(http: httpx.AsyncClient, stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        r = await http.get("/health")
        assert r.status_code == 200
        out.append((time.perf_counter() - t) * 1000)
        await asyncio.sleep(0.005)


async def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kaari-bench-"))
    srv = KaariServer(
        {
            "KAARI_DATA_DIR": str(tmp),
            "KAARI_LOG_LEVEL": "WARNING",
            "KAARI_LOGIN_MAX_ATTEMPTS_PER_IP": "1000000",
            "KAARI_LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000",
            "KAARI_LOGIN_SLOWDOWN_AFTER_FAILURES": "1000000",
        },
        tmp / "server.log",
    )
    org = srv.cli("admin", "create-org", "--name", "Bench")
    for n in range(CONCURRENT):
        srv.cli(
            "admin",
            "create-user",
            "--org",
            org,
            "--email",
            f"u{n}@bench.fi",
            "--display-name",
            f"U{n}",
            "--role",
            "therapist",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
    srv.start()
    try:
        limits = httpx.Limits(max_connections=CONCURRENT + 5)
        async with (
            httpx.AsyncClient(base_url=srv.url, timeout=30) as health_http,
            httpx.AsyncClient(base_url=srv.url, timeout=30, limits=limits) as http,
        ):
            baseline: list[float] = []
            stop = asyncio.Event()
            task = asyncio.create_task(probe(health_http, stop, baseline))
            await asyncio.sleep(2)
            stop.set()
            await task

            under_load: list[float] = []
            login_ms: list[float] = []
            stop = asyncio.Event()
            task = asyncio.create_task(probe(health_http, stop, under_load))

            async def one(n: int) -> None:
                t = time.perf_counter()
                r = await http.post(
                    "/auth/login",
                    json={"email": f"u{n}@bench.fi", "password": PASSWORD, "device": {"name": "b"}},
                )
                assert r.status_code == 200, r.text
                login_ms.append((time.perf_counter() - t) * 1000)

            started = time.perf_counter()
            for _ in range(ROUNDS):
                await asyncio.gather(*(one(n) for n in range(CONCURRENT)))
            elapsed = time.perf_counter() - started
            stop.set()
            await task

            known: list[float] = []
            unknown: list[float] = []
            for n in range(40):
                for email, bucket in (("u0@bench.fi", known), (f"nobody{n}@bench.fi", unknown)):
                    t = time.perf_counter()
                    r = await http.post(
                        "/auth/login",
                        json={
                            "email": email,
                            "password": "wrong-password",
                            "device": {"name": "b"},
                        },
                    )
                    assert r.status_code == 401
                    bucket.append((time.perf_counter() - t) * 1000)
    finally:
        srv.stop()

    logins = CONCURRENT * ROUNDS
    py = sys.version.split()[0]
    print(f"machine: {os.cpu_count()} cores, python {py}, SQLite, 1 uvicorn worker")
    print(f"{'measure':<48}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'n':>6}")
    for name, values in (
        ("/health, idle", baseline),
        (f"/health during {CONCURRENT} concurrent logins", under_load),
        (f"login, {CONCURRENT} at once", login_ms),
        ("failed login, known e-mail", known),
        ("failed login, unknown e-mail", unknown),
    ):
        p50, p95 = pct(values, 50), pct(values, 95)
        print(f"{name:<48}{p50:>9.2f}{p95:>9.2f}{max(values):>9.2f}{len(values):>6}")
    print(f"login throughput: {logins / elapsed:.1f} logins/s ({logins} in {elapsed:.2f} s)")
    print(
        f"known/unknown median ratio: {statistics.median(known) / statistics.median(unknown):.2f}"
    )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
