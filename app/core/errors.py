"""The error base every domain raises: an HTTP status and a stable ``code``.

The HTTP rendering (RFC 9457 problem+json) lives in ``app/errors.py``; a domain never
imports it. Messages never contain content, tokens, codes or passwords.
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: what a backing service being unreachable raises (Redis; the database has its own)
OUTAGES: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, ConnectionError)


class KaariError(Exception):
    """A failure with an HTTP status and a stable ``code``."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(KaariError):
    status, code, title = 400, "bad_request", "Bad request"


class Unauthenticated(KaariError):
    status, code, title = 401, "unauthenticated", "Sign-in required"


class Forbidden(KaariError):
    status, code, title = 403, "forbidden", "Your role does not allow this"


class NotFound(KaariError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(KaariError):
    status, code, title = 409, "conflict", "Conflict"


class Gone(KaariError):
    status, code, title = 410, "gone", "No longer valid"


class InvalidInput(KaariError):
    status, code, title = 422, "validation_error", "The request is not valid"


class RateLimited(KaariError):
    status, code, title = 429, "rate_limited", "Too many attempts"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        retry_after = max(1, retry_after)
        super().__init__(
            detail or f"Too many attempts; try again in {retry_after} seconds",
            headers={"Retry-After": str(retry_after)},
            extra={"retryAfter": retry_after},
        )


class UnsupportedMediaType(KaariError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class InsufficientStorage(KaariError):
    """The server cannot store this now (a full disk): try again later."""

    status, code, title = 507, "insufficient_storage", "Storage is full"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(
            detail or "The server cannot store this right now; try again later",
            headers={"Retry-After": str(max(1, retry_after))},
            extra={"retryAfter": max(1, retry_after)},
        )


class Unavailable(KaariError):
    """A shared service this needs is unreachable and nothing else is safe (e.g. call room
    state in Redis): 503 with ``Retry-After``; the client tries again."""

    status, code, title = 503, "temporarily_unavailable", "Temporarily unavailable"

    def __init__(self, retry_after: int = 5, detail: str | None = None) -> None:
        super().__init__(
            detail or f"A service this needs is unreachable; try again in {retry_after} seconds",
            headers={"Retry-After": str(retry_after)},
            extra={"retryAfter": retry_after},
        )
