"""Weekly series and moves keep the local wall-clock time (see app/core/time.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.core.time import from_local, local_naive


def weekly(start: datetime, count: int) -> list[datetime]:
    """``count`` weekly occurrences from ``start`` at the same local wall-clock time."""
    wall = local_naive(start)
    return [from_local(wall + timedelta(weeks=k)) for k in range(count)]


def shifted(at: datetime, wall_delta: timedelta) -> datetime:
    """``at`` moved by ``wall_delta`` of local wall-clock time (a series moved together)."""
    return from_local(local_naive(at) + wall_delta)
