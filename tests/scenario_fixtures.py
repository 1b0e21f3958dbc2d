"""Fixtures of the multi-process scenarios (tests/scenarios): a plugin loaded by the root
conftest, not a second conftest, whose module name would shadow the root one for
`from conftest import World`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from servers import fresh_postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database's URL, or "" for the embedded SQLite."""
    with (
        fresh_postgres_database()
        if request.param == "postgresql"
        else contextlib.nullcontext("") as url
    ):
        yield url
