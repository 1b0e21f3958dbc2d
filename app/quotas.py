"""Quotas of writes a signed-in device or user may make, one table for every route.

A route names its quota in ``opt`` (``opt=quota("message_send")``); ``quota_guard``, the
app's guard, counts the request against the caller's device or user in the instance's
rate limiter (Redis when configured, so the count is shared by every instance) and
answers 429 ``rate_limited`` with ``Retry-After`` past the limit (on the Matrix paths
also ``errcode: M_LIMIT_EXCEEDED`` and ``retry_after_ms``). The limits are settings
(app/config.py, docs/operations.md "Limits and quotas"). Attachment bytes are counted by
the upload itself (app/messaging/attachments.py), which knows the size.

Every write route (POST, PUT, PATCH, DELETE) of the served app names a quota or is in
``EXEMPT`` with the reason it needs none; tests/app/test_app_quotas.py fails on a write
route that does neither, so a new route cannot forget.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from app.config import Settings
from app.core.principal import Principal
from app.ratelimit import RateLimiter

HOUR, DAY = 3600, 86_400


class Quota(NamedTuple):
    setting: str
    """the ``Settings`` field with the limit"""
    window: int
    """seconds"""
    per: Literal["device", "user"]
    what: str
    """for the answer's detail"""


QUOTAS: dict[str, Quota] = {
    # a device's Matrix room events (rooms/{room}/send)
    "message_send": Quota("sends_per_device_per_minute", 60, "device", "messages"),
    "to_device_send": Quota(
        "to_device_sends_per_device_per_minute", 60, "device", "to-device sends"
    ),
    "key_backup_write": Quota(
        "key_backup_writes_per_device_per_minute", 60, "device", "key backup writes"
    ),
    "attachment_upload": Quota("attachments_per_device_per_hour", HOUR, "device", "attachments"),
    "homework_tick": Quota("ticks_per_device_per_hour", HOUR, "device", "ticks and undos"),
    "case_record_create": Quota(
        "case_records_per_user_per_hour",
        HOUR,
        "user",
        "new homework tasks, funding periods, documents, document requests or sick days",
    ),
    "push_subscribe": Quota(
        "push_subscriptions_per_user_per_day", DAY, "user", "push subscriptions"
    ),
    "case_create": Quota("cases_per_user_per_day", DAY, "user", "new cases"),
    "invite_create": Quota("invites_per_user_per_day", DAY, "user", "invites and pairing codes"),
    "calendar_token": Quota("calendar_tokens_per_user_per_day", DAY, "user", "calendar links"),
    "data_export": Quota("exports_per_user_per_day", DAY, "user", "data exports"),
    "appointment_create": Quota(
        "appointment_creations_per_user_per_hour", HOUR, "user", "new appointments or series"
    ),
}

_WINDOWS = {60: "minute", HOUR: "hour", DAY: "day"}

_SIGN_IN = "limited per client address and account in its service (login:ip, login:acct)"
_READ = "a read the Matrix spec sends as POST: stores nothing"
_ONCE = "ends or revokes sessions or devices: each can happen once"
_MANAGE = (
    "a management write by an admin or a case's therapist (role-checked) on existing "
    "users, cases, tasks or appointments: bounded by what it acts on"
)
_OWN = "replaces one row of the caller's own settings (idempotent): no new rows, no fan-out"
_KEYS = (
    "key material of the caller's own device or user: fixed once stored (a change is 409), "
    "one-time keys bounded per device"
)
_SIGNATURES = "signatures over keys the caller may see: one row per (signing key, signed key)"

#: (method, path as the OpenAPI writes it) of write routes that name no quota: why none
EXEMPT: dict[tuple[str, str], str] = {
    ("POST", "/auth/login"): _SIGN_IN,
    ("POST", "/auth/pair"): "limited per client address in PairingService (pair:ip)",
    ("POST", "/invites/accept"): "limited per client address in InviteService (invite:ip)",
    ("POST", "/invites/redeem"): "limited per client address in InviteService (invite:ip)",
    ("POST", "/auth/password-reset"): "limited per address and account in Recovery (reset:*)",
    ("POST", "/auth/password-reset/complete"): "limited per address in Recovery (reset:done)",
    ("POST", "/me/password"): "wrong current passwords limited per account (password:acct)",
    ("DELETE", "/me"): "once per account; wrong passwords limited per account (password:acct)",
    ("POST", "/org/cases/{case_id}/close"): "admin only, once per case (409 case_closed after)",
    ("DELETE", "/org/cases/{case_id}"): "admin only, of a closed case; its content is gone after",
    ("POST", "/ws/ticket"): "limited per device in TicketService (ws:ticket)",
    ("POST", "/_matrix/client/v3/keys/claim"): "limited per device in KeyDirectory",
    ("POST", "/rtc/precall/ice-servers"): "limited per device in signaling/routes.py",
    ("POST", "/rtc/precall/offer"): "limited per user in signaling/routes.py",
    ("POST", "/rtc/precall/pass"): "limited per device in signaling/routes.py",
    ("POST", "/_matrix/client/v3/keys/query"): _READ,
    ("POST", "/auth/logout"): _ONCE,
    ("DELETE", "/devices/{device_id}"): _ONCE,
    ("POST", "/devices/revoke-all"): _ONCE,
    ("DELETE", "/cases/{case_id}/child/devices/{device_id}"): _ONCE,
    ("POST", "/cancellations/{cancellation_id}/acks"): "one per device and cancellation",
    ("PATCH", "/me"): _OWN,
    ("PUT", "/me/notification-preferences"): _OWN,
    ("DELETE", "/me/calendar-token"): "revokes the caller's own link: nothing new",
    ("DELETE", "/me/push-subscriptions/{subscription_id}"): "deletes the caller's own row",
    ("PUT", "/cases/{case_id}/quiet-hours"): _OWN,
    ("DELETE", "/cases/{case_id}/quiet-hours"): _OWN,
    ("POST", "/org/users/{user_id}/disable"): _MANAGE,
    ("POST", "/org/users/{user_id}/enable"): _MANAGE,
    ("PATCH", "/org/policy"): _MANAGE,
    ("POST", "/org/cases/{case_id}/hand-over"): _MANAGE,
    ("POST", "/cases/{case_id}/therapists"): _MANAGE,
    ("DELETE", "/cases/{case_id}/members/{user_id}"): _MANAGE,
    ("PUT", "/cases/{case_id}/members/{user_id}/scopes"): _MANAGE,
    ("DELETE", "/cases/{case_id}/invites/{invite_id}"): _MANAGE,
    ("PATCH", "/cases/{case_id}/periods/{period_id}"): _MANAGE,
    ("PATCH", "/appointments/{appointment_id}"): _MANAGE,
    ("POST", "/appointments/{appointment_id}/outcome"): _MANAGE,
    ("POST", "/appointments/{appointment_id}/cancel"): _MANAGE,
    ("PATCH", "/homework/{task_id}"): _MANAGE,
    ("PUT", "/cases/{case_id}/homework/reminder"): _OWN,
    ("DELETE", "/cases/{case_id}/homework/sick-days/{day}"): (
        "removes one marked day of the caller's case (a guardian or therapist): no new rows"
    ),
    ("POST", "/documents/{version_id}/opened"): "one receipt per user and document version",
    ("PUT", "/documents/{document_id}/given-to-doctor"): _MANAGE,
    ("DELETE", "/document-requests/{request_id}"): "closes one open request of the caller's case",
    ("POST", "/_matrix/client/v3/keys/upload"): _KEYS,
    ("POST", "/_matrix/client/v3/keys/device_signing/upload"): _KEYS,
    ("POST", "/_matrix/client/v3/keys/signatures/upload"): _SIGNATURES,
}


def quota(name: str) -> dict[str, Any]:
    """The ``opt`` of a route that counts against quota ``name``."""
    if name not in QUOTAS:
        raise KeyError(f"no quota {name!r}")
    return {"quota": name}


async def take(limiter: RateLimiter, settings: Settings, name: str, principal: Principal) -> None:
    """Count one of quota ``name`` for ``principal``; 429 past the limit."""
    q = QUOTAS[name]
    limit = getattr(settings, q.setting)
    subject = principal.device_id if q.per == "device" else principal.user_id
    detail = f"At most {limit} {q.what} per {q.per} and {_WINDOWS[q.window]}"
    await limiter.hit(f"quota:{name}:{subject}", limit, q.window, detail)


async def quota_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    name = handler.opt.get("quota")
    if name is None:
        return
    principal = connection.scope.get("user")
    assert isinstance(principal, Principal), "a quota needs a signed-in caller"
    runtime = connection.app.state.runtime
    await take(runtime.limiter, runtime.settings, name, principal)
