"""The request log says the status the client got, and never a secret (issue 16)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient


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
