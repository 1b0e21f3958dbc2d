"""HTTP routes: push subscriptions, notification preferences, quiet hours, the calendar."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from app.core.principal import Principal
from app.notifications.calendar import CalendarService
from app.notifications.outbox import Outbox
from app.notifications.schemas import (
    CalendarTokenOut,
    PreferencesIn,
    PreferencesOut,
    PushSubscriptionIn,
    PushSubscriptionOut,
    QuietHoursIn,
    QuietHoursOut,
    VapidKeyOut,
)
from app.notifications.service import Notifications
from app.quotas import quota

PUBLIC = {"exclude_from_auth": True}


class MeNotificationController(Controller):
    path = "/me"
    tags = ["notifications"]

    @get("/notification-preferences")
    async def preferences(
        self,
        principal: NamedDependency[Principal],
        notifications: NamedDependency[Notifications],
    ) -> PreferencesOut:
        """The channels each event kind is sent on, and the channels this server has."""
        return await notifications.preferences(principal)

    @put("/notification-preferences")
    async def set_preferences(
        self,
        data: JSONBody[PreferencesIn],
        principal: NamedDependency[Principal],
        notifications: NamedDependency[Notifications],
    ) -> PreferencesOut:
        """Choose the channels of some event kinds (the others keep theirs)."""
        return await notifications.set_preferences(principal, data)

    @post("/push-subscriptions", status_code=201, opt=quota("push_subscribe"))
    async def subscribe(
        self,
        data: JSONBody[PushSubscriptionIn],
        principal: NamedDependency[Principal],
        notifications: NamedDependency[Notifications],
        address: NamedDependency[str],
    ) -> PushSubscriptionOut:
        """This device's Web Push subscription (the browser's ``PushSubscription.toJSON()``)."""
        return await notifications.subscribe(principal, data, address)

    @get("/push-subscriptions")
    async def subscriptions(
        self,
        principal: NamedDependency[Principal],
        notifications: NamedDependency[Notifications],
    ) -> list[PushSubscriptionOut]:
        return await notifications.subscriptions(principal)

    @delete("/push-subscriptions/{subscription_id:uuid}", status_code=204)
    async def unsubscribe(
        self,
        subscription_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        notifications: NamedDependency[Notifications],
        address: NamedDependency[str],
    ) -> None:
        await notifications.unsubscribe(principal, subscription_id, address)

    @post("/calendar-token", status_code=201, opt=quota("calendar_token"))
    async def create_calendar_token(
        self,
        principal: NamedDependency[Principal],
        calendar: NamedDependency[CalendarService],
        address: NamedDependency[str],
    ) -> CalendarTokenOut:
        """A new secret calendar feed URL (shown once); the previous one stops working."""
        return await calendar.create_token(principal, address)

    @delete("/calendar-token", status_code=204)
    async def revoke_calendar_token(
        self,
        principal: NamedDependency[Principal],
        calendar: NamedDependency[CalendarService],
        address: NamedDependency[str],
    ) -> None:
        await calendar.revoke_token(principal, address)


class PushController(Controller):
    path = "/push"
    tags = ["notifications"]

    @get("/vapid-public-key")
    async def vapid_public_key(self, outbox: NamedDependency[Outbox]) -> VapidKeyOut:
        """The ``applicationServerKey`` to subscribe with."""
        return VapidKeyOut(public_key=outbox.vapid.public_key)


class QuietHoursController(Controller):
    path = "/cases/{case_id:uuid}/quiet-hours"
    tags = ["notifications"]

    @get()
    async def quiet_hours(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        notifications: NamedDependency[Notifications],
    ) -> QuietHoursOut:
        return await notifications.quiet_hours(principal, case_id)

    @put()
    async def set_quiet_hours(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[QuietHoursIn],
        principal: NamedDependency[Principal],
        notifications: NamedDependency[Notifications],
        address: NamedDependency[str],
    ) -> QuietHoursOut:
        """A guardian sets the child's quiet hours (local time in Europe/Helsinki)."""
        return await notifications.set_quiet_hours(principal, case_id, data, address)

    @delete(status_code=204)
    async def clear_quiet_hours(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        notifications: NamedDependency[Notifications],
        address: NamedDependency[str],
    ) -> None:
        await notifications.clear_quiet_hours(principal, case_id, address)


@get("/calendar/{name:str}", opt=PUBLIC, tags=["notifications"], security=[])
async def calendar_feed(
    name: FromPath[str], calendar: NamedDependency[CalendarService]
) -> Response[str]:
    """The iCalendar feed behind a secret token (``/calendar/<token>.ics``)."""
    body = await calendar.feed(name)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"cache-control": "private, max-age=300", "referrer-policy": "no-referrer"},
    )
