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
#: The calendar the server computes in: a day before EARLIEST_DAY, or an instant whose
#: UTC day is outside [EARLIEST_DAY, LATEST_INSTANT_DAY], overflows datetime (a period's
#: "day before", an offset to UTC, a zone's local day). 9999-12-31 itself is a valid end.
EARLIEST_DAY, LATEST_DAY = date(1, 1, 2), date(9999, 12, 31)
LATEST_INSTANT_DAY = date(9999, 12, 30)

# Characters a stored name may not hold: C0 and C1 controls, bidi embeddings, overrides,
# isolates and marks, invisible characters (zero-width space, word joiner, invisible
# operators, fillers, BOM, soft hyphen, tags), interlinear annotations, surrogates,
# private use and non-characters. ZWJ and ZWNJ (U+200C, U+200D) stay: emoji and many
# scripts (Persian, Indic) need them. Python's re has no \p{Cf}, hence the list; written
# as escapes, so the OpenAPI document (JSON) can carry the pattern.
_NOT_IN_NAMES = (
    r"\x00-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    r"\u200b\u200e\u200f\u2028-\u202e\u2060-\u206f\u3164\ud800-\udfff\ue000-\uf8ff"
    r"\ufdd0-\ufdef\ufeff\uffa0\ufff0-\ufffb\ufffe\uffff"
    r"\U0001fffe\U0001ffff\U0002fffe\U0002ffff\U0003fffe\U0003ffff\U0004fffe\U0004ffff"
    r"\U0005fffe\U0005ffff\U0006fffe\U0006ffff\U0007fffe\U0007ffff\U0008fffe\U0008ffff"
    r"\U0009fffe\U0009ffff\U000afffe\U000affff\U000bfffe\U000bffff\U000cfffe\U000cffff"
    r"\U000dfffe\U000dffff\U000e0000-\U000e0fff\U000efffe\U000effff\U000f0000-\U0010ffff"
)
#: something visible, and none of the characters above
NAME_PATTERN = rf"^(?=.*\S)[^{_NOT_IN_NAMES}]+$"

# Stored names shown to other people: printable, visible text (no spoofing with bidi
# overrides or invisible characters). Every stored name type is one of these.
DisplayName = Annotated[str, Meta(min_length=1, max_length=100, pattern=NAME_PATTERN)]
DeviceName = Annotated[str, Meta(min_length=1, max_length=100, pattern=NAME_PATTERN)]
OrgName = Annotated[str, Meta(min_length=1, max_length=200, pattern=NAME_PATTERN)]
#: a reference of an authority's decision (a Kela decision number, say)
ReferenceText = Annotated[str, Meta(min_length=1, max_length=64, pattern=NAME_PATTERN)]


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
        return EARLIEST_DAY <= day <= LATEST_INSTANT_DAY
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
