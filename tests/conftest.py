"""Fixtures: every HTTP test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from app_cache import app_for
from litestar.testing import TestClient
from support import (
    PASSWORD,
    POSTGRES_URL,
    Session,
    accept_invite,
    auth,
    login,
    reachable,
    run,
    service_missing,
    worker_name,
)

from app.config import Settings
from app.services import running_services
from app.storage.migrate import upgrade
from app.storage.schema import metadata

# the interop and scenario tests' fixtures: plugins, not a second conftest, whose
# module name would shadow this one for `from conftest import World`
pytest_plugins = ["interop_fixtures", "scenario_fixtures"]

TEST_SECRET = "test-secret-key-0123456789abcdef0123456789"
#: argon2id at a millisecond a hash instead of ~50 ms: the suite hashes thousands of
#: passwords. Tests of the password rules themselves are marked ``owasp_hashing`` and
#: keep the real parameters (the default Settings).
FAST_HASHING: dict[str, Any] = {
    "argon2_memory_kib": 64,
    "argon2_time_cost": 1,
    "insecure_test_hashing": True,
}


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "kaari.sqlite3"
    run(upgrade(f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database on the real server, migrated once, dropped at the end."""
    if not reachable(POSTGRES_URL):
        service_missing("PostgreSQL", POSTGRES_URL)
    # one per xdist worker (each worker is its own pytest session), random across runs
    name = f"kaari_test_{worker_name()}_{secrets.token_hex(4)}"
    admin_dsn = POSTGRES_URL

    async def create() -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    run(create())
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    run(upgrade(url))
    try:
        yield url
    finally:
        run(drop())


def truncate_postgres(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)

    async def go() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()

    run(go())


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "kaari.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    truncate_postgres(url)
    return url


@pytest.fixture
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    hashing = {} if request.node.get_closest_marker("owasp_hashing") else FAST_HASHING
    return Settings(
        database_url=database_url, data_dir=str(tmp_path), secret_key=TEST_SECRET, **hashing
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(app_for(settings)) as c:
        yield c


@dataclass
class World:
    """An organisation with an admin, a therapist, a case with two guardians and a child."""

    org_id: UUID
    admin: Session
    therapist: Session
    case_id: UUID
    child_id: UUID
    guardian: Session
    guardian2: Session


def seed_org(
    settings: Settings, name: str = "Terapia Oy", admin_email: str = "admin@example.fi"
) -> UUID:
    """What `kaari admin create-org` and `create-user` do."""

    async def go() -> UUID:
        async with running_services(settings) as (runtime, services):
            orgs = services.orgs
            org_id = await orgs.create_org(name, ["fi", "sv", "en"])
            await orgs.create_user(
                runtime.passwords,
                org_id=org_id,
                email=admin_email,
                role="admin",
                display_name="Admin",
                password=PASSWORD,
            )
            return org_id

    result: UUID = run(go())
    return result


def build_world(client: TestClient[Any], settings: Settings, prefix: str = "") -> World:
    org_id = seed_org(settings, f"Org {prefix}", f"{prefix}admin@example.fi")
    admin = login(client, f"{prefix}admin@example.fi")
    r = client.post("/org/invites", json={"role": "therapist"}, headers=admin.headers)
    assert r.status_code == 201, r.text
    therapist = accept_invite(client, r.json()["code"], f"{prefix}therapist@example.fi", "Terhi")
    r = client.post("/cases", json={"childDisplayName": "Eino"}, headers=therapist.headers)
    assert r.status_code == 201, r.text
    case_id, child_id = UUID(r.json()["id"]), UUID(r.json()["childUserId"])
    guardians = []
    for n in (1, 2):
        r = client.post(f"/cases/{case_id}/invites", json={}, headers=therapist.headers)
        assert r.status_code == 201, r.text
        guardians.append(
            accept_invite(client, r.json()["code"], f"{prefix}guardian{n}@example.fi", f"G{n}")
        )
    return World(org_id, admin, therapist, case_id, child_id, guardians[0], guardians[1])


@pytest.fixture
def world(client: TestClient[Any], settings: Settings) -> World:
    return build_world(client, settings)


@pytest.fixture
def other_world(client: TestClient[Any], settings: Settings, world: World) -> World:
    """A second, unrelated organisation: everything in it is foreign to ``world``."""
    return build_world(client, settings, prefix="x")


__all__ = ["World", "auth"]


#: the suite's long tests (real processes, browsers, calls), first in the order so that
#: pytest-xdist hands them out at the start instead of leaving one worker a long tail
#: (a measured 40 to 90 s of a 9 min run); the rest keeps its order
_LONG_FIRST = (
    "tests/web/",
    "tests/scenarios/",
    "tests/deploy/",
    "tests/signaling/",
    "tests/interop/",
    "tests/app/test_app_fuzz.py",
    "tests/app/realtime/test_realtime_redis",
)


def _run_order(item: pytest.Item) -> int:
    path = item.path.relative_to(Path(__file__).resolve().parents[1]).as_posix()
    for rank, prefix in enumerate(_LONG_FIRST):
        if path.startswith(prefix):
            return rank
    return len(_LONG_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_run_order)  # stable: within a rank, the collected order
