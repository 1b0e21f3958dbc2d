"""Quotas of writes a signed-in device or user may make, one table for every route.

A route names its quota in ``opt`` (``opt=quota("message_send")``); ``quota_guard``, the
app's guard, counts the request against the caller's device or user in the instance's
rate limiter (Redis when configured, so the count is shared by every instance) and
answers 429 ``rate_limited`` with ``Retry-After`` past the limit. The limits are
settings (app/config.py, docs/operations.md "Limits and quotas"). Attachment bytes are
counted by the upload itself (app/messaging/attachments.py), which knows the size.
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
    "message_send": Quota("sends_per_device_per_minute", 60, "device", "messages"),
    "attachment_upload": Quota("attachments_per_device_per_hour", HOUR, "device", "attachments"),
    "homework_tick": Quota("ticks_per_device_per_hour", HOUR, "device", "ticks and undos"),
    "case_create": Quota("cases_per_user_per_day", DAY, "user", "new cases"),
    "invite_create": Quota("invites_per_user_per_day", DAY, "user", "invites and pairing codes"),
    "calendar_token": Quota("calendar_tokens_per_user_per_day", DAY, "user", "calendar links"),
    "data_export": Quota("exports_per_user_per_day", DAY, "user", "data exports"),
    "appointment_create": Quota(
        "appointment_creations_per_user_per_hour", HOUR, "user", "new appointments or series"
    ),
}

_WINDOWS = {60: "minute", HOUR: "hour", DAY: "day"}


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
