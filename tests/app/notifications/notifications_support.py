"""Helpers for the notification tests: subscriptions, waiting, reading the outbox."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from conftest import TEST_SECRET
from litestar.testing import TestClient
from push_service import PushService, Subscription
from support import Session, run

from app.config import Settings

# the appointment tests' helpers (a settable clock, shortcuts) serve here too
sys.path.insert(0, str(Path(__file__).parent.parent / "appointments"))
from app.notifications import store
from app.storage.engine import Database


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """A sender that polls every 50 ms and retries after about a second, to the local
    push-service stand-in (on 127.0.0.1: an explicit development opt-in)."""
    return Settings(
        database_url=database_url,
        data_dir=str(tmp_path),
        secret_key=TEST_SECRET,
        push_allow_loopback=True,
        notify_poll_seconds=0.05,
        notify_retry_base_seconds=1.0,
        reminder_interval_seconds=3600,
    )


@pytest.fixture
def push(client: TestClient[Any]) -> Iterator[PushService]:
    """A push service that accepts only what the app's published VAPID key signed."""
    service = PushService(expected_key=client.app.state.services.outbox.vapid.public_key)
    yield service
    service.close()


def subscribe(client: TestClient[Any], session: Session, push: PushService) -> Subscription:
    sub = push.subscribe()
    r = client.post("/me/push-subscriptions", json=sub.as_json(), headers=session.headers)
    assert r.status_code == 201, r.text
    return sub


def wait_until(check: Callable[[], Any], seconds: float = 5.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.02)


def of_type(push: PushService, sub: Subscription, kind: str) -> list[dict[str, Any]]:
    return [p for p in push.for_subscription(sub) if p["type"] == kind]


def outbox(settings: Settings, user_id: UUID | None = None) -> list[Any]:
    async def go() -> list[Any]:
        db = Database(settings.effective_database_url)
        try:
            async with db.read() as conn:
                return await store.outbox_rows(conn, user_id)
        finally:
            await db.dispose()

    rows: list[Any] = run(go())
    return rows
