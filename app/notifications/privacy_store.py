"""The notifications domain's section of the GDPR export: push subscriptions (the endpoint,
not the encryption secrets), preferences, the quiet hours of the user's cases, the
notices addressed to the user and the reminders sent to them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.export import ExportSubject, Section
from app.storage.export import table_rows
from app.storage.schema import (
    notification_outbox,
    notification_preferences,
    push_subscriptions,
    quiet_hours,
    reminders_sent,
)


async def export(conn: AsyncConnection, subject: ExportSubject) -> Section:
    user = subject.user_id
    return {
        "pushSubscriptions": await table_rows(
            conn, push_subscriptions, push_subscriptions.c.user_id == user, omit={"p256dh", "auth"}
        ),
        "preferences": await table_rows(
            conn, notification_preferences, notification_preferences.c.user_id == user
        ),
        "quietHours": await table_rows(
            conn,
            quiet_hours,
            sa.or_(quiet_hours.c.case_id.in_(subject.case_ids), quiet_hours.c.set_by == user),
        ),
        "notices": await table_rows(
            conn, notification_outbox, notification_outbox.c.user_id == user
        ),
        "remindersSent": await table_rows(conn, reminders_sent, reminders_sent.c.user_id == user),
    }


async def erase(conn: AsyncConnection, subject: ExportSubject, now: datetime) -> None:
    """Push subscriptions, preferences, notices and reminder records of the user go."""
    user = subject.user_id
    await conn.execute(notification_outbox.delete().where(notification_outbox.c.user_id == user))
    await conn.execute(push_subscriptions.delete().where(push_subscriptions.c.user_id == user))
    await conn.execute(
        notification_preferences.delete().where(notification_preferences.c.user_id == user)
    )
    await conn.execute(reminders_sent.delete().where(reminders_sent.c.user_id == user))


async def erase_case(conn: AsyncConnection, case_id: UUID, now: datetime) -> None:
    await conn.execute(quiet_hours.delete().where(quiet_hours.c.case_id == case_id))
