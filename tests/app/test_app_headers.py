"""Security headers on every answer (issue 16): nosniff, no-store, a CSP, HSTS behind TLS,
and no third-party script under /schema in production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from conftest import TEST_SECRET, World
from litestar.testing import TestClient
from support import run

from app.config import Settings
from app.main import create_app
from app.storage.migrate import upgrade

VAPID_KEY = "x" * 43  # only its presence is checked at start-up


def test_every_answer_has_nosniff_no_store_and_a_csp(client: TestClient[Any], world: World) -> None:
    answers = [
        client.get("/me", headers=world.therapist.headers),  # authenticated
        client.get("/me"),  # 401 raised by the token check, outside the handlers
        client.get("/me", headers={"authorization": "Bearer nope"}),
        client.post("/cases", content=b"{", headers=world.therapist.headers),  # 415
        client.get(f"/cases/{world.case_id}", headers=world.therapist.headers),
        client.get("/health"),
        client.get("/schema/openapi.json"),
    ]
    for r in answers:
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["cache-control"] == "no-store", r.url
        assert "default-src 'none'" in r.headers["content-security-policy"], r.url
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], r.url
        assert "strict-transport-security" not in r.headers  # off by default, and plain HTTP


def test_the_precall_page_keeps_its_own_csp(client: TestClient[Any]) -> None:
    r = client.get("/precall")
    assert r.status_code == 200
    assert "script-src 'nonce-" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_hsts_on_https_answers_when_set(settings: Settings) -> None:
    with TestClient(
        create_app(msgspec.structs.replace(settings, hsts_seconds=31_536_000)),
        base_url="https://kaari.example",
    ) as c:
        r = c.get("/health")
    assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def production(tmp_path: Path) -> Settings:
    s = Settings(
        env="production",
        data_dir=str(tmp_path),
        secret_key=TEST_SECRET,
        vapid_private_key=VAPID_KEY,
        vapid_subject="mailto:ops@example.fi",
        server_name="kaari.example.fi",
    )
    run(upgrade(s.effective_database_url))
    return s


def test_production_schema_serves_no_third_party_script(tmp_path: Path) -> None:
    with TestClient(create_app(production(tmp_path))) as c:
        for path in ("/schema", "/schema/swagger", "/schema/redoc", "/schema/elements"):
            r = c.get(path)
            assert b"<script" not in r.content, path
            assert "text/html" not in r.headers["content-type"] or r.status_code == 404, path
        r = c.get("/schema/openapi.json")
        assert r.status_code == 200
        assert r.json()["info"]["title"] == "Kaari"
