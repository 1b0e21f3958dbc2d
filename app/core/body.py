"""Strict decoding of JSON request bodies, for every route at once.

litestar decodes a body to builtins and then converts it to the handler's ``data``
type with ``strict=False``: ``"40"``, ``1e2`` and ``3.0`` pass as integers, epoch numbers
as dates, duplicate keys are resolved silently, any Content-Type is read as JSON, and a
validation error of a top-level body field whose name is also a dependency's (``keys``,
``cases``…) is taken for a failed dependency and answered 500. ``StrictRequest`` (the
app's ``request_class``) decodes the body itself, straight into the handler's ``data``
type with ``strict=True``, and answers every failure as a client error before litestar's
signature model sees the value (which then passes the decoded Struct through unchanged).

Also refused: a Content-Type other than ``application/json`` (415), duplicate keys at
any level, integers beyond 64 bits, days outside ``[EARLIEST_DAY, LATEST_DAY]``, NUL in
any text (PostgreSQL cannot store it), and bodies nested too deeply for the decoder.

A route that reads its body raw (``request.body()``, e.g. a Matrix room event kept as
sent) applies the same rules itself: ``raw_json_body(request)`` checks the Content-Type
and returns the bytes, ``decode_body(body, Any)`` decodes them; tests/app/
test_app_strict_wire.py sends every such route a text/plain and a duplicate-key body.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import msgspec
from litestar import Request
from litestar.types import Empty

from app.core.errors import BadRequest, InvalidInput, UnsupportedMediaType
from app.core.wire import find_out_of_range

JSON_MEDIA_TYPE = "application/json"


@lru_cache(maxsize=512)
def _decoder(target: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(target, strict=True)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _invalid(message: str, key: str | None) -> InvalidInput:
    error: dict[str, str] = {"message": message, "source": "body"}
    if key:
        error["key"] = key
    detail = f"{key}: {message}" if key else message
    return InvalidInput(detail, extra={"errors": [error]})


def _split(exc: msgspec.ValidationError) -> tuple[str, str | None]:
    """msgspec's "Expected `int`, got `str` - at `$.a.b`" as (message, "a.b")."""
    message, _, where = str(exc).partition(" - at `")
    key = where.rstrip("`").removeprefix("$").removeprefix(".") if where else None
    return message, key or None


def decode_body(body: bytes, target: Any) -> Any:
    """``body`` decoded strictly as ``target``; raises a 400 or 422 ``KaariError``."""
    try:
        value = _decoder(target).decode(body)
    except msgspec.ValidationError as exc:
        raise _invalid(*_split(exc)) from None
    except msgspec.DecodeError:
        raise BadRequest("The body is not valid JSON") from None
    except RecursionError:
        raise BadRequest("The body is nested too deeply") from None
    # msgspec keeps the last of repeated keys; a second parse refuses them. Cost, measured
    # on this machine: 25 us for a login body, 80 us for a 27 KB message to ten devices,
    # 5 ms for a 1 MB body (the largest accepted), against 2-45 us for msgspec alone.
    try:
        json.loads(body, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as exc:
        raise _invalid(f"Duplicate key `{exc.key}`", None) from None
    except (ValueError, RecursionError):  # msgspec took it, so this cannot happen
        raise BadRequest("The body is not valid JSON") from None
    found = find_out_of_range(value)
    if found is not None:
        path, reason = found
        raise _invalid(reason, path.removeprefix("$").removeprefix(".") or None)
    return value


def require_json(content_type: str) -> None:
    if content_type.lower() != JSON_MEDIA_TYPE:
        raise UnsupportedMediaType(
            f"Send the body as {JSON_MEDIA_TYPE}", code="unsupported_media_type"
        )


async def raw_json_body(request: Request[Any, Any, Any]) -> bytes:
    """The body of a route that decodes it itself, once it is declared JSON (415 if not)."""
    require_json(request.content_type[0])
    return await request.body()


class StrictRequest(Request[Any, Any, Any]):
    """The app's request class: ``json()`` decodes strictly into the route's ``data`` type."""

    async def json(self) -> Any:
        if self._json is Empty:
            require_json(self.content_type[0])
            field = self.route_handler.parsed_data_field
            target = field.annotation if field is not None else Any
            self._json = decode_body(await self.body(), target)
        return self._json
