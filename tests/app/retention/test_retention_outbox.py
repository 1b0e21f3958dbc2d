"""Delivered and given-up notices are deleted once they are KAARI_OUTBOX_RETENTION_DAYS
old; pending ones never are."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import msgspec
from conftest import World

from app.config import Settings
from app.notifications import store
from app.storage.schema import notification_outbox

from retention_support import NOW, count, in_db, once, twice_at_once  # isort: skip

DAYS = 30
AT_THRESHOLD = NOW - timedelta(days=DAYS)
JUST_INSIDE = AT_THRESHOLD + timedelta(microseconds=1)


def notice(world: World, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "user_id": world.guardian.user_id,
        "channel": "email",
        "subscription_id": None,
        "kind": "appointment_cancelled",
        "ids": {"appointmentId": str(uuid.uuid4())},
        "created_at": NOW - timedelta(days=400),
        "attempts": 1,
        "next_attempt_at": None,
        "delivered_at": None,
        "failed_at": None,
        "last_error": None,
    }
    row.update(values)
    return row


def enqueue(settings: Settings, rows: list[dict[str, Any]]) -> None:
    async def go(conn: Any) -> None:
        await store.enqueue(conn, rows)

    in_db(settings, go)


def left(settings: Settings) -> set[uuid.UUID]:
    async def go(conn: Any) -> set[uuid.UUID]:
        return {r.id for r in await store.outbox_rows(conn)}

    ids: set[uuid.UUID] = in_db(settings, go)
    return ids


def purge(services: Any) -> Any:
    return services.outbox_retention.run_once()


def test_settled_notices_go_at_their_retention_and_nothing_else(
    settings: Settings, world: World
) -> None:
    settings = msgspec.structs.replace(settings, outbox_retention_days=DAYS)
    old_delivered = notice(world, delivered_at=NOW - timedelta(days=90))
    at_threshold = notice(world, delivered_at=AT_THRESHOLD)
    failed_at_threshold = notice(world, failed_at=AT_THRESHOLD, last_error="http_410")
    just_inside = notice(world, delivered_at=JUST_INSIDE)
    failed_inside = notice(world, failed_at=JUST_INSIDE, last_error="timeout")
    # waiting to be sent however old it is (a retry far ahead), or in a sender's lease
    pending = notice(world, next_attempt_at=NOW + timedelta(days=1), attempts=7)
    leased = notice(world, next_attempt_at=NOW - timedelta(days=60))
    rows = [old_delivered, at_threshold, failed_at_threshold, just_inside, failed_inside]
    enqueue(settings, [*rows, pending, leased])
    before = count(settings, notification_outbox)

    assert once(settings, purge) == 3
    kept = {just_inside["id"], failed_inside["id"], pending["id"], leased["id"]}
    assert left(settings) == kept
    assert count(settings, notification_outbox) == before - 3
    assert once(settings, purge) == 0  # idempotent
    assert left(settings) == kept
    # a day later the two just inside their retention go too; what waits stays
    assert once(settings, purge, NOW + timedelta(days=1)) == 2
    assert left(settings) == {pending["id"], leased["id"]}


def test_two_instances_purging_at_once_delete_each_row_once(
    settings: Settings, world: World
) -> None:
    old = NOW - timedelta(days=31)
    many = [notice(world, delivered_at=old - timedelta(seconds=i)) for i in range(1_100)]
    young = notice(world, delivered_at=NOW - timedelta(days=1))
    enqueue(settings, [*many, young])

    results = twice_at_once(settings, purge)
    assert sum(results) == len(many)
    assert left(settings) == {young["id"]}
    assert once(settings, purge) == 0


def test_the_retention_is_a_setting(settings: Settings, world: World) -> None:
    delivered = notice(world, delivered_at=NOW - timedelta(days=8))
    enqueue(settings, [delivered])
    assert once(settings, purge) == 0  # the default keeps it 30 days
    week = msgspec.structs.replace(settings, outbox_retention_days=7)
    assert once(week, purge) == 1
    assert left(settings) == set()
