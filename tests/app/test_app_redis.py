"""With KAARI_REDIS_URL, rate limits are shared by every instance (real Redis)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from conftest import World, seed_org
from litestar import Litestar, get
from litestar.testing import TestClient
from redis.exceptions import ConnectionError as RedisConnectionError
from support import PASSWORD, REDIS_URL, assert_problem, login, reachable, service_missing
from ws_support import close, connect, receive_until

from app.config import Settings
from app.errors import exception_handlers
from app.main import create_app
from app.realtime.connection import Connection
from app.realtime.schemas import InFrame


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
    assert r.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok", "bus": "ok", "rateLimits": "ok"},
    }


def down_settings(settings: Settings) -> Settings:
    return Settings(
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        redis_url="redis://127.0.0.1:1/0",  # nothing listens on port 1
    )


def test_ready_says_degraded_when_redis_is_down(settings: Settings) -> None:
    with TestClient(create_app(down_settings(settings))) as client:
        r = client.get("/ready")
    assert r.status_code == 200  # still serving: taking it out would not help
    assert r.json() == {
        "status": "degraded",
        "checks": {
            "database": "ok",
            "redis": "unavailable",
            "bus": "degraded",
            "rateLimits": "degraded",
        },
    }


def test_without_redis_sign_in_and_tickets_work_with_per_instance_limits(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    down = down_settings(settings)
    seed_org(down)
    with TestClient(create_app(down)) as client:
        r = attempt(client, PASSWORD)
        assert r.status_code == 200, r.text
        headers = {"authorization": f"Bearer {r.json()['token']}"}
        r = client.post("/ws/ticket", headers=headers)
        assert r.status_code == 200, r.text
        # the limits still hold, in this instance's memory
        for _ in range(5):
            assert_problem(attempt(client, "wrong"), 401, "invalid_credentials")
        assert_problem(attempt(client, PASSWORD), 429, "rate_limited")
    warnings = [r.getMessage() for r in caplog.records if r.name == "kaari.ratelimit"]
    assert warnings == ["redis unreachable: rate limits are per instance until it is back"]


class NeedsRedis(InFrame, tag="test_needs_redis"):
    pass


def test_where_only_redis_will_do_the_answer_is_503_with_retry_after(
    settings: Settings, world: World
) -> None:
    """E.g. call room state, which must be one for all instances: never a 500."""

    @get("/needs-redis", sync_to_thread=False)
    def needs_redis() -> None:
        raise RedisConnectionError("Connection refused")

    with TestClient(Litestar([needs_redis], exception_handlers=exception_handlers)) as c:
        r = c.get("/needs-redis")
    body = assert_problem(r, 503, "temporarily_unavailable")
    assert r.headers["retry-after"] == "5"
    assert body["retryAfter"] == 5

    with TestClient(create_app(down_settings(settings))) as client:
        runtime = client.app.state.runtime

        async def on_frame(conn: Connection, frame: NeedsRedis) -> None:
            await runtime.redis.get("anything")

        runtime.gateway.on(NeedsRedis, on_frame)
        ws = connect(client, login(client, "guardian1@example.fi"))
        ws.send_json({"type": "test_needs_redis"})
        error = receive_until(ws, lambda f: f["type"] != "ping")
        assert (error["type"], error["code"]) == ("error", "temporarily_unavailable")
        close(ws)


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
