"""The homework of a closed case (tasks, ticks, the daily reminder time) is deleted once
the case has been closed KAARI_HOMEWORK_RETENTION_DAYS; open cases keep theirs."""

from __future__ import annotations

import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import pytest
import sqlalchemy as sa
from conftest import World, build_world
from litestar.testing import TestClient

from app.config import Settings
from app.storage.schema import cases, homework_reminders, homework_tasks, homework_ticks

from retention_support import count, in_db, once, twice_at_once  # isort: skip

sys.path.insert(0, str(Path(__file__).parent.parent / "homework"))
from homework_support import NOW, TODAY, assign, set_now, tick  # isort: skip

DAYS = 200  # not the default: the setting is what counts


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def homework(client: TestClient[Any], world: World, tasks: int = 2, days: int = 3) -> None:
    """``tasks`` tasks of the world's case, each ticked by a guardian on ``days`` days,
    and the child's daily reminder."""
    for _ in range(tasks):
        task = assign(client, world)
        for n in range(days):
            r = tick(client, world.guardian, task["id"], TODAY - timedelta(days=n))
            assert r.status_code == 201, r.text
    r = client.put(
        f"/cases/{world.case_id}/homework/reminder",
        json={"time": "18:30"},
        headers=world.guardian.headers,
    )
    assert r.status_code == 200, r.text


def close(client: TestClient[Any], world: World) -> datetime:
    r = client.post(f"/org/cases/{world.case_id}/close", headers=world.admin.headers)
    assert r.status_code == 204, r.text
    r = client.get(f"/cases/{world.case_id}", headers=world.guardian.headers)
    return datetime.fromisoformat(r.json()["closedAt"])


def of_case(settings: Settings, case_id: UUID) -> tuple[int, int, int]:
    return (
        count(settings, homework_tasks, homework_tasks.c.case_id == case_id),
        count(settings, homework_ticks, homework_ticks.c.case_id == case_id),
        count(settings, homework_reminders, homework_reminders.c.case_id == case_id),
    )


def purge(services: Any) -> Any:
    return services.homework_retention.run_once()


def test_a_closed_cases_homework_goes_at_its_retention_and_no_other(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    settings = msgspec.structs.replace(settings, homework_retention_days=DAYS)
    other = build_world(client, settings, prefix="o")  # another organisation, open
    homework(client, world)
    homework(client, other, tasks=1)
    closed_at = close(client, world)
    assert of_case(settings, world.case_id) == (2, 6, 1)
    assert of_case(settings, other.case_id) == (1, 3, 1)

    threshold = closed_at + timedelta(days=DAYS)
    nothing = once(settings, purge, threshold - timedelta(microseconds=1))
    assert (nothing.tasks, nothing.ticks) == (0, 0)
    assert of_case(settings, world.case_id) == (2, 6, 1)

    purged = once(settings, purge, threshold)
    assert (purged.tasks, purged.ticks) == (2, 6)
    assert of_case(settings, world.case_id) == (0, 0, 0)
    assert of_case(settings, other.case_id) == (1, 3, 1)  # open: kept however long
    again = once(settings, purge, threshold + timedelta(days=3650))
    assert (again.tasks, again.ticks) == (0, 0)  # idempotent
    assert of_case(settings, other.case_id) == (1, 3, 1)
    # the case itself stays (erasing it is another matter); its homework list is empty
    r = client.get(f"/cases/{world.case_id}/homework", headers=world.therapist.headers)
    assert r.status_code == 200, r.text
    assert r.json() == []


def test_a_case_closed_later_keeps_its_homework_longer(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    homework(client, world, tasks=1)
    closed_at = close(client, world)
    # the same case as if closed a day later: its retention ends a day later
    later = closed_at + timedelta(days=1)

    async def reclose(conn: Any) -> None:
        await conn.execute(
            cases.update().where(cases.c.id == world.case_id).values(closed_at=later)
        )

    in_db(settings, reclose)
    default_days = 365
    at = closed_at + timedelta(days=default_days)
    assert once(settings, purge, at).tasks == 0
    assert once(settings, purge, at + timedelta(days=1)).tasks == 1


def test_two_instances_purging_at_once_delete_each_task_once(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    async def many_tasks(conn: Any) -> None:  # more than a batch, the ticks as HTTP made them
        task = (
            await conn.execute(
                sa.select(homework_tasks).where(homework_tasks.c.case_id == world.case_id)
            )
        ).first()
        base = task._asdict()
        for _ in range(450):
            await conn.execute(homework_tasks.insert().values({**base, "id": uuid.uuid4()}))

    homework(client, world, tasks=1, days=2)
    in_db(settings, many_tasks)
    closed_at = close(client, world)
    tasks, ticks, _ = of_case(settings, world.case_id)
    assert (tasks, ticks) == (451, 2)

    results = twice_at_once(settings, purge, closed_at + timedelta(days=400))
    assert sum(r.tasks for r in results) == 451
    assert sum(r.ticks for r in results) == 2
    assert of_case(settings, world.case_id) == (0, 0, 0)
