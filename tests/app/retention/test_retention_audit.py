"""Audit events are deleted once they are KAARI_AUDIT_RETENTION_DAYS old (13 years by
default), with their links to cases; younger ones stay in the family's access log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec
from conftest import World
from litestar.testing import TestClient

from app.audit import store
from app.config import Settings
from app.storage.schema import audit_events
from app.storage.schema_privacy import audit_event_cases

from retention_support import NOW, count, in_db, once, twice_at_once  # isort: skip

DEFAULT_DAYS = 4749  # 13 years (docs/data-protection.md)
AT_THRESHOLD = NOW - timedelta(days=DEFAULT_DAYS)
JUST_INSIDE = AT_THRESHOLD + timedelta(microseconds=1)


def record(settings: Settings, world: World, *times: datetime, action: str = "case.read") -> None:
    """Events of the world's case at ``times``, linked to the case as the writer links them."""

    async def go(conn: Any) -> None:
        for at in times:
            event_id = await store.insert(
                conn,
                at=at,
                org_id=world.org_id,
                actor_user_id=world.therapist.user_id,
                actor_device_id=world.therapist.device_id,
                action=action,
                target_type="homework",
                target_id=str(world.case_id),
                details=None,
                ip_hash=None,
            )
            await store.link_cases(conn, event_id, [world.case_id])

    in_db(settings, go)


def times_left(settings: Settings, world: World) -> list[datetime]:
    async def go(conn: Any) -> list[datetime]:
        rows = await conn.execute(
            audit_events.select().where(audit_events.c.org_id == world.org_id)
        )
        return sorted(r.at for r in rows)

    found: list[datetime] = in_db(settings, go)
    return found


def purge(services: Any) -> Any:
    return services.audit_retention.run_once()


def test_events_go_at_their_retention_with_their_case_links(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    recent = times_left(settings, world)  # the world's own events, written just now
    assert recent
    assert min(recent) > NOW - timedelta(days=30)
    ancient = NOW - timedelta(days=DEFAULT_DAYS + 400)
    record(settings, world, ancient, AT_THRESHOLD, JUST_INSIDE)
    links = count(settings, audit_event_cases)

    assert once(settings, purge) == 2
    assert times_left(settings, world) == sorted([JUST_INSIDE, *recent])
    assert count(settings, audit_event_cases) == links - 2
    assert once(settings, purge) == 0  # idempotent
    # the kept event is still in the family's access log
    r = client.get(f"/cases/{world.case_id}/access-log?limit=200", headers=world.guardian.headers)
    assert r.status_code == 200, r.text
    oldest = min(datetime.fromisoformat(e["at"]) for e in r.json()["entries"])
    assert oldest == JUST_INSIDE


def test_two_instances_purging_at_once_delete_each_event_once(
    settings: Settings, world: World
) -> None:
    old = AT_THRESHOLD - timedelta(days=1)
    record(settings, world, *[old - timedelta(seconds=i) for i in range(2_100)])
    kept = times_left(settings, world)[2_100:]

    results = twice_at_once(settings, purge)
    assert sum(results) == 2_100
    assert times_left(settings, world) == kept
    assert once(settings, purge) == 0


def test_the_retention_is_a_setting(settings: Settings, world: World) -> None:
    two_years = NOW - timedelta(days=2 * 365)
    record(settings, world, two_years)
    assert once(settings, purge) == 0
    shorter = msgspec.structs.replace(settings, audit_retention_days=365)
    assert once(shorter, purge) == 1
    assert two_years not in times_left(settings, world)
