"""The request log says the status the client got, and never a secret (issue 16)."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient

from app.logs import configure_logging


def request_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int]]:
    return [
        (getattr(r, "route", ""), getattr(r, "status", 0))
        for r in caplog.records
        if r.name == "kaari.http"
    ]


def test_a_refused_token_is_logged_as_the_401_it_answers(
    client: TestClient[Any], world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for headers in ({"authorization": "Bearer nope"}, {}, {"authorization": "Basic x"}):
        caplog.clear()
        assert client.get("/me", headers=headers).status_code == 401
        assert request_lines(caplog) == [("/me", 401)]
    caplog.clear()
    assert client.get("/me", headers=world.therapist.headers).status_code == 200
    assert request_lines(caplog) == [("/me", 200)]


def test_a_refused_token_is_counted_in_the_metrics_as_401(
    client: TestClient[Any], world: World
) -> None:
    """The metrics middleware sat before the token check too, and counted a 500."""
    from app.observability.counters import HTTP_REQUESTS

    def count(status: str) -> float:
        return HTTP_REQUESTS.labels("GET", "/me", status)._value.get()  # type: ignore[attr-defined, no-any-return]

    before_401, before_500 = count("401"), count("500")
    assert client.get("/me", headers={"authorization": "Bearer nope"}).status_code == 401
    assert count("401") == before_401 + 1
    assert count("500") == before_500


def test_websocket_tickets_never_reach_the_log() -> None:
    """uvicorn logs every WebSocket upgrade with its path and query string, where the
    ticket travels (``/ws?ticket=…``); the formatter keeps no query string of anyone
    else's log line."""
    secret = "tkt_0123456789abcdefSECRET"
    stream = io.StringIO()
    configure_logging("INFO", stream)
    try:
        logging.getLogger("uvicorn.error").info(
            '%s - "WebSocket %s" [accepted]', "127.0.0.1:5555", f"/ws?ticket={secret}"
        )
        logging.getLogger("uvicorn.error").info(
            '%s - "WebSocket %s" 403', "127.0.0.1:5555", f"/ws?a=1&ticket={secret}#x"
        )
        logging.getLogger("httpx").info("HTTP Request: POST https://push.example/%s", secret)
    finally:
        configure_logging("INFO")
    text = stream.getvalue()
    assert secret not in text
    assert "WebSocket /ws?[redacted]" in text
