"""The async database engine for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


def async_url(url: str) -> str:
    """Map a user-facing URL (``sqlite:///…``, ``postgresql://…``) to its async driver."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # deleted rows are overwritten, not left in free pages (erasure: docs/data-protection.md)
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def make_engine(url: str) -> AsyncEngine:
    full = async_url(url)
    if full.startswith("sqlite+aiosqlite:///"):
        path = full.removeprefix("sqlite+aiosqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(full, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(full, hide_parameters=True, pool_size=10, max_overflow=10)


class Database:
    """The engine plus the two ways the services use it: a read and a transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One transaction; committed when the block ends, rolled back on an exception."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        # SQLite has one writer at a time; a deferred transaction that upgrades its lock
        # after another writer committed fails at once (SQLITE_BUSY_SNAPSHOT). The embedded
        # mode is one process, so writers queue here instead. Never nest transactions.
        async with self._write_lock, self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    async def checkpoint(self) -> bool:
        """On SQLite, move the write-ahead log into the database file and empty it, so what
        was just deleted (secure_delete overwrote it) is in no earlier log frame either.
        Whether the log could be emptied (a long reader can keep it); PostgreSQL: True."""
        if self._write_lock is None:
            return True
        async with self._write_lock, self.engine.connect() as conn:
            busy = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).first()
        return busy is None or int(busy[0]) == 0

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
