"""Reminder rules on the app's clock: 18:00 Helsinki the evening before (also on the day
daylight-saving time ends), never twice, not for a cancelled session; a period's last
two sessions and 60 days before its end, once each."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import World
from litestar.testing import TestClient
from support import run, services_at

from app.config import Settings
from app.storage.engine import Database
from app.storage.schema import reminders_sent

from notifications_support import settings  # isort: skip
from appointments_support import HEL, NOW, cancel, create, pair_child, period, set_now  # isort: skip

__all__ = ["settings"]  # fixtures


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def remind(settings: Settings, when: datetime) -> int:
    """One scheduler round at ``when`` (what every instance's loop does)."""

    async def go() -> int:
        async with services_at(settings, lambda: when) as services:
            made: int = await services.reminders.run_once()
            return made

    made: int = run(go())
    return made


def sent(settings: Settings) -> list[Any]:
    async def go() -> list[Any]:
        db = Database(settings.effective_database_url)
        try:
            async with db.read() as conn:
                return list((await conn.execute(sa.select(reminders_sent))).all())
        finally:
            await db.dispose()

    rows: list[Any] = run(go())
    return rows


def test_the_evening_before_across_the_dst_change(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    pair_child(client, world)
    # Sunday 25 October 2026, the day DST ends, at 10:00; and one cancelled on the same day
    sunday = datetime(2026, 10, 25, 10, 0, tzinfo=HEL)
    kept, dropped = (
        create(client, world.therapist, [world.case_id], startsAt=at.isoformat())["appointments"][0]
        for at in (sunday, sunday + timedelta(hours=3))
    )
    assert cancel(client, world.guardian, dropped["id"]).status_code == 201
    # decided for the family (two guardians and the child), with or without a channel
    assert remind(settings, datetime(2026, 10, 24, 17, 59, tzinfo=HEL)) == 0
    assert remind(settings, datetime(2026, 10, 24, 18, 0, tzinfo=HEL)) == 3
    assert remind(settings, datetime(2026, 10, 24, 18, 1, tzinfo=HEL)) == 0
    assert remind(settings, datetime(2026, 10, 24, 23, 59, tzinfo=HEL)) == 0
    # on the day itself it is no longer "the evening before"
    assert remind(settings, datetime(2026, 10, 25, 9, 0, tzinfo=HEL)) == 0
    rows = sent(settings)
    assert {(r.kind, str(r.target_id)) for r in rows} == {("session_reminder", kept["id"])}


def test_period_reminders_once(client: TestClient[Any], settings: Settings, world: World) -> None:
    p = period(client, world, granted=3, startsOn="2026-09-01", endsOn="2027-01-31")
    # 63 days before the end: nothing yet
    assert remind(settings, datetime(2026, 11, 29, 12, 0, tzinfo=HEL)) == 0
    # a completed session leaves two: the guardians and the therapist hear once
    a = create(client, world.therapist, [world.case_id])["appointments"][0]
    set_now(client, datetime.fromisoformat(a["startsAt"]) + timedelta(hours=1))
    r = client.post(
        f"/appointments/{a['id']}/outcome", json={"status": "completed"},
        headers=world.therapist.headers,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert remind(settings, datetime(2026, 11, 29, 12, 0, tzinfo=HEL)) == 3
    assert remind(settings, datetime(2026, 11, 30, 12, 0, tzinfo=HEL)) == 0
    # 60 days before 31 January is 2 December
    assert remind(settings, datetime(2026, 12, 1, 23, 0, tzinfo=HEL)) == 0
    assert remind(settings, datetime(2026, 12, 2, 0, 1, tzinfo=HEL)) == 3
    assert remind(settings, datetime(2027, 1, 15, 12, 0, tzinfo=HEL)) == 0
    users = {str(world.guardian.user_id), str(world.guardian2.user_id),
             str(world.therapist.user_id)}  # fmt: skip
    rows = sent(settings)
    assert sorted((r.kind, str(r.user_id)) for r in rows) == sorted(
        (k, u) for k in ("period_ending", "period_sessions_low") for u in users
    )
    assert {str(r.target_id) for r in rows} == {p["id"]}
