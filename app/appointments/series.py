"""Time in the organisation's zone: weekly series and moves keep the local wall-clock time.

Finnish organisations live in Europe/Helsinki. A session every Tuesday at 16:00 stays at
16:00 local time when daylight-saving time ends on the last Sunday of October (its UTC
time moves from 13:00 to 14:00). Times are stored in UTC; only these helpers look at the
local calendar.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ORG_ZONE = ZoneInfo("Europe/Helsinki")

Clock = Callable[[], datetime]
"""Now, timezone-aware. The service takes one so tests can set the time (app/deps.py)."""


def local_naive(at: datetime) -> datetime:
    """The local wall-clock time of ``at`` (without a zone)."""
    return at.astimezone(ORG_ZONE).replace(tzinfo=None)


def from_local(wall: datetime) -> datetime:
    """The UTC instant of a local wall-clock time. A time that does not exist (the hour
    skipped in spring) resolves forwards, an ambiguous one (autumn) to the first."""
    return wall.replace(tzinfo=ORG_ZONE).astimezone(UTC)


def weekly(start: datetime, count: int) -> list[datetime]:
    """``count`` weekly occurrences from ``start`` at the same local wall-clock time."""
    wall = local_naive(start)
    return [from_local(wall + timedelta(weeks=k)) for k in range(count)]


def shifted(at: datetime, wall_delta: timedelta) -> datetime:
    """``at`` moved by ``wall_delta`` of local wall-clock time (a series moved together)."""
    return from_local(local_naive(at) + wall_delta)


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
