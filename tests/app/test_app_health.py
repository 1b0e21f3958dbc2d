"""Liveness, readiness, OpenAPI and the problem+json shape of framework errors."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient
from support import assert_problem


def test_health_answers_without_a_token(client: TestClient[Any]) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_ready_checks_the_database(client: TestClient[Any]) -> None:
    r = client.get("/ready")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {"database": "ok"}}


def test_openapi_lists_the_routes(client: TestClient[Any]) -> None:
    r = client.get("/schema/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in ("/auth/login", "/cases", "/cases/{case_id}/periods", "/health"):
        assert path in paths


def test_unknown_route_is_problem_json(client: TestClient[Any]) -> None:
    assert_problem(client.get("/no/such/route"), 404, "not_found")


def test_protected_route_without_token_is_401(client: TestClient[Any]) -> None:
    body = assert_problem(client.get("/me"), 401, "unauthenticated")
    assert "Bearer" in body["detail"]


def test_wrong_method_is_405(client: TestClient[Any]) -> None:
    assert_problem(client.delete("/health"), 405, "method_not_allowed")
