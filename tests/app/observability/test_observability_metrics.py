"""/metrics in Prometheus text format: the expected series after a small scenario over
HTTP, no id of a user, case or device anywhere in it, and the production token rule."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from conftest import World, build_world
from litestar.testing import TestClient
from support import PASSWORD, assert_problem
from ws_support import close, connect

from app.config import ConfigError, Settings
from app.main import create_app

UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)
VAPID_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"
TOKEN = "metrics-token-0123456789abcdef0123456789"


def series(text: str) -> dict[str, float]:
    """``name{labels}`` -> value for every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def scrape(client: TestClient[Any], token: str | None = None) -> str:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return r.text


def test_metrics_after_a_scenario_have_the_series_and_no_ids(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    other = build_world(client, settings, prefix="m")
    w = world
    # a little of everything: reads, a 404 on a foreign case, failed sign-ins until the
    # limit of the account at this address refuses, and a live socket
    assert client.get(f"/cases/{w.case_id}", headers=w.guardian.headers).status_code == 200
    r = client.get(f"/cases/{other.case_id}", headers=w.guardian.headers)
    assert r.status_code in (403, 404)
    for _ in range(settings.login_max_failures_per_address):
        r = client.post(
            "/auth/login",
            json={"email": "guardian1@example.fi", "password": "wrong", "device": {"name": "x"}},
        )
        assert_problem(r, 401, "invalid_credentials")
    r = client.post(
        "/auth/login",
        json={"email": "guardian1@example.fi", "password": PASSWORD, "device": {"name": "x"}},
    )
    assert_problem(r, 429, "rate_limited")
    assert client.get("/no/such/path").status_code == 404
    ws = connect(client, w.therapist)
    try:
        text = scrape(client)
    finally:
        close(ws)
    got = series(text)

    assert got['kaari_http_requests_total{method="POST",route="/auth/login",status="401"}'] >= 5
    assert got['kaari_http_requests_total{method="POST",route="/auth/login",status="429"}'] >= 1
    assert got['kaari_http_requests_total{method="GET",route="/cases/{case_id}",status="200"}']
    assert any(k.startswith("kaari_http_request_duration_seconds_bucket{") for k in got)
    assert got["kaari_login_failures_total"] >= 5
    assert got['kaari_rate_limit_refusals_total{limit="login:acct"}'] >= 1
    assert got["kaari_websocket_connections"] >= 1
    for name in (
        "kaari_outbox_pending",
        "kaari_outbox_oldest_pending_age_seconds",
        "kaari_outbox_failed",
        "kaari_mailbox_pending_rows",
    ):
        assert got[name] >= 0
    assert got["kaari_metrics_sample_ok"] == 1
    # every instance runs its background jobs once at start, then periodically
    for job in ("kaari-purge", "kaari-reminders"):
        assert got[f'kaari_background_job_runs_total{{job="{job}"}}'] >= 1
        assert f'kaari_background_job_last_success_timestamp_seconds{{job="{job}"}}' in got
    assert "process_resident_memory_bytes" in got

    # no id of anything, in any label or value; no path as requested
    assert UUID_RE.search(text) is None, UUID_RE.search(text)
    for session in (w.admin, w.therapist, w.guardian, w.guardian2, other.guardian):
        for value in (session.user_id, session.device_id):
            assert str(value) not in text
            assert value.hex not in text
    for value in (w.case_id, w.child_id, w.org_id, other.case_id):
        assert str(value) not in text
        assert value.hex not in text
    assert "/no/such/path" not in text
    assert "guardian1@example.fi" not in text


def production(settings: Settings, **overrides: Any) -> Settings:
    return msgspec.structs.replace(
        settings,
        env="production",
        vapid_private_key=VAPID_KEY,
        vapid_subject="mailto:ops@example.fi",
        # production hashes at OWASP's parameters (the fixture's fast ones are refused)
        argon2_memory_kib=19456,
        argon2_time_cost=2,
        insecure_test_hashing=False,
        server_name="kaari.example.fi",
        **overrides,
    )


@pytest.fixture
def prod_client(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(production(settings, metrics_token=TOKEN))) as c:
        yield c


def test_production_metrics_need_the_bearer_token(prod_client: TestClient[Any]) -> None:
    assert_problem(prod_client.get("/metrics"), 401, "unauthenticated")
    r = prod_client.get("/metrics", headers={"authorization": "Bearer " + TOKEN[:-1] + "x"})
    assert_problem(r, 401, "unauthenticated")
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = prod_client.get("/metrics", headers={"authorization": "Basic " + TOKEN})
    assert_problem(r, 401, "unauthenticated")
    assert "kaari_http_requests_total" in scrape(prod_client, TOKEN)


def test_production_without_a_token_has_no_metrics(settings: Settings) -> None:
    with TestClient(create_app(production(settings))) as c:
        r = c.get("/metrics", headers={"authorization": "Bearer anything"})
        assert_problem(r, 404, "not_found")
        assert c.get("/health").status_code == 200


def test_development_metrics_are_open_unless_a_token_is_set(settings: Settings) -> None:
    with TestClient(create_app(settings)) as c:
        assert "kaari_http_requests_total" in scrape(c)
    with TestClient(create_app(msgspec.structs.replace(settings, metrics_token=TOKEN))) as c:
        assert_problem(c.get("/metrics"), 401, "unauthenticated")
        assert "kaari_http_requests_total" in scrape(c, TOKEN)


def test_a_short_metrics_token_is_refused_in_production(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="KAARI_METRICS_TOKEN"):
        production(settings, metrics_token="short").check()
