"""Homework: how fast are the child's "today", a case's progress and a tick?

Starts a real `kaari serve` (SQLite by default; PostgreSQL with --postgres, which
creates and drops its own database on 127.0.0.1), onboards a therapist, a guardian
and a paired child over HTTP, sets TASKS tasks (daily, weekly, N times a week), then
back-dates them HISTORY_DAYS and writes a tick for most past due days straight into
the database (the API accepts ticks up to 7 days old, so history cannot be made
through it quickly). Then, sequentially over one keep-alive connection:

  1. GET /me/homework/today as the child, REQUESTS times;
  2. GET /cases/{id}/homework/progress?weeks=4 and ?weeks=26 as the therapist;
  3. PUT a tick and DELETE it again (undo) as the child, REQUESTS/2 pairs.

Prints p50/p95/p99 in ms; the figures go into BENCHMARKS.md.
Run: .venv/bin/python bench/homework_bench.py [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
import sqlalchemy as sa

from app.core.time import local_date
from app.homework.schedule import Plan, Segment, plan_to_json, rule_to_json, validate_rule
from app.storage.engine import make_engine
from app.storage.schema import homework_tasks, homework_ticks

# after the project's imports: tests/app would otherwise shadow the app package
sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))
from servers import KaariServer, fresh_postgres_database

TASKS = 12
HISTORY_DAYS = 180
REQUESTS = 400
PASSWORD = "bench-password-0123456789"  # noqa: S105 - a throwaway bench account
SCHEDULES: list[dict[str, Any]] = [
    {"kind": "daily"},
    {"kind": "weekly", "weekdays": [1, 3, 5]},
    {"kind": "perWeek", "timesPerWeek": 3},
]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def content_event(http: httpx.Client, session: dict[str, Any], case_id: str, size: int) -> str:
    """A Megolm-shaped event of the case's homework room (the server never opens it)."""
    h = {"authorization": f"Bearer {session['token']}"}
    room = quote(ok(http.get(f"/cases/{case_id}/homework/room", headers=h))["roomId"], safe="")
    v3 = f"/_matrix/client/v3/rooms/{room}"
    epoch = ok(http.get(f"{v3}/joined_members", headers=h))["kaari.device_epoch"]
    content = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "sender_key": base64.b64encode(b"k" * 32).decode().rstrip("="),
        "session_id": "YmVuY2g",
        "device_id": session["deviceId"],
        "ciphertext": base64.b64encode(random.randbytes(size)).decode(),
    }
    r = http.put(f"{v3}/send/m.room.encrypted/{uuid.uuid4()}", json=content, headers=h,
                 params={"kaari_device_epoch": epoch})  # fmt: skip
    event_id: str = ok(r)["event_id"]
    return event_id


def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def onboard(http: httpx.Client, srv: KaariServer) -> tuple[dict[str, Any], dict[str, Any], str]:
    org = srv.cli("admin", "create-org", "--name", "Bench")
    srv.cli("admin", "create-user", "--org", org, "--email", "admin@bench.fi",
            "--display-name", "Admin", "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    login = {"password": PASSWORD, "device": {"name": "bench"}}
    admin = ok(http.post("/auth/login", json={"email": "admin@bench.fi", **login}))

    def h(s: dict[str, Any]) -> dict[str, str]:
        return {"authorization": f"Bearer {s['token']}"}

    def accept(code: str, email: str) -> dict[str, Any]:
        body = {"code": code, "email": email, "password": PASSWORD, "displayName": email,
                "device": {"name": "phone"}}  # fmt: skip
        result: dict[str, Any] = ok(http.post("/invites/accept", json=body), 201)
        return result

    code = ok(http.post("/org/invites", json={"role": "therapist"}, headers=h(admin)), 201)["code"]
    therapist = accept(code, "terhi@bench.fi")
    case_id = ok(http.post("/cases", json={"childDisplayName": "Eino"}, headers=h(therapist)),
                 201)["id"]  # fmt: skip
    code = ok(http.post(f"/cases/{case_id}/invites", json={}, headers=h(therapist)), 201)["code"]
    guardian = accept(code, "anna@bench.fi")
    code = ok(http.post(f"/cases/{case_id}/pairing-codes", headers=h(guardian)), 201)["code"]
    child = ok(http.post("/auth/pair", json={"code": code, "device": {"name": "tablet"}}))
    return therapist, child, case_id


async def backdate(db_url: str, case_id: str, child_user: str, child_device: str) -> int:
    """Move every task's start HISTORY_DAYS back and tick ~80% of the due days."""
    engine = make_engine(db_url)
    today = local_date(datetime.now(UTC))
    start = today - timedelta(days=HISTORY_DAYS)
    made = 0
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                sa.select(homework_tasks).where(homework_tasks.c.case_id == uuid.UUID(case_id))
            )
        ).all()
        for row in rows:
            stored = msgspec.json.decode(row.plan)
            rule = validate_rule(**_wire(stored["rule"]))
            plan = Plan(start, None, (Segment(start, rule),))
            text = msgspec.json.encode({"rule": rule_to_json(rule), "plan": plan_to_json(plan)})
            await conn.execute(
                homework_tasks.update()
                .where(homework_tasks.c.id == row.id)
                .values(starts_on=start, plan=text.decode())
            )
            ticks = []
            for n in range(HISTORY_DAYS):
                day = start + timedelta(days=n)
                due = rule.kind == "daily" or (
                    rule.kind == "weekly" and day.isoweekday() in rule.weekdays
                ) or (rule.kind == "perWeek" and day.isoweekday() in (2, 4, 6))  # fmt: skip
                if day >= today - timedelta(days=1) or not due or random.random() > 0.8:
                    continue
                at = datetime(day.year, day.month, day.day, 16, tzinfo=UTC)
                ticks.append(
                    {
                        "task_id": row.id,
                        "day": day,
                        "case_id": row.case_id,
                        "user_id": uuid.UUID(child_user),
                        "device_id": uuid.UUID(child_device),
                        "client_time": at,
                        "received_at": at,
                        "notified_at": at,
                    }
                )
            if ticks:
                await conn.execute(homework_ticks.insert(), ticks)
            made += len(ticks)
    await engine.dispose()
    return made


def _wire(rule: dict[str, Any]) -> dict[str, Any]:
    return {"kind": rule["kind"], "weekdays": rule.get("weekdays"),
            "times_per_week": rule.get("timesPerWeek")}  # fmt: skip


def timed(n: int, call: Callable[[], None]) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        out.append((time.perf_counter() - t) * 1000)
    return out


def row(name: str, values: list[float]) -> str:
    return (
        f"| {name} | {len(values)} | {statistics.median(values):.1f} | {pct(values, 95):.1f} "
        f"| {pct(values, 99):.1f} |"
    )


def run(db_url: str | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kaari-hw-bench-"))
    env = {"KAARI_DATA_DIR": str(tmp), "KAARI_LOG_LEVEL": "WARNING"}
    if db_url:
        env["KAARI_DATABASE_URL"] = db_url
    srv = KaariServer(env, tmp / "server.log")
    srv.start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            therapist, child, case_id = onboard(http, srv)
            th = {"authorization": f"Bearer {therapist['token']}"}
            ch = {"authorization": f"Bearer {child['token']}"}
            today = date.today()
            task_ids = []
            for n in range(TASKS):
                event_id = content_event(http, therapist, case_id, 600)
                body = {"id": str(uuid.uuid4()), "contentEventId": event_id,
                        "schedule": SCHEDULES[n % 3], "startsOn": today.isoformat()}  # fmt: skip
                task_ids.append(ok(http.post(f"/cases/{case_id}/homework", json=body,
                                             headers=th), 201)["id"])  # fmt: skip
            url = db_url or f"sqlite:///{tmp / 'kaari.sqlite3'}"
            made = asyncio.run(backdate(url, case_id, child["user"]["id"], child["deviceId"]))
            print(f"{TASKS} tasks over {HISTORY_DAYS} days, {made} ticks")
            daily = task_ids[0]
            day = local_date(datetime.now(UTC)).isoformat()
            tick_body = {"clientTime": datetime.now(UTC).isoformat()}

            def tick_and_undo() -> None:
                ok(http.put(f"/homework/{daily}/ticks/{day}", json=tick_body, headers=ch), 201)
                ok(http.delete(f"/homework/{daily}/ticks/{day}", headers=ch), 204)

            for _ in range(20):  # warm up
                http.get("/me/homework/today", headers=ch)
            results = {
                "GET /me/homework/today (child)": timed(
                    REQUESTS, lambda: ok(http.get("/me/homework/today", headers=ch))
                ),
                "GET …/progress?weeks=4 (therapist)": timed(
                    REQUESTS,
                    lambda: ok(http.get(f"/cases/{case_id}/homework/progress?weeks=4", headers=th)),
                ),
                "GET …/progress?weeks=26 (therapist)": timed(
                    REQUESTS // 4,
                    lambda: ok(
                        http.get(f"/cases/{case_id}/homework/progress?weeks=26", headers=th)
                    ),
                ),
                "PUT tick + DELETE undo (child, pair)": timed(REQUESTS // 2, tick_and_undo),
            }
            size = len(http.get("/me/homework/today", headers=ch).content)
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"engine: {'PostgreSQL' if db_url else 'SQLite'}; today's body: {size} bytes")
    print("| request | n | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|")
    for name, values in results.items():
        print(row(name, values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--postgres", action="store_true", help="run on a fresh PG database")
    args = parser.parse_args()
    if args.postgres:
        with fresh_postgres_database() as url:
            run(url)
    else:
        run(None)


if __name__ == "__main__":
    main()
