"""The wire base every domain's schemas build on: camelCase JSON Structs that refuse
unknown fields, the bounded text types more than one domain stores, and the value
ranges every decoded request (body, query, WebSocket frame) is held to."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from app.core.errors import InvalidInput


class Camel(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """A request or answer body: camelCase on the wire, unknown fields refused."""


#: Integers the server stores or compares in SQL are 64-bit (PostgreSQL BIGINT, SQLite).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Days and instants outside these never mean anything here, and keep day and zone
#: arithmetic (a day before, an offset to UTC) away from datetime's year 1 and 9999.
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2999, 12, 31)

# Text the server stores is printable: PostgreSQL cannot store NUL, and control
# characters in a name only ever serve to confuse a reader.
DisplayName = Annotated[
    str, Meta(min_length=1, max_length=100, pattern=r"^(?=.*\S)[^\x00-\x1f\x7f]+$")
]


def checked_day(value: date | None, name: str) -> date | None:
    """``value`` if within [EARLIEST_DAY, LATEST_DAY] (422 otherwise): for query
    parameters, which the body decoder does not see."""
    if value is not None and not _day_ok(value):
        raise InvalidInput(f"{name}: {out_of_range_message()}", code="validation_error")
    return value


def checked_instant(value: datetime | None, name: str) -> datetime | None:
    if value is not None and not _day_ok(value):
        raise InvalidInput(f"{name}: {out_of_range_message()}", code="validation_error")
    return value


def out_of_range_message() -> str:
    return f"Dates must lie between {EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}"


def _day_ok(value: date) -> bool:
    if isinstance(value, datetime):
        try:
            day = value.astimezone(UTC).date() if value.tzinfo is not None else value.date()
        except OverflowError:  # an offset past year 1 or 9999
            return False
        return EARLIEST_DAY <= day <= LATEST_DAY
    return EARLIEST_DAY <= value <= LATEST_DAY


def value_error(value: object) -> str | None:
    """Why a decoded scalar is out of the server's range, or None: integers beyond
    64 bits, days outside [EARLIEST_DAY, LATEST_DAY], text with NUL."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            return None
        return "Expected an integer of at most 64 bits"
    if isinstance(value, date):
        return None if _day_ok(value) else out_of_range_message()
    if isinstance(value, str) and "\x00" in value:
        return "Text may not contain NUL"
    return None


def find_out_of_range(value: object, path: str = "$") -> tuple[str, str] | None:
    """The first (path, reason) of a value out of range in a decoded body or frame
    (Structs, lists and dicts walked), or None."""
    if isinstance(value, msgspec.Struct):
        renamed = value.__struct_encode_fields__
        for attr, wire in zip(value.__struct_fields__, renamed, strict=True):
            found = find_out_of_range(getattr(value, attr), f"{path}.{wire}")
            if found:
                return found
        return None
    if isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            found = find_out_of_range(item, f"{path}[{index}]")
            if found:
                return found
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = find_out_of_range(key, path) or find_out_of_range(item, f"{path}.{key}")
            if found:
                return found
        return None
    reason = value_error(value)
    return (path, reason) if reason else None
