"""Everything ``signaling`` takes from ``app``, in one place (DESIGN.md section 3).

``signaling`` is mounted by ``app/main.py`` and asks ``app`` only for identity (the
authenticated :class:`Principal`), settings, the app's clock, the shared rate limiter, the error
types that render as problem+json, the WebSocket gateway (frame types, handlers,
``Notifier`` to reach a device on any instance) and appointment facts for rooms
(:class:`AppointmentFactsSource`, implemented by ``app``'s appointments service).
No other module of this package imports ``app`` (a test checks it).
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from app.appointments.facts import AppointmentFacts, CaseFacts
from app.config import Settings
from app.core.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    KaariError,
    NotFound,
    RateLimited,
)
from app.core.principal import Principal
from app.core.time import Clock, unix_seconds
from app.ratelimit import RateLimiter
from app.realtime.connection import Connection
from app.realtime.gateway import Gateway
from app.realtime.notifier import Notifier
from app.realtime.schemas import InFrame, OutFrame


class Unavailable(KaariError):
    status, code, title = 503, "unavailable", "Temporarily unavailable"


class AppointmentFactsSource(Protocol):
    """Facts about an appointment (``app.appointments.service.AppointmentService``)."""

    async def room_facts(self, appointment_id: UUID) -> AppointmentFacts | None: ...


__all__ = [
    "AppointmentFacts",
    "AppointmentFactsSource",
    "CaseFacts",
    "Clock",
    "Conflict",
    "Connection",
    "Forbidden",
    "Gateway",
    "Gone",
    "InFrame",
    "InvalidInput",
    "KaariError",
    "NotFound",
    "Notifier",
    "OutFrame",
    "Principal",
    "RateLimited",
    "RateLimiter",
    "Settings",
    "Unavailable",
    "unix_seconds",
]
