"""Reading the test database directly: to prove that a refused request stored nothing."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from support import run

from app.config import Settings
from app.storage.engine import Database


def table_counts(settings: Settings, tables: Iterable[sa.Table]) -> dict[str, int]:
    """Rows in each of ``tables``, by table name."""
    wanted = list(tables)

    async def go() -> dict[str, int]:
        db = Database(settings.effective_database_url)
        try:
            async with db.read() as conn:
                return {
                    t.name: int(
                        (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar_one()
                    )
                    for t in wanted
                }
        finally:
            await db.dispose()

    result: dict[str, int] = run(go())
    return result
