"""Migrations create exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from support import run

from app.storage.engine import make_engine
from app.storage.migrate import current_revision, head_revision, upgrade
from app.storage.schema import metadata


def schema_diff(url: str) -> list[object]:
    async def go() -> list[object]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
                )
        finally:
            await engine.dispose()

    result: list[object] = run(go())
    return result


def test_fresh_sqlite_file_is_created_and_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'kaari.sqlite3'}"
    run(upgrade(url))
    run(upgrade(url))  # idempotent
    assert run(current_revision(url)) == head_revision()
    assert schema_diff(url) == []


def test_migrated_databases_match_the_declared_schema(database_url: str) -> None:
    assert run(current_revision(database_url)) == head_revision()
    assert schema_diff(database_url) == []
