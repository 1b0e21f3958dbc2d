"""Bad input gets a clear 4xx and changes nothing (DESIGN principle 4), for every route:
fields named like dependencies, 64-bit overflows, dates out of range, deep nesting, NUL,
a full disk; and every 5xx is logged with its type (issue 16)."""

from __future__ import annotations

import errno
import logging
import re
import uuid
from collections.abc import AsyncIterable, Iterator
from typing import Any
from uuid import UUID

import msgspec
import pytest
from conftest import World
from litestar import Litestar, get
from litestar.exceptions import InternalServerException
from litestar.routes import HTTPRoute
from litestar.testing import TestClient
from support import assert_problem
from ws_support import close, connect, receive_until

from app.core.errors import KaariError
from app.errors import exception_handlers
from app.storage.blobs import BlobStore

BIG = str(2**64)
_PATH_PARAM = re.compile(r"\{[^}:]+:(\w+)\}")


def _concrete(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        return {"uuid": str(uuid.uuid4()), "int": "1"}.get(match.group(1), "x")

    return _PATH_PARAM.sub(value, path)


def body_routes(app: Litestar) -> Iterator[tuple[str, str, type[msgspec.Struct]]]:
    """(method, concrete path, Struct) of every route that takes a JSON body."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            field = handler.parsed_data_field
            if field is None:
                continue
            target = field.annotation
            if isinstance(target, type) and issubclass(target, msgspec.Struct):
                for method in sorted(handler.http_methods):
                    yield method, _concrete(route.path), target


def test_a_wrong_field_is_422_even_when_named_like_a_dependency(
    client: TestClient[Any], world: World
) -> None:
    """litestar took an error at ``$.keys`` for a failed dependency ``keys`` and answered
    500; every top-level field of every body, given a wrong type, is a 4xx."""
    checked = 0
    for method, path, struct in body_routes(client.app):
        for field in msgspec.structs.fields(struct):
            for wrong in (True, "x", 1.5, [1]):
                r = client.request(
                    method, path, json={field.encode_name: wrong}, headers=world.therapist.headers
                )
                assert r.status_code < 500, (method, path, field.encode_name, r.text)
                checked += 1
    assert checked > 200
    body = {"endpoint": "https://push.example/abc", "keys": 5}
    r = client.post("/me/push-subscriptions", json=body, headers=world.therapist.headers)
    problem = assert_problem(r, 422, "validation_error")
    assert any(e.get("key") == "keys" for e in problem["errors"]), problem


def test_integers_beyond_64_bits_are_422_in_queries_and_bodies(
    client: TestClient[Any], world: World
) -> None:
    log = f"/cases/{world.case_id}/access-log?before={BIG}"
    r = client.get(log, headers=world.guardian.headers)
    assert_problem(r, 422, "validation_error")
    r = client.get(f"/org/audit?before={BIG}", headers=world.admin.headers)
    assert_problem(r, 422, "validation_error")
    body = {"weeklyOccurrences": 2**64}
    r = client.post("/appointments", json=body, headers=world.therapist.headers)
    assert_problem(r, 422, "validation_error")


def test_every_integer_parameter_of_every_route_is_bounded(client: TestClient[Any]) -> None:
    """Query and path integers reach SQL: each declares ``le`` within 64 bits."""
    unbounded = []
    for route in client.app.routes:
        handlers = route.route_handlers if isinstance(route, HTTPRoute) else [route.route_handler]  # type: ignore[attr-defined]
        for handler in handlers:
            for name, param in handler.parsed_fn_signature.parameters.items():
                if int not in (param.annotation, *(t.annotation for t in param.inner_types)):
                    continue
                kwarg = param.kwarg_definition
                le = getattr(kwarg, "le", None)
                if le is None or le > 2**63 - 1:
                    unbounded.append(f"{route.path} {name}")
    assert unbounded == []


def test_a_bad_sync_frame_is_a_frame_error_not_a_resync_loop(
    client: TestClient[Any], world: World
) -> None:
    ws = connect(client, world.therapist)
    try:
        ws.send_json({"type": "matrix_sync", "since": 2**64})
        error = receive_until(ws, lambda f: f["type"] == "error")
        assert error["code"] == "invalid_frame", error
        # the earlier mailbox frames are gone: an unknown type, the socket stays usable
        ws.send_json({"type": "sync", "afterSeq": 0})
        error = receive_until(ws, lambda f: f["type"] == "error")
        assert error["code"] == "unknown_type", error
        ws.send_json({"type": "ping"})
        assert receive_until(ws, lambda f: f["type"] == "pong")
    finally:
        close(ws)


@pytest.mark.parametrize(
    ("starts", "ends"),
    [("0001-01-01", "0001-12-31"), ("0001-01-01", "2025-01-01")],
)
def test_period_dates_out_of_range_are_422(
    client: TestClient[Any], world: World, starts: str, ends: str
) -> None:
    body = {"payer": "kela", "startsOn": starts, "endsOn": ends, "sessionsGranted": 4}
    r = client.post(f"/cases/{world.case_id}/periods", json=body, headers=world.therapist.headers)
    assert_problem(r, 422, "validation_error")
    r = client.get(f"/cases/{world.case_id}/periods", headers=world.therapist.headers)
    assert r.json() == []


def test_query_dates_out_of_range_are_422(client: TestClient[Any], world: World) -> None:
    h = world.therapist.headers
    for path in (
        "/appointments?from=0001-01-01T00:00:00%2B14:00",
        "/appointments?to=9999-12-31T23:59:59-14:00",
        "/appointments?to=9999-12-31T12:00:00Z",
        f"/cases/{world.case_id}/appointments?from=0001-01-01T00:00:00Z",
        f"/homework/{uuid.uuid4()}/ticks?from=0001-01-01",
    ):
        assert_problem(client.get(path, headers=h), 422, "validation_error")


def test_a_body_nested_100000_levels_deep_is_a_4xx(client: TestClient[Any], world: World) -> None:
    h = {**world.therapist.headers, "content-type": "application/json"}
    for deep in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000):
        r = client.post("/cases", content=deep, headers=h)
        assert 400 <= r.status_code < 500, r.text
        r = client.put(f"/cases/{world.case_id}", content=deep, headers=h)
        assert 400 <= r.status_code < 500, r.text


def test_nul_in_any_body_text_is_422(client: TestClient[Any], world: World) -> None:
    """PostgreSQL cannot store NUL: it answered 500 for a push endpoint."""
    body = {
        "endpoint": "https://push.example/a\u0000b/0123456789",
        "keys": {"p256dh": "B" * 87, "auth": "A" * 22},
    }
    r = client.post("/me/push-subscriptions", json=body, headers=world.therapist.headers)
    problem = assert_problem(r, 422, "validation_error")
    assert "NUL" in problem["detail"]
    r = client.get("/me/push-subscriptions", headers=world.therapist.headers)
    assert r.json() == []


class FullDisk(BlobStore):
    """A blob store whose disk is full: the write fails as os.write would."""

    async def write(
        self, blob_id: UUID, chunks: AsyncIterable[bytes], max_bytes: int
    ) -> tuple[int, str]:
        async for _ in chunks:
            raise OSError(errno.ENOSPC, "No space left on device")
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_attachment_disk_is_507_with_retry_after_and_an_error_log(
    client: TestClient[Any], world: World, caplog: pytest.LogCaptureFixture
) -> None:
    services = client.app.state.services
    services.attachments.blobs = FullDisk(services.attachments.blobs.root)
    threads = client.get("/threads", headers=world.therapist.headers).json()
    caplog.set_level(logging.INFO)
    r = client.post(
        f"/threads/{threads[0]['id']}/attachments",
        content=b"x" * 1000,
        headers={**world.therapist.headers, "content-type": "application/octet-stream"},
    )
    assert_problem(r, 507, "insufficient_storage")
    assert int(r.headers["retry-after"]) > 0
    errors = [x for x in caplog.records if x.levelno >= logging.ERROR]
    assert any(x.getMessage() == "attachment store full" for x in errors), errors
    assert any(getattr(x, "status", None) == 507 for x in errors)


def test_every_5xx_is_logged_at_error_level_with_its_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """litestar's own InternalServerException was answered 500 without a log line."""

    class Unavailable(KaariError):
        status, code = 503, "unavailable"

    @get("/litestar-500", sync_to_thread=False)
    def litestar_500() -> None:
        raise InternalServerException

    @get("/kaari-503", sync_to_thread=False)
    def kaari_503() -> None:
        raise Unavailable

    @get("/crash", sync_to_thread=False)
    def crash() -> None:
        raise ZeroDivisionError

    app = Litestar(
        [litestar_500, kaari_503, crash], exception_handlers=exception_handlers, logging_config=None
    )
    caplog.set_level(logging.INFO)
    with TestClient(app) as c:
        for path, status, error_type in (
            ("/litestar-500", 500, "InternalServerException"),
            ("/kaari-503", 503, "Unavailable"),
            ("/crash", 500, "ZeroDivisionError"),
        ):
            caplog.clear()
            assert c.get(path).status_code == status
            logged = [
                (getattr(x, "error_type", None), getattr(x, "status", None))
                for x in caplog.records
                if x.levelno >= logging.ERROR and x.name == "kaari.errors"
            ]
            assert logged == [(error_type, status)], (path, logged)
