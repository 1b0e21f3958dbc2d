"""Structured JSON logs. Never content, tokens, codes, passwords or keys: only the
fields named here are written, and request lines carry the route template, not the
URL (so nothing in a path or a query string can leak)."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import answer_status

# Fields a log call may attach with ``extra=``; anything else is dropped.
ALLOWED_EXTRA = {
    "method",
    "route",
    "status",
    "duration_ms",
    "error_type",
    "host",
    "port",
    "database",
    "redis",
    "count",
    "org_id",
    "user_id",
    "device_id",
    "case_id",
    "thread_id",
    "size",
    "delivered",
    "failed",
    "kind",
}
_encoder = msgspec.json.Encoder()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _message(record),
        }
        for key in ALLOWED_EXTRA:
            if key in record.__dict__:
                entry[key] = record.__dict__[key]
        if record.exc_info and record.exc_info[0] is not None:
            # the type only: exception messages and tracebacks may carry data
            entry["error_type"] = record.exc_info[0].__name__
        return _encoder.encode(entry).decode()


# a query string in someone else's log line: uvicorn logs each WebSocket upgrade with its
# path and query, and /ws takes the ticket in the query (browsers cannot set headers)
_QUERY = re.compile(r"\?[^\s\"']+")


def _message(record: logging.LogRecord) -> str:
    message = record.getMessage()
    if record.name.startswith("kaari."):
        return message  # ours never carry a URL (route templates only)
    return _QUERY.sub("?[redacted]", message)


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    # replace our earlier handler, keep others (a test's capture handler, say)
    root.handlers[:] = [h for h in root.handlers if not isinstance(h.formatter, JsonFormatter)]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's access log prints full URLs; ours prints route templates instead
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every outbound URL at INFO: a push endpoint's path is its secret
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "litestar", "sqlalchemy", "alembic"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


async def observe_http(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    done: Callable[[int, float], None],
) -> None:
    """Run ``app`` for one HTTP request, then ``done(status, seconds)``: the status it
    answered, or that of an exception raised past it (the token check's 401, say), which
    the app's exception handlers answer outside the middleware that calls this."""
    started = time.perf_counter()
    status = 500
    started_response = False

    async def send_wrapper(message: Message) -> None:
        nonlocal status, started_response
        if message["type"] == "http.response.start":
            status, started_response = message["status"], True
        await send(message)

    try:
        await app(scope, receive, send_wrapper)
    except BaseException as exc:
        if not started_response:
            status = answer_status(exc)
        raise
    finally:
        done(status, time.perf_counter() - started)


class RequestLogMiddleware:
    """One line per HTTP request: method, route template, status, duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = logging.getLogger("kaari.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        def done(status: int, seconds: float) -> None:
            self.log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "route": scope.get("path_template") or "unmatched",
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )

        await observe_http(self.app, scope, receive, send, done)
