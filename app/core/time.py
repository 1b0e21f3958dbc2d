"""The one clock, and time in the organisation's zone.

Times are stored and compared in UTC; rules read "now" from a :data:`Clock` handed in at
construction (the composition root builds one per app, so a test or a development
``KAARI_TEST_CLOCK_START`` can set it), never from ``datetime.now`` or ``time.time``.
What another party checks against the real time (a VAPID token's expiry) reads the
system clock through :func:`unix_seconds`; durations use ``time.monotonic``.

Finnish organisations live in Europe/Helsinki. A session every Tuesday at 16:00 stays at
16:00 local time when daylight-saving time ends on the last Sunday of October (its UTC
time moves from 13:00 to 14:00); only the helpers here look at the local calendar.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ORG_ZONE = ZoneInfo("Europe/Helsinki")

Clock = Callable[[], datetime]
"""Now, timezone-aware UTC."""


def utcnow() -> datetime:
    """The system clock: the default :data:`Clock`."""
    return datetime.now(UTC)


def running_clock(start: str) -> Clock:
    """A clock that starts at ``start`` (ISO 8601) and runs on in real time: the
    development-only ``KAARI_TEST_CLOCK_START``."""
    origin, began = datetime.fromisoformat(start).astimezone(UTC), _time.monotonic()
    return lambda: origin + timedelta(seconds=_time.monotonic() - began)


def unix_seconds(clock: Clock = utcnow) -> float:
    """Now as seconds since the epoch (for wire formats that count so, e.g. TURN)."""
    return clock().timestamp()


def local_naive(at: datetime) -> datetime:
    """The local wall-clock time of ``at`` (without a zone)."""
    return at.astimezone(ORG_ZONE).replace(tzinfo=None)


def from_local(wall: datetime) -> datetime:
    """The UTC instant of a local wall-clock time. A time that does not exist (the hour
    skipped in spring) resolves forwards, an ambiguous one (autumn) to the first."""
    return wall.replace(tzinfo=ORG_ZONE).astimezone(UTC)


def minute_of_day(text: str) -> int:
    """``"HH:MM"`` (a local wall-clock time) as minutes after midnight."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def hhmm(minute: int) -> str:
    """Minutes after midnight as ``"HH:MM"``."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def local_date(at: datetime) -> date:
    return at.astimezone(ORG_ZONE).date()


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local days ``first`` to ``last`` inclusive."""
    start = from_local(datetime.combine(first, time()))
    end = (
        from_local(datetime.combine(last + timedelta(days=1), time()))
        if last < date.max
        else datetime.max.replace(tzinfo=UTC)
    )
    return start, end
