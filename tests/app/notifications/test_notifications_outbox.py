"""E-mail and SMS through the configured HTTP gateway: texts in the recipient's language
without health details, retries with backoff, giving up; and two senders never take the
same row."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TEST_SECRET, World
from litestar.testing import TestClient
from support import assert_problem, run

from app.config import Settings
from app.notifications import texts
from app.notifications.egress import PushGuard
from app.notifications.outbox import Outbox
from app.notifications.webpush import load_vapid
from app.storage.engine import Database

from notifications_support import outbox, wait_until  # isort: skip
from appointments_support import NOW, cancel, one, set_now  # isort: skip


class Gateway:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.scripted: list[int] = []
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with gateway.lock:
                    status = gateway.scripted.pop(0) if gateway.scripted else 202
                    if status == 202:
                        gateway.messages.append(body)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    g = Gateway()
    yield g
    g.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, gateway: Gateway) -> Settings:
    return Settings(
        database_url=database_url, data_dir=str(tmp_path), secret_key=TEST_SECRET,
        notify_poll_seconds=0.05, notify_retry_base_seconds=1.0, notify_max_attempts=2,
        reminder_interval_seconds=3600, notify_gateway_url=gateway.url,
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def test_emails_in_the_recipients_language_without_details(
    client: TestClient[Any], settings: Settings, world: World, gateway: Gateway
) -> None:
    assert client.patch("/me", json={"locale": "sv"}, headers=world.therapist.headers).is_success
    prefs = client.get("/me/notification-preferences", headers=world.guardian2.headers).json()
    assert prefs["available"] == ["push", "email", "sms"]
    r = client.put(
        "/me/notification-preferences",
        json={"channels": {"appointment_cancelled": ["sms"]}},
        headers=world.guardian2.headers,
    )
    assert r.status_code == 200
    a = one(client, world)
    assert cancel(client, world.guardian, a["id"]).status_code == 201
    got = wait_until(lambda: len(gateway.messages) >= 2 and list(gateway.messages))
    by_user = {m["userId"]: m for m in got}
    therapist = by_user[str(world.therapist.user_id)]
    assert therapist["channel"] == "email"
    assert therapist["to"] == "therapist@example.fi"
    assert therapist["locale"] == "sv"
    assert therapist["text"] == texts.text("appointment_cancelled", "sv")
    sms = by_user[str(world.guardian2.user_id)]
    assert (sms["channel"], sms["to"]) == ("sms", None)
    assert str(world.guardian.user_id) not in by_user  # the canceller
    for m in got:
        assert "Eino" not in m["text"]
        assert "illness" not in m["text"]
    time.sleep(0.2)
    assert len(gateway.messages) == 2


def test_a_failing_gateway_is_retried_then_given_up(
    client: TestClient[Any], settings: Settings, world: World, gateway: Gateway
) -> None:
    r = client.put(
        "/me/notification-preferences",
        json={"channels": {"appointment_cancelled": ["email"]}},
        headers=world.guardian2.headers,
    )
    assert r.status_code == 200
    client.put(
        "/me/notification-preferences",
        json={"channels": {"appointment_cancelled": []}},
        headers=world.therapist.headers,
    )
    gateway.scripted = [503, 500]
    a = one(client, world)
    assert cancel(client, world.guardian, a["id"]).status_code == 201

    def row() -> Any:
        rows = [r for r in outbox(settings) if r.kind == "appointment_cancelled"]
        assert len(rows) == 1
        return rows[0]

    first = wait_until(lambda: row() if row().last_error == "http_503" else None)
    assert first.attempts == 1
    assert first.next_attempt_at > NOW
    set_now(client, NOW + timedelta(seconds=10))
    given_up = wait_until(lambda: row() if row().failed_at else None)
    assert (given_up.attempts, given_up.last_error, given_up.next_attempt_at) == (
        2,
        "gave_up",
        None,
    )
    assert gateway.messages == []


def test_two_senders_never_take_the_same_row(
    client: TestClient[Any], settings: Settings, world: World, gateway: Gateway
) -> None:
    for who in (world.guardian, world.guardian2):
        r = client.put(
            "/me/notification-preferences",
            json={"channels": {"appointment_rescheduled": ["email"]}},
            headers=who.headers,
        )
        assert r.status_code == 200
    # this instance's own sender stops: the rows wait for the two below
    runtime = client.app.state.runtime
    task = next(t for t in runtime.tasks if t.get_name() == "kaari-notify-outbox")
    client.blocking_portal.call(task.cancel)
    a = one(client, world)
    start = datetime.fromisoformat(a["startsAt"])
    for minutes in range(1, 11):
        r = client.patch(
            f"/appointments/{a['id']}",
            json={"startsAt": (start + timedelta(minutes=minutes)).isoformat()},
            headers=world.therapist.headers,
        )
        assert r.status_code == 200, r.text
    rows = [r for r in outbox(settings) if r.kind == "appointment_rescheduled"]
    assert len(rows) == 20
    assert all(r.delivered_at is None for r in rows)

    async def race() -> list[int]:
        db = Database(settings.effective_database_url)
        try:
            async with httpx.AsyncClient() as http:
                guard = PushGuard.from_settings(settings)
                senders = [Outbox(db, settings, load_vapid(settings), lambda: NOW, guard, http)
                           for _ in range(3)]  # fmt: skip
                return list(await asyncio.gather(*(s.run_once() for s in senders)))
        finally:
            await db.dispose()

    taken = run(race())
    assert sum(taken) == 20
    print(f"\nrows taken by each of three racing senders: {taken}")
    assert run(race()) == [0, 0, 0]
    ids = [m["id"] for m in gateway.messages if m["channel"] == "email"]
    assert sorted(ids) == sorted(str(r.id) for r in rows)
    assert all(r.delivered_at for r in outbox(settings) if r.kind == "appointment_rescheduled")
    assert_problem(client.get("/me/notification-preferences"), 401, "unauthenticated")
