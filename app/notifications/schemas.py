"""Notification settings on the wire: push subscriptions, preferences, quiet hours, the
calendar token."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import Meta

from app.core.wire import Camel

Channel = Literal["push", "email", "sms"]
Kind = Literal[
    "message",
    "appointment_scheduled",
    "appointment_rescheduled",
    "appointment_cancelled",
    "cancellation_seen",
    "session_reminder",
    "period_sessions_low",
    "period_ending",
    "homework_assigned",
    "homework_ticked",
    "homework_reminder",
    "document_shared",
    "document_requested",
    "document_request_closed",
    "document_request_due",
    "case_handed_over",
]
B64Url = Annotated[str, Meta(min_length=16, max_length=100, pattern=r"^[A-Za-z0-9_-]+={0,2}$")]
Channels = Annotated[list[Channel], Meta(max_length=3)]
LocalTime = Annotated[str, Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class PushKeys(Camel):
    p256dh: B64Url
    """the browser's P-256 public key (65 bytes), base64url"""
    auth: Annotated[str, Meta(min_length=16, max_length=32, pattern=r"^[A-Za-z0-9_-]+={0,2}$")]
    """the 16-byte authentication secret, base64url"""


class PushSubscriptionIn(Camel):
    """What the browser's ``PushSubscription.toJSON()`` gives."""

    endpoint: Annotated[str, Meta(min_length=12, max_length=1024)]
    keys: PushKeys
    expiration_time: Annotated[int, Meta(ge=0)] | None = None


class PushSubscriptionOut(Camel):
    id: UUID
    device_id: UUID
    endpoint: str
    created_at: datetime


class VapidKeyOut(Camel):
    public_key: str
    """base64url of the server's P-256 public key: the ``applicationServerKey``"""


class PreferencesIn(Camel):
    channels: Annotated[dict[Kind, Channels], Meta(max_length=7)]


class PreferencesOut(Camel):
    channels: dict[str, list[str]]
    """every event kind -> the channels it is sent on (besides the live WebSocket event)"""
    available: list[str]
    """the channels this server can send on (e-mail and SMS need the gateway)"""


class QuietHoursIn(Camel):
    start: LocalTime
    end: LocalTime


class QuietHoursOut(Camel):
    case_id: UUID
    start: str | None
    end: str | None
    time_zone: str = "Europe/Helsinki"
    updated_at: datetime | None = None


class CalendarTokenOut(Camel):
    token: str
    path: str
    """``/calendar/<token>.ics``: the secret feed URL's path, shown once"""
