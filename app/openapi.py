"""The error answers of every operation in the served OpenAPI, as problem+json.

``document_problems(app)`` gives each route handler the 4xx answers it really gives:
those every route of its kind gives (401 without a valid token, 400/413/415/422 for a
body, 422 for parameters, 404 for a resource in the path, 429 for a quota), and those
of its own rules from ``EXTRA`` (a 409 conflict, a 410 used invite, …).
tests/app/test_app_fuzz.py holds the list to the truth: it fuzzes every operation as
every role and fails on any status an operation does not document.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.routes import HTTPRoute

from app.errors import MATRIX_PREFIX, PROBLEM_JSON

_PARAM_TYPE = re.compile(r"\{(\w+):\w+\}")


class FieldError(msgspec.Struct):
    message: str
    key: str | msgspec.UnsetType = msgspec.UNSET
    source: str | msgspec.UnsetType = msgspec.UNSET


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details, with Kaari's stable ``code``."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str
    errors: list[FieldError] | msgspec.UnsetType = msgspec.UNSET
    retryAfter: int | msgspec.UnsetType = msgspec.UNSET


DESCRIPTIONS = {
    400: "Malformed request (the body is not JSON, say)",
    401: "Sign-in required: no valid session token",
    403: "The caller's role does not allow this",
    404: "No such resource, or not one the caller may see",
    409: "Conflict with the current state",
    410: "No longer valid (used, expired or revoked)",
    413: "The body is too large",
    415: "The body is not application/json",
    422: "The request is not valid (``errors`` names the fields)",
    429: "Too many requests: try again after ``Retry-After`` seconds",
    503: "Temporarily unavailable: try again after ``Retry-After`` seconds",
    507: "Storage is full: try again after ``Retry-After`` seconds",
}

#: routes under these prefixes check the caller's role in the organisation or the case
ROLE_CHECKED = (
    "/org", "/cases", "/appointments", "/cancellations", "/homework", "/documents",
    "/document-requests",
)  # fmt: skip

# (method, path template) -> the statuses of its own rules (conflicts, used codes, limits)
EXTRA: dict[tuple[str, str], set[int]] = {
    ("POST", "/auth/login"): {401, 429},
    ("POST", "/auth/pair"): {404, 410, 429},
    ("POST", "/me/password"): {401, 429},
    ("DELETE", "/me"): {401, 403},
    ("DELETE", "/org/cases/{case_id}"): {409},
    ("POST", "/org/cases/{case_id}/close"): {409},
    ("POST", "/invites/accept"): {404, 409, 410, 429},
    ("POST", "/invites/redeem"): {403, 404, 409, 410, 429},
    ("POST", "/org/users/{user_id}/disable"): {409},
    ("POST", "/cases/{case_id}/therapists"): {409},
    ("DELETE", "/cases/{case_id}/members/{user_id}"): {409},
    ("PUT", "/cases/{case_id}/members/{user_id}/scopes"): {409},
    ("POST", "/cases/{case_id}/pairing-codes"): {409},
    ("POST", "/appointments"): {404, 409},
    ("PATCH", "/appointments/{appointment_id}"): {409},
    ("POST", "/appointments/{appointment_id}/outcome"): {409},
    ("POST", "/appointments/{appointment_id}/cancel"): {409},
    ("POST", "/cases/{case_id}/homework"): {409},
    ("PUT", "/cases/{case_id}/homework/reminder"): {409},
    ("PATCH", "/homework/{task_id}"): {409},
    ("POST", "/cases/{case_id}/documents"): {409},
    ("POST", "/cases/{case_id}/document-requests"): {409},
    ("DELETE", "/document-requests/{request_id}"): {409},
    ("PUT", "/homework/{task_id}/ticks/{day}"): {409},
    ("DELETE", "/homework/{task_id}/ticks/{day}"): {409},
    ("POST", "/me/calendar-token"): {403},
    ("POST", "/threads/{thread_id}/attachments"): {507},
    ("POST", "/ws/ticket"): {429},
    ("GET", "/rtc/ice-servers"): {429},
    ("POST", "/rtc/precall/pass"): {429},
    ("POST", "/rtc/precall/ice-servers"): {401, 429},
    ("POST", "/rtc/precall/offer"): {401, 429, 503},
    ("POST", "/auth/password-reset"): {429},
    ("POST", "/auth/password-reset/complete"): {429},
    # the Matrix-shaped API (docs/matrix-api.md): no key backup yet is a 404
    ("GET", "/_matrix/client/v3/room_keys/version"): {404},
    ("GET", "/_matrix/client/v3/room_keys/keys"): {404},
    ("PUT", "/_matrix/client/v3/room_keys/keys"): {404},
    ("DELETE", "/_matrix/client/v3/room_keys/keys"): {404},
    # a raw body, decoded by the route (app/core/body.py raw_json_body); the device set
    ("PUT", "/_matrix/client/v3/rooms/{room_id}/send/{event_type}/{txn_id}"): {409, 415},
}


class MatrixProblem(Problem, omit_defaults=True):
    """The same problem on the Matrix-shaped API, with Matrix's ``errcode`` and ``error``
    (as application/json, which every Matrix SDK parses)."""

    errcode: str = "M_UNKNOWN"
    error: str = ""
    retry_after_ms: int | msgspec.UnsetType = msgspec.UNSET


def problems(*statuses: int, matrix: bool = False) -> dict[int, ResponseSpec]:
    """``responses=`` of these error statuses, as problem+json (or, on the Matrix-shaped
    API, as application/json with ``errcode``)."""
    return {
        status: ResponseSpec(
            data_container=MatrixProblem if matrix else Problem,
            description=DESCRIPTIONS[status],
            media_type="application/json" if matrix else PROBLEM_JSON,
            generate_examples=False,
        )
        for status in statuses
    }


def _generic(handler: HTTPRouteHandler, path: str) -> set[int]:
    found: set[int] = set()
    if not handler.opt.get("exclude_from_auth"):
        found.add(401)
    names = set(handler.parsed_fn_signature.parameters) - set(handler.resolve_dependencies())
    if handler.parsed_data_field is not None:
        found |= {400, 413, 415, 422}
    elif "request" in names and handler.http_methods & {"POST", "PUT", "PATCH"}:
        found |= {413}  # a raw body (an attachment)
    if names - {"data", "request", "socket", "state", "scope"}:
        # (litestar documents a 400 for any parameter: ours is the same problem+json)
        found |= {400, 422}
    if "{" in path:
        found.add(404)
    if handler.opt.get("quota"):
        found.add(429)
    if 401 in found and path.startswith(ROLE_CHECKED):
        found.add(403)
    return found


def statuses_of(handler: HTTPRouteHandler, path: str) -> set[int]:
    path = _PARAM_TYPE.sub(r"{\1}", path)  # "/cases/{case_id:uuid}" as OpenAPI writes it
    found = _generic(handler, path)
    for method in handler.http_methods:
        found |= EXTRA.get((method, path), set())
    return found


def document_problems(app: Litestar) -> None:
    """Give every HTTP route handler its error answers (before the schema is built)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.include_in_schema:
                continue
            statuses = statuses_of(handler, route.path)
            own: dict[int, Any] = dict(handler.responses or {})
            matrix = route.path.startswith(MATRIX_PREFIX)
            handler.responses = {**problems(*sorted(statuses), matrix=matrix), **own}
