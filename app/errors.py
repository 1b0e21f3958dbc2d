"""Errors a user can hit, rendered as RFC 9457 problem+json.

The error classes are in ``app/core/errors.py``; every error carries a stable
machine-readable ``code``. Messages never contain content, tokens, codes or passwords.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from app.core.errors import OUTAGES, KaariError, Unavailable
from app.core.matrix import ERRCODES

PROBLEM_JSON = "application/problem+json"
#: the Matrix-shaped device API (docs/matrix-api.md): errors there also carry Matrix's
#: ``errcode`` and ``error`` and go out as application/json, which every Matrix SDK parses
MATRIX_PREFIX = "/_matrix/"
log = logging.getLogger("kaari.errors")


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": f"https://kaari.fi/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": instance,
    }
    if extra:
        body.update(extra)
    media_type = PROBLEM_JSON
    if instance.startswith(MATRIX_PREFIX):
        body.setdefault("errcode", _matrix_errcode(status, code))
        body["error"] = detail
        if isinstance(body.get("retryAfter"), int):  # 429 and 503: the spec's field too
            body["retry_after_ms"] = body["retryAfter"] * 1000
        media_type = "application/json"
    return Response(body, status_code=status, media_type=media_type, headers=headers)


def _matrix_errcode(status: int, code: str) -> str:
    if status == 401 and code == "unauthenticated":
        return "M_MISSING_TOKEN"
    if code == "validation_error":
        return "M_BAD_JSON"
    return ERRCODES.get(status, "M_UNKNOWN")


def answer_status(exc: BaseException) -> int:
    """The status ``exception_handlers`` answer ``exc`` with (for the request log, which
    sees an exception raised by a middleware before the handlers turn it into an answer)."""
    if isinstance(exc, KaariError):
        return exc.status
    if isinstance(exc, HTTPException):
        return exc.status_code
    return HTTP_500_INTERNAL_SERVER_ERROR


def _log_server_error(request: Request[Any, Any, Any], exc: BaseException, status: int) -> None:
    # Only the type, the status and the route: exception messages may carry data.
    log.error(
        "server error",
        extra={
            "error_type": type(exc).__name__,
            "status": status,
            "route": request.scope.get("path_template"),
        },
    )


def _kaari_error(request: Request[Any, Any, Any], exc: KaariError) -> Response[dict[str, Any]]:
    if exc.status >= 500:
        _log_server_error(request, exc, exc.status)
    return problem(
        exc.status, exc.code, exc.title, exc.detail, request.url.path, exc.headers, exc.extra
    )


def _validation_error(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    # litestar's messages name the field and the rule (e.g. "Expected `str` of length <= 200
    # - at `$.displayName`"); they never echo the submitted value.
    errors: list[dict[str, Any]] = []
    if isinstance(exc.extra, list):
        for item in exc.extra:
            if isinstance(item, dict):
                errors.append({k: v for k, v in item.items() if k in ("message", "key", "source")})
    detail = (
        "; ".join(
            f"{e['key']}: {e.get('message', '')}" if e.get("key") else str(e.get("message", ""))
            for e in errors
        )
        or "The request is not valid"
    )
    return problem(
        422,
        "validation_error",
        "The request is not valid",
        detail,
        request.url.path,
        extra={"errors": errors},
    )


_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthenticated", "Sign-in required"),
    403: ("forbidden", "Your role does not allow this"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "The request body is too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("rate_limited", "Too many requests"),
    500: ("internal_error", "Internal error"),
    503: ("unavailable", "Service unavailable"),
}


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if status >= 500:
        # litestar's own (a dependency that failed, say): the cause is the chained exception
        _log_server_error(request, exc.__cause__ or exc, status)
    code, title = _HTTP_CODES.get(status, ("http_error", "Request failed"))
    detail = title
    if isinstance(exc, NotFoundException | NotAuthorizedException | PermissionDeniedException):
        detail = title
    elif status < 500 and exc.detail and status != 404:
        detail = str(exc.detail)
    return problem(status, code, title, detail, request.url.path, dict(exc.headers or {}))


def _outage(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # Redis unreachable where no per-instance stand-in is safe: 503, try again shortly.
    log.warning(
        "shared service unavailable",
        extra={"error_type": type(exc).__name__, "route": request.scope.get("path_template")},
    )
    return _kaari_error(request, Unavailable())


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    _log_server_error(request, exc, HTTP_500_INTERNAL_SERVER_ERROR)
    return problem(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal_error",
        "Internal error",
        "Something went wrong on the server; it has been logged",
        request.url.path,
    )


exception_handlers: dict[type[Exception] | int, Any] = {
    KaariError: _kaari_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    **dict.fromkeys(OUTAGES, _outage),
    Exception: _internal_error,
}

__all__ = ["PROBLEM_JSON", "answer_status", "exception_handlers", "problem"]
