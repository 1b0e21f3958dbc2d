"""Everything ``signaling`` takes from ``app``, in one place (DESIGN.md section 3).

``signaling`` is mounted by ``app/main.py`` and asks ``app`` only for identity (the
authenticated :class:`Principal`), settings, the shared rate limiter and the error
types that render as problem+json. No other module of this package imports ``app``
(a test checks it). Appointment facts for rooms come through here too (part 2).
"""

from __future__ import annotations

from app.accounts.principal import Principal
from app.config import Settings
from app.errors import InvalidInput, KaariError, RateLimited
from app.ratelimit import RateLimiter


class Unavailable(KaariError):
    status, code, title = 503, "unavailable", "Temporarily unavailable"


__all__ = [
    "InvalidInput",
    "KaariError",
    "Principal",
    "RateLimited",
    "RateLimiter",
    "Settings",
    "Unavailable",
]
