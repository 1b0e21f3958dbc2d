"""With KAARI_REDIS_URL, rate limits are shared by every instance (real Redis)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from conftest import seed_org
from litestar.testing import TestClient
from support import PASSWORD, REDIS_URL, assert_problem, reachable, service_missing

from app.config import Settings
from app.main import create_app


@pytest.fixture
def redis_settings(settings: Settings) -> Settings:
    if not reachable(REDIS_URL):
        service_missing("Redis", REDIS_URL)
    return Settings(
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        redis_url=REDIS_URL,
        redis_prefix=f"kaari-test-{secrets.token_hex(4)}:",
    )


def attempt(client: TestClient[Any], password: str) -> Any:
    return client.post(
        "/auth/login",
        json={"email": "admin@example.fi", "password": password, "device": {"name": "x"}},
    )


def test_failed_logins_are_counted_across_instances(redis_settings: Settings) -> None:
    seed_org(redis_settings)
    with TestClient(create_app(redis_settings)) as a, TestClient(create_app(redis_settings)) as b:
        for client in (a, b, a, b, a):
            assert_problem(attempt(client, "wrong"), 401, "invalid_credentials")
        r = attempt(b, PASSWORD)
        assert_problem(r, 429, "rate_limited")
        assert 0 < int(r.headers["retry-after"]) <= redis_settings.login_window_seconds


def test_ready_reports_redis(redis_settings: Settings) -> None:
    with TestClient(create_app(redis_settings)) as client:
        r = client.get("/ready")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_ready_is_503_when_redis_is_down(settings: Settings) -> None:
    down = Settings(
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        redis_url="redis://127.0.0.1:1/0",  # nothing listens on port 1
    )
    with TestClient(create_app(down)) as client:
        r = client.get("/ready")
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "ok", "redis": "unavailable"}


def test_rate_limit_keys_in_redis_hold_no_address_or_id(redis_settings: Settings) -> None:
    """The audit log keeps only a keyed hash of an address; Redis must not do worse."""
    import redis as redis_lib

    seed_org(redis_settings)
    with TestClient(create_app(redis_settings)) as client:
        assert_problem(attempt(client, "wrong"), 401, "invalid_credentials")
        r = attempt(client, PASSWORD)
        assert r.status_code == 200, r.text
        token, device = r.json()["token"], r.json()["deviceId"]
        assert client.post("/ws/ticket", headers={"authorization": f"Bearer {token}"}).is_success
    conn = redis_lib.Redis.from_url(REDIS_URL)
    try:
        keys = [k.decode() for k in conn.scan_iter(match=redis_settings.redis_prefix + "rl:*")]
        assert len(keys) >= 2, keys  # login by address; tickets by device
        for key in keys:
            assert "testclient" not in key  # the TestClient's address
            assert device not in key
            assert ":ip:" not in key
    finally:
        for key in conn.scan_iter(match=redis_settings.redis_prefix + "*"):
            conn.delete(key)
        conn.close()
