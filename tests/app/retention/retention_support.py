"""Helpers for the retention tests: one round of a job at a chosen time, on one or two
instances at once, and plain counts of what is left."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from support import run, services_at

from app.config import Settings
from app.storage.engine import Database

#: "now" of the rounds: the jobs are handed it, the rows are placed around it
NOW = datetime(2026, 10, 14, 8, 0, tzinfo=UTC)

Job = Callable[[Any], Awaitable[Any]]
"""one round of a job, given the instance's services"""


def once(settings: Settings, job: Job, now: datetime = NOW) -> Any:
    """One round of ``job`` on an instance whose clock says ``now``."""

    async def go() -> Any:
        async with services_at(settings, lambda: now) as services:
            return await job(services)

    return run(go())


def twice_at_once(settings: Settings, job: Job, now: datetime = NOW) -> list[Any]:
    """The same round on two instances (each its own engine and pool) at the same time."""

    async def go() -> list[Any]:
        async with (
            services_at(settings, lambda: now) as a,
            services_at(settings, lambda: now) as b,
        ):
            results: list[Any] = await asyncio.gather(job(a), job(b))
            return results

    results: list[Any] = run(go())
    return results


def in_db(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """``work(conn)`` in one transaction on a database of its own."""

    async def go() -> Any:
        db = Database(settings.effective_database_url)
        try:
            async with db.transaction() as conn:
                return await work(conn)
        finally:
            await db.dispose()

    return run(go())


def count(settings: Settings, table: sa.Table, *where: Any) -> int:
    async def go(conn: Any) -> int:
        query = sa.select(sa.func.count()).select_from(table).where(*where)
        return int((await conn.execute(query)).scalar_one())

    result: int = in_db(settings, go)
    return result
