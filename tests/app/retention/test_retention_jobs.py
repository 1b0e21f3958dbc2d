"""Every instance runs the retention jobs on its own, every KAARI_PURGE_INTERVAL_SECONDS,
and counts their runs and what they deleted in /metrics (no id in any label)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from conftest import World
from litestar.testing import TestClient

from app.config import Settings
from app.main import create_app
from app.storage.schema import (
    audit_events,
    cases,
    homework_tasks,
    homework_ticks,
    notification_outbox,
)

from retention_support import count, in_db  # isort: skip
from test_retention_audit import record  # isort: skip
from test_retention_blobs import blob_path, part_path, touch  # isort: skip
from test_retention_homework import NOW, homework, set_now  # isort: skip
from test_retention_outbox import enqueue, notice  # isort: skip

JOBS = (
    "kaari-retention-outbox",
    "kaari-retention-homework",
    "kaari-retention-audit",
    "kaari-retention-blobs",
)
KINDS = ("outbox_rows", "homework_tasks", "homework_ticks", "audit_events")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    """The app with its jobs running every 0.2 s."""
    quick = msgspec.structs.replace(settings, purge_interval_seconds=0.2)
    with TestClient(create_app(quick)) as c:
        yield c


def wait_until(check: Any, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)


def series(client: TestClient[Any]) -> dict[str, float]:
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    found = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def test_the_app_runs_every_retention_job_and_counts_them(
    client: TestClient[Any], settings: Settings, world: World, tmp_path: Path
) -> None:
    set_now(client, NOW)  # the rules' clock (tasks start near it); the jobs read it too
    now = NOW.astimezone(UTC)
    ancient = now - timedelta(days=5000)
    before = series(client)
    enqueue(settings, [notice(world, delivered_at=ancient), notice(world, delivered_at=now)])
    record(settings, world, ancient)
    homework(client, world, tasks=1, days=1)
    r = client.post(f"/org/cases/{world.case_id}/close", headers=world.admin.headers)
    assert r.status_code == 204, r.text

    async def closed_long_ago(conn: Any) -> None:
        await conn.execute(
            cases.update().where(cases.c.id == world.case_id).values(closed_at=ancient)
        )

    in_db(settings, closed_long_ago)
    orphan = touch(blob_path(settings, uuid.uuid4()), ancient)
    part = touch(part_path(settings, uuid.uuid4()), ancient)

    wait_until(
        lambda: (
            count(settings, notification_outbox) == 1
            and count(settings, audit_events, audit_events.c.at <= ancient) == 0
            and count(settings, homework_tasks) == 0
            and count(settings, homework_ticks) == 0
            and not orphan.exists()
            and not part.exists()
        )
    )
    after = series(client)
    for job in JOBS:
        key = f'kaari_background_job_runs_total{{job="{job}"}}'
        assert after[key] > before.get(key, 0), job
        assert after.get(f'kaari_background_job_failures_total{{job="{job}"}}', 0) == before.get(
            f'kaari_background_job_failures_total{{job="{job}"}}', 0
        )
    for kind in (*KINDS, "orphan_blobs", "part_files"):
        key = f'kaari_retention_deleted_total{{kind="{kind}"}}'
        assert after[key] >= before.get(key, 0) + 1, kind
    uuid_like = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
    assert not [name for name in after if uuid_like.search(name)]


def test_kaari_purge_runs_the_retention_jobs_once(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "KAARI_DATA_DIR": str(tmp_path), "KAARI_LOG_LEVEL": "WARNING"}

    def kaari(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip

    assert kaari("migrate").returncode == 0
    settings = Settings(data_dir=str(tmp_path))
    ancient = NOW.astimezone(UTC) - timedelta(days=400)
    orphan = touch(blob_path(settings, uuid.uuid4()), ancient)
    part = touch(part_path(settings, uuid.uuid4()), ancient)
    done = kaari("purge")
    assert done.returncode == 0, done.stderr
    assert "retention: 0 delivered notices" in done.stdout
    assert "1 orphan blobs, 1 unfinished uploads" in done.stdout
    assert not orphan.exists()
    assert not part.exists()
