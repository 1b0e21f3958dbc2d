"""Rules for notifications.

* ``record`` (in the caller's transaction) turns a domain event into outbox rows: for each
  recipient, the channels their preferences choose for the kind; one push row per
  subscription of a signed-in device, an e-mail/SMS row when the gateway is configured.
  A child's rows wait until the end of the case's quiet hours. The live WebSocket event
  is the caller's (app/realtime) and is never deferred.
* Push subscriptions belong to the device that made them. An endpoint must pass
  ``egress.PushGuard`` (https, port 443, public addresses after resolution, the allow-list);
  the sender checks it again for every connection. An endpoint another user holds on a
  signed-in device is refused (409 ``push_endpoint_taken``), never moved to the caller:
  an endpoint is a capability of one browser, and taking it would silence its owner.
* Preferences are per user; quiet hours per case, set by a guardian for the child.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.service import contacts
from app.audit.service import Audit
from app.cases.service import CaseService
from app.config import Settings
from app.core import events as ev
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.events import NOTICE_KINDS, DomainEvent
from app.core.principal import Principal
from app.core.time import ORG_ZONE, Clock, from_local, hhmm, local_naive, minute_of_day
from app.notifications import store
from app.notifications.egress import PushGuard
from app.notifications.schemas import (
    PreferencesIn,
    PreferencesOut,
    PushSubscriptionIn,
    PushSubscriptionOut,
    QuietHoursIn,
    QuietHoursOut,
)
from app.notifications.texts import DEFAULT_CHANNELS
from app.notifications.webpush import valid_subscription_keys
from app.storage.engine import Database


def available_channels(settings: Settings) -> list[str]:
    return ["push", "email", "sms"] if settings.notify_gateway_url else ["push"]


def effective_channels(stored: Any, available: Collection[str]) -> dict[str, list[str]]:
    """Every kind's channels: the user's choice where made, else the default; only the
    channels this server has."""
    chosen = stored if isinstance(stored, dict) else {}
    result: dict[str, list[str]] = {}
    for kind in NOTICE_KINDS:
        channels = chosen.get(kind, DEFAULT_CHANNELS[kind])
        result[kind] = [c for c in channels if c in available]
    return result


def is_quiet(minute: int, starts_minute: int, ends_minute: int) -> bool:
    """Does a local minute of the day fall in quiet hours (over midnight: 20:00-07:00)?"""
    if starts_minute < ends_minute:
        return starts_minute <= minute < ends_minute
    return minute >= starts_minute or minute < ends_minute


def quiet_until(now: datetime, starts_minute: int, ends_minute: int) -> datetime | None:
    """The end of quiet hours if ``now`` falls in them (local Helsinki wall-clock time),
    else None. Hours over midnight (20:00-07:00) end the next morning."""
    local = local_naive(now)
    minute = local.hour * 60 + local.minute
    if not is_quiet(minute, starts_minute, ends_minute):
        return None
    over_midnight = starts_minute > ends_minute and minute >= starts_minute
    end_day = local.date() + timedelta(days=1) if over_midnight else local.date()
    end_wall = time(ends_minute // 60, ends_minute % 60)
    return from_local(datetime.combine(end_day, end_wall))


class Notifications:
    """The event sink (app/notifications/events.py) and the settings behind /me and cases."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        audit: Audit,
        cases: CaseService,
        clock: Clock,
        guard: PushGuard,
        wake: Callable[[], None],
    ) -> None:
        self.db = db
        self.settings = settings
        self.audit = audit
        self.cases = cases
        self.clock = clock
        self.guard = guard
        self._wake = wake

    # the sink

    def wake(self) -> None:
        self._wake()

    async def record(self, conn: AsyncConnection, event: DomainEvent) -> int:
        recipients = list(dict.fromkeys(event.recipients))
        people = await contacts(conn, recipients)
        if not people:
            return 0
        available = available_channels(self.settings)
        prefs = await store.preferences(conn, list(people))
        subscriptions: dict[UUID, list[UUID]] = {}
        for s in await store.live_subscriptions(conn, list(people)):
            subscriptions.setdefault(s.user_id, []).append(s.id)
        quiet = (
            (await store.quiet_hours_of(conn, [event.case_id])).get(event.case_id)
            if event.case_id is not None
            else None
        )
        now = self.clock()
        ids = {k: str(v) for k, v in event.ids.items()}
        rows: list[dict[str, Any]] = []
        for user_id, person in people.items():
            channels = effective_channels(prefs.get(user_id), available)[event.kind]
            due = now
            if person.role == "child" and quiet is not None:
                due = quiet_until(now, quiet.starts_minute, quiet.ends_minute) or now
            base = {
                "user_id": user_id,
                "kind": event.kind,
                "ids": ids,
                "created_at": now,
                "attempts": 0,
                "next_attempt_at": due,
            }
            if "push" in channels:
                for sub in subscriptions.get(user_id, []):
                    rows.append(
                        {**base, "id": uuid.uuid4(), "channel": "push", "subscription_id": sub}
                    )
            if "email" in channels and person.email:
                rows.append({**base, "id": uuid.uuid4(), "channel": "email"})
            if "sms" in channels:
                rows.append({**base, "id": uuid.uuid4(), "channel": "sms"})
        await store.enqueue(conn, rows)
        return len(rows)

    async def send_reset_link(self, conn: AsyncConnection, user_id: UUID, link: str) -> bool:
        """A password reset link by e-mail (``accounts.ResetMailer``), in the caller's
        transaction; False if this server sends no e-mail. The sender blanks the link
        from the row once it is delivered or given up."""
        if "email" not in available_channels(self.settings):
            return False
        now = self.clock()
        await store.enqueue(
            conn,
            [
                {
                    "id": uuid.uuid4(),
                    "user_id": user_id,
                    "channel": "email",
                    "kind": ev.PASSWORD_RESET,
                    "ids": {"link": link},
                    "created_at": now,
                    "attempts": 0,
                    "next_attempt_at": now,
                }
            ],
        )
        return True

    # for other domains' jobs

    async def claim_once(
        self, conn: AsyncConnection, kind: str, target_id: UUID, user_id: UUID, at: datetime
    ) -> bool:
        """In the caller's transaction: record that a notice of ``kind`` about ``target_id``
        goes to ``user_id``; False if it already went (from any instance, ever)."""
        return await store.claim_reminder(conn, kind, target_id, user_id, at)

    async def in_quiet_hours(self, conn: AsyncConnection, case_id: UUID, minute: int) -> bool:
        """Does this local minute of the day fall in the case's quiet hours?"""
        row = (await store.quiet_hours_of(conn, [case_id])).get(case_id)
        if row is None:
            return False
        return is_quiet(minute, int(row.starts_minute), int(row.ends_minute))

    # push subscriptions

    async def subscribe(
        self, principal: Principal, body: PushSubscriptionIn, address: str
    ) -> PushSubscriptionOut:
        await self.guard.check(body.endpoint)
        if not valid_subscription_keys(body.keys.p256dh, body.keys.auth):
            raise InvalidInput(
                "keys.p256dh must be a P-256 point and keys.auth 16 bytes (base64url)",
                code="push_keys_invalid",
            )
        now = self.clock()
        subscription_id = uuid.uuid4()
        taken = Conflict("Another account holds this push endpoint", code="push_endpoint_taken")
        async with self.db.transaction() as conn:
            holder = await store.endpoint_holder(conn, body.endpoint)
            if (
                holder is not None
                and holder.user_id != principal.user_id
                and holder.revoked_at is None
            ):
                raise taken
            stored = await store.replace_subscription(
                conn,
                id=subscription_id,
                user_id=principal.user_id,
                device_id=principal.device_id,
                endpoint=body.endpoint,
                p256dh=body.keys.p256dh,
                auth=body.keys.auth,
                created_at=now,
            )
            if not stored:
                raise taken
            await self.audit.record(
                conn,
                "push.subscribed",
                org_id=principal.org_id,
                actor=principal,
                target_type="push_subscription",
                target_id=subscription_id,
                address=address,
            )
        return PushSubscriptionOut(
            id=subscription_id,
            device_id=principal.device_id,
            endpoint=body.endpoint,
            created_at=now,
        )

    async def subscriptions(self, principal: Principal) -> list[PushSubscriptionOut]:
        async with self.db.read() as conn:
            rows = await store.subscriptions_of_user(conn, principal.user_id)
        return [
            PushSubscriptionOut(
                id=r.id, device_id=r.device_id, endpoint=r.endpoint, created_at=r.created_at
            )
            for r in rows
        ]

    async def unsubscribe(self, principal: Principal, subscription_id: UUID, address: str) -> None:
        async with self.db.transaction() as conn:
            row = await store.get_subscription(conn, subscription_id)
            if row is None or row.user_id != principal.user_id:
                raise NotFound("No such push subscription", code="push_subscription_not_found")
            await store.delete_subscription(conn, subscription_id)
            await self.audit.record(
                conn,
                "push.unsubscribed",
                org_id=principal.org_id,
                actor=principal,
                target_type="push_subscription",
                target_id=subscription_id,
                address=address,
            )

    # preferences

    async def preferences(self, principal: Principal) -> PreferencesOut:
        async with self.db.read() as conn:
            stored = (await store.preferences(conn, [principal.user_id])).get(principal.user_id)
        available = available_channels(self.settings)
        return PreferencesOut(channels=effective_channels(stored, available), available=available)

    async def set_preferences(self, principal: Principal, body: PreferencesIn) -> PreferencesOut:
        available = available_channels(self.settings)
        for channels in body.channels.values():
            off = [c for c in channels if c not in available]
            if off:
                raise InvalidInput(
                    f"This server does not send {off[0]} notices", code="channel_unavailable"
                )
        async with self.db.transaction() as conn:
            stored = (await store.preferences(conn, [principal.user_id])).get(principal.user_id)
            merged = dict(stored) if isinstance(stored, dict) else {}
            for kind, channels in body.channels.items():
                merged[kind] = list(dict.fromkeys(channels))
            await store.put_preferences(conn, principal.user_id, merged, self.clock())
        return PreferencesOut(channels=effective_channels(merged, available), available=available)

    # quiet hours

    async def quiet_hours(self, principal: Principal, case_id: UUID) -> QuietHoursOut:
        async with self.db.read() as conn:
            (await self.cases.access(conn, principal, case_id)).require(
                "guardian", "therapist", "child"
            )
            row = (await store.quiet_hours_of(conn, [case_id])).get(case_id)
        return _quiet_out(case_id, row)

    async def set_quiet_hours(
        self, principal: Principal, case_id: UUID, body: QuietHoursIn, address: str
    ) -> QuietHoursOut:
        starts, ends = minute_of_day(body.start), minute_of_day(body.end)
        if starts == ends:
            raise InvalidInput("Quiet hours must start and end at different times",
                               code="quiet_hours_empty")  # fmt: skip
        now = self.clock()
        async with self.db.transaction() as conn:
            (await self.cases.access(conn, principal, case_id)).require("guardian")
            await store.put_quiet_hours(
                conn,
                case_id=case_id,
                starts_minute=starts,
                ends_minute=ends,
                set_by=principal.user_id,
                updated_at=now,
            )
            await self.audit.record(
                conn,
                "quiet_hours.set",
                org_id=principal.org_id,
                actor=principal,
                target_type="case",
                target_id=case_id,
                details={"start": body.start, "end": body.end},
                address=address,
            )
            row = (await store.quiet_hours_of(conn, [case_id])).get(case_id)
        return _quiet_out(case_id, row)

    async def clear_quiet_hours(self, principal: Principal, case_id: UUID, address: str) -> None:
        async with self.db.transaction() as conn:
            (await self.cases.access(conn, principal, case_id)).require("guardian")
            if await store.delete_quiet_hours(conn, case_id):
                await self.audit.record(
                    conn,
                    "quiet_hours.cleared",
                    org_id=principal.org_id,
                    actor=principal,
                    target_type="case",
                    target_id=case_id,
                    address=address,
                )


def _quiet_out(case_id: UUID, row: Any) -> QuietHoursOut:
    if row is None:
        return QuietHoursOut(case_id=case_id, start=None, end=None)
    return QuietHoursOut(
        case_id=case_id,
        start=hhmm(row.starts_minute),
        end=hhmm(row.ends_minute),
        time_zone=str(ORG_ZONE.key),
        updated_at=row.updated_at,
    )
