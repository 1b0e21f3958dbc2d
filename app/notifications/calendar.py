"""A user's iCalendar feed (RFC 5545) behind a secret URL.

Calendar apps cannot send a bearer token, so the feed is public at
``/calendar/<token>.ics``; the token is 256 random bits, stored only as its SHA-256,
and rotated or revoked by its owner. An entry holds no health detail: "Therapy session"
in the user's language, the time and the place kind. Times are local wall-clock times
with ``TZID=Europe/Helsinki`` and the zone's rules in a VTIMEZONE, so a 16:00 session
stays at 16:00 on both sides of a daylight-saving change. The UID is the appointment id.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from app.accounts.service import contacts
from app.audit.service import Audit
from app.core.errors import Forbidden, NotFound
from app.core.principal import Principal
from app.core.time import ORG_ZONE, local_naive
from app.notifications import store
from app.notifications.schemas import CalendarTokenOut
from app.notifications.texts import CALENDAR_NAME, CALENDAR_SUMMARY, place
from app.storage.engine import Database

TOKEN_PREFIX = "kcal_"  # noqa: S105 (a prefix, not a secret)
MAX_TOKEN_LENGTH = 100

VTIMEZONE = [
    "BEGIN:VTIMEZONE",
    "TZID:Europe/Helsinki",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0300",
    "TZNAME:EEST",
    "DTSTART:19700329T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0300",
    "TZOFFSETTO:+0200",
    "TZNAME:EET",
    "DTSTART:19701025T040000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
]
"""Europe/Helsinki as EU rules have it since 1996: +03:00 from 03:00 local on the last
Sunday of March, +02:00 from 04:00 local on the last Sunday of October."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    id: UUID
    starts_at: datetime
    ends_at: datetime
    place_kind: str
    cancelled: bool
    updated_at: datetime


FeedSource = Callable[[UUID, UUID, str], Awaitable[list[FeedEntry]]]
"""(user id, org id, role) -> the user's schedule (app/appointments/reminder_facts.py)."""


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545)."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts, start, limit = [], 0, 75
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # never split a character
            end -= 1
        parts.append(data[start:end].decode())
        start, limit = end, 74
    return "\r\n ".join(parts)


def _local(at: datetime) -> str:
    return local_naive(at).strftime("%Y%m%dT%H%M%S")


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def render(entries: Iterable[FeedEntry], locale: str, now: datetime) -> str:
    zone = str(ORG_ZONE.key)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Kaari//Kaari calendar//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_escape(CALENDAR_NAME.get(locale, CALENDAR_NAME['en']))}",
        f"X-WR-TIMEZONE:{zone}",
        *VTIMEZONE,
    ]
    summary = _escape(CALENDAR_SUMMARY.get(locale, CALENDAR_SUMMARY["en"]))
    for e in entries:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{e.id}@kaari",
            f"DTSTAMP:{_utc(now)}",
            f"LAST-MODIFIED:{_utc(e.updated_at)}",
            f"DTSTART;TZID={zone}:{_local(e.starts_at)}",
            f"DTEND;TZID={zone}:{_local(e.ends_at)}",
            f"SUMMARY:{summary}",
            f"LOCATION:{_escape(place(e.place_kind, locale))}",
            f"STATUS:{'CANCELLED' if e.cancelled else 'CONFIRMED'}",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


class CalendarService:
    def __init__(
        self,
        db: Database,
        audit: Audit,
        source: FeedSource,
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.audit = audit
        self.source = source
        self.clock = clock

    async def create_token(self, principal: Principal, address: str) -> CalendarTokenOut:
        """A new secret feed URL; an earlier one stops working."""
        if principal.role == "admin":
            raise Forbidden("An admin has no schedule of their own")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self.db.transaction() as conn:
            await store.put_calendar_token(conn, principal.user_id, digest(token), self.clock())
            await self.audit.record(
                conn,
                "calendar.token_created",
                org_id=principal.org_id,
                actor=principal,
                target_type="user",
                target_id=principal.user_id,
                address=address,
            )
        return CalendarTokenOut(token=token, path=f"/calendar/{token}.ics")

    async def revoke_token(self, principal: Principal, address: str) -> None:
        async with self.db.transaction() as conn:
            if await store.delete_calendar_token(conn, principal.user_id):
                await self.audit.record(
                    conn,
                    "calendar.token_revoked",
                    org_id=principal.org_id,
                    actor=principal,
                    target_type="user",
                    target_id=principal.user_id,
                    address=address,
                )

    async def feed(self, name: str) -> str:
        missing = NotFound("No such calendar", code="calendar_not_found")
        token = name.removesuffix(".ics")
        if (
            not name.endswith(".ics")
            or not token.startswith(TOKEN_PREFIX)
            or len(token) > MAX_TOKEN_LENGTH
        ):
            raise missing
        async with self.db.read() as conn:
            user_id = await store.calendar_user(conn, digest(token))
            person = (await contacts(conn, [user_id])).get(user_id) if user_id else None
        if person is None or person.role == "admin":
            raise missing
        entries = await self.source(person.id, person.org_id, person.role)
        return render(entries, person.locale, self.clock())
