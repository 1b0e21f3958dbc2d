"""Request bodies are decoded strictly (app/core/body.py): declared types only, no
duplicate keys, and only as application/json (issue 16)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from support import assert_problem

from app.config import Settings
from app.main import create_app

PERIOD = {"payer": "kela", "startsOn": "2025-08-01", "endsOn": "2026-07-31", "sessionsGranted": 4}


def post_period(client: TestClient[Any], world: World, raw: bytes, **headers: str) -> Any:
    return client.post(
        f"/cases/{world.case_id}/periods",
        content=raw,
        headers={**world.therapist.headers, "content-type": "application/json", **headers},
    )


def periods(client: TestClient[Any], world: World) -> list[Any]:
    r = client.get(f"/cases/{world.case_id}/periods", headers=world.therapist.headers)
    result: list[Any] = r.json()
    return result


@pytest.mark.parametrize(
    "granted", ['"40"', "1e2", "3.0", "true"], ids=["string", "exponent", "float", "bool"]
)
def test_an_integer_field_takes_only_a_json_integer(
    client: TestClient[Any], world: World, granted: str
) -> None:
    raw = (
        '{"payer": "kela", "startsOn": "2025-08-01", "endsOn": "2026-07-31", '
        f'"sessionsGranted": {granted}}}'
    ).encode()
    problem = assert_problem(post_period(client, world, raw), 422, "validation_error")
    assert problem["errors"][0]["key"] == "sessionsGranted"
    assert periods(client, world) == []


@pytest.mark.parametrize("day", ["1754006400", "1754006400.0"])
def test_a_date_field_takes_no_epoch_number(
    client: TestClient[Any], world: World, day: str
) -> None:
    raw = (
        f'{{"payer": "kela", "startsOn": {day}, "endsOn": "2026-07-31", "sessionsGranted": 4}}'
    ).encode()
    assert_problem(post_period(client, world, raw), 422, "validation_error")
    raw = f'{{"caseIds": ["{world.case_id}"], "startsAt": {day}, "placeKind": "office"}}'
    r = client.post("/appointments", content=raw.encode(), headers=post_headers(world))
    assert_problem(r, 422, "validation_error")
    assert client.get("/appointments", headers=world.therapist.headers).json() == []


def post_headers(world: World) -> dict[str, str]:
    return {**world.therapist.headers, "content-type": "application/json"}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"childDisplayName": "Eino", "childDisplayName": "Mallory"}',
        b'{"childDisplayName": "Eino", "childLocale": "fi", "childLocale": "sv"}',
    ],
)
def test_duplicate_keys_are_refused(client: TestClient[Any], world: World, raw: bytes) -> None:
    before = client.get("/cases", headers=world.therapist.headers).json()
    r = client.post("/cases", content=raw, headers=post_headers(world))
    problem = assert_problem(r, 422, "validation_error")
    assert "Duplicate key" in problem["detail"]
    assert client.get("/cases", headers=world.therapist.headers).json() == before


def test_duplicate_keys_are_refused_in_nested_objects(
    client: TestClient[Any], world: World
) -> None:
    raw = (
        b'{"email": "guardian1@example.fi", "password": "correct horse battery staple",'
        b' "device": {"name": "a", "name": "b"}}'
    )
    r = client.post("/auth/login", content=raw, headers={"content-type": "application/json"})
    assert_problem(r, 422, "validation_error")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/jsonx", None],
)
def test_json_is_read_only_as_application_json(
    client: TestClient[Any], world: World, content_type: str | None
) -> None:
    headers = dict(world.therapist.headers)
    if content_type is not None:
        headers["content-type"] = content_type
    r = client.post("/cases", content=b'{"childDisplayName": "Eino"}', headers=headers)
    assert_problem(r, 415, "unsupported_media_type")


def test_application_json_with_a_charset_is_fine(client: TestClient[Any], world: World) -> None:
    r = client.post(
        "/cases",
        content=b'{"childDisplayName": "Eino"}',
        headers={**world.therapist.headers, "content-type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 201, r.text


def test_malformed_json_is_400(client: TestClient[Any], world: World) -> None:
    r = client.post("/cases", content=b'{"childDisplayName": ', headers=post_headers(world))
    assert_problem(r, 400, "bad_request")


#: write routes that read their body raw and take something other than JSON: why
BINARY_BODIES = {
    ("POST", "/threads/{thread_id:uuid}/attachments"): "an encrypted blob, streamed to disk",
}


def raw_body_routes(settings: Settings) -> list[tuple[str, str]]:
    """(method, path) of every write route that reads its body itself (a ``request``
    parameter and no ``data``, or ``data`` as bytes or text) instead of through
    litestar's decoding, which is strict for every route (app/core/body.py)."""
    found = []
    for route in create_app(settings).routes:
        for handler in getattr(route, "route_handlers", ()):
            methods = set(getattr(handler, "http_methods", ())) & {"POST", "PUT", "PATCH"}
            if not methods:
                continue
            field = handler.parsed_data_field
            raw = field is None and "request" in handler.parsed_fn_signature.parameters
            if raw or (field is not None and field.annotation in (bytes, str)):
                found += [(m, route.path) for m in methods]
    return sorted(found)


def test_every_route_that_reads_a_raw_body_decodes_it_strictly(
    client: TestClient[Any], world: World, settings: Settings
) -> None:
    routes = raw_body_routes(settings)
    assert (
        "PUT",
        "/_matrix/client/v3/rooms/{room_id:str}/send/{event_type:str}/{txn_id:str}",
    ) in routes
    assert set(BINARY_BODIES) <= set(routes), "no exemption for a route that is not served"
    for method, template in routes:
        if (method, template) in BINARY_BODIES:
            continue
        target = re.sub(r"\{\w+:uuid\}", str(uuid.uuid4()), template)
        target = re.sub(r"\{\w+:\w+\}", "x", target)
        h = world.guardian.headers
        raw = b'{"a": 1, "a": 2}'
        r = client.request(method, target, content=raw, headers={**h, "content-type": "text/plain"})
        assert r.status_code == 415, (method, template, r.status_code)
        assert r.json()["code"] == "unsupported_media_type"
        r = client.request(
            method, target, content=raw, headers={**h, "content-type": "application/json"}
        )
        assert r.status_code == 422, (method, template, r.status_code)
        assert "Duplicate key" in r.json()["detail"], (method, template)
