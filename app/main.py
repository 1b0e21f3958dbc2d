"""The app factory: the only place the parts are wired together."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from litestar import Litestar, Router
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from app.accounts.auth import TokenAuthMiddleware
from app.accounts.principal import Principal
from app.accounts.routes import (
    AuthController,
    DeviceController,
    InviteController,
    MeController,
    OrgController,
)
from app.appointments.accounting import sessions_used
from app.appointments.reminder_facts import ReminderFacts
from app.appointments.routes import (
    AppointmentController,
    CancellationController,
    CaseAppointmentController,
)
from app.appointments.series import Clock
from app.appointments.service import AppointmentService
from app.cases.routes import CaseController
from app.cases.service import CaseService
from app.config import Settings
from app.deps import dependencies, provide_clock
from app.errors import exception_handlers
from app.health import health, ready
from app.homework.nudges import HomeworkNudges
from app.homework.routes import CaseHomeworkController, HomeworkController, MeHomeworkController
from app.keys.routes import KeyController
from app.keys.service import KeyService
from app.logs import RequestLogMiddleware
from app.messaging.delivery import MailboxDelivery
from app.messaging.expiry import Expiry
from app.messaging.routes import AttachmentController, MailboxController, ThreadController
from app.messaging.service import MessagingService
from app.notifications.outbox import Outbox
from app.notifications.reminders import Reminders
from app.notifications.routes import (
    MeNotificationController,
    PushController,
    QuietHoursController,
    calendar_feed,
)
from app.notifications.service import Notifications
from app.notifications.webpush import load_vapid
from app.observability.endpoint import MetricsMiddleware
from app.observability.endpoint import metrics as metrics_endpoint
from app.realtime.routes import TicketController
from app.realtime.routes import gateway as ws_gateway
from app.runtime import Runtime
from app.storage.types import utcnow
from signaling.routes import public_handlers as signaling_public
from signaling.routes import route_handlers as signaling_routes
from signaling.service import Signaling

VERSION = "0.1.0"


def wire_messaging(runtime: Runtime) -> None:
    """Mailbox delivery on the WebSocket, and the purge of expired messages."""
    cases = CaseService(runtime.db, runtime.audit)
    keys = KeyService(runtime.db, runtime.audit, runtime.notifier)
    messaging = MessagingService(runtime.db, runtime.settings, cases, keys, runtime.notifier)
    MailboxDelivery(messaging, runtime.settings.ws_queue_frames).install(runtime.gateway)
    expiry = Expiry(runtime.db, runtime.blobs)
    runtime.every(runtime.settings.purge_interval_seconds, expiry.run_once, "kaari-purge")


def wire_signaling(runtime: Runtime) -> Signaling:
    """Rooms and the call relay on the WebSocket; appointment facts from appointments."""
    cases = CaseService(runtime.db, runtime.audit, sessions_used)
    appointments = AppointmentService(runtime.db, runtime.audit, cases, runtime.notifier, utcnow)
    return Signaling.start(
        runtime.settings,
        runtime.limiter,
        gateway=runtime.gateway,
        notifier=runtime.notifier,
        facts=appointments,
        redis=runtime.redis,
    )


def wire_notifications(runtime: Runtime, clock: Clock) -> None:
    """The outbox sender (push, e-mail, SMS), the reminder scheduler and homework's
    digests and daily reminders of this instance."""
    settings = runtime.settings
    outbox = Outbox(runtime.db, settings, load_vapid(settings), clock)
    runtime.outbox = outbox
    cases = CaseService(runtime.db, runtime.audit, sessions_used)
    notifications = Notifications(runtime.db, settings, runtime.audit, cases, clock, outbox.wake)
    appointments = AppointmentService(
        runtime.db, runtime.audit, cases, runtime.notifier, clock, notifications
    )
    reminders = Reminders(runtime.db, ReminderFacts(cases, appointments), notifications, clock)
    runtime.spawn(outbox.loop(), "kaari-notify-outbox")
    runtime.every(settings.reminder_interval_seconds, reminders.run_once, "kaari-reminders")
    nudges = HomeworkNudges(
        runtime.db, cases, notifications, clock, settings.homework_digest_minutes
    )
    runtime.every(settings.reminder_interval_seconds, nudges.run_once, "kaari-homework-nudges")


def running_clock(start: str) -> Clock:
    """KAARI_TEST_CLOCK_START (development only): time starts there and runs on."""
    origin, began = datetime.fromisoformat(start).astimezone(UTC), time.monotonic()
    return lambda: origin + timedelta(seconds=time.monotonic() - began)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = (settings or Settings.from_env()).check()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = await Runtime.start(settings)
        app.state.runtime = runtime
        if settings.test_clock_start:
            app.state.clock = running_clock(settings.test_clock_start)
        wire_messaging(runtime)
        wire_notifications(runtime, lambda: provide_clock(app.state)())
        signaling = wire_signaling(runtime)
        app.state.signaling = signaling
        await signaling.start_rooms()
        try:
            yield
        finally:
            await signaling.close()
            await runtime.close()

    api = Router(
        path="/",
        route_handlers=[
            AuthController,
            MeController,
            DeviceController,
            InviteController,
            OrgController,
            CaseController,
            AppointmentController,
            CaseAppointmentController,
            CancellationController,
            CaseHomeworkController,
            HomeworkController,
            MeHomeworkController,
            MeNotificationController,
            PushController,
            QuietHoursController,
            TicketController,
            KeyController,
            ThreadController,
            MailboxController,
            AttachmentController,
            *signaling_routes,
        ],
        security=[{"BearerToken": []}],
    )
    return Litestar(
        route_handlers=[
            health,
            ready,
            metrics_endpoint,
            api,
            ws_gateway,
            calendar_feed,
            *signaling_public,
        ],
        lifespan=[lifespan],
        dependencies=dependencies,
        exception_handlers=exception_handlers,
        middleware=[
            RequestLogMiddleware,
            MetricsMiddleware,
            DefineMiddleware(TokenAuthMiddleware, exclude=["^/schema"]),
        ],
        request_max_body_size=settings.max_body_bytes,
        signature_namespace={"Principal": Principal, "Runtime": Runtime},
        logging_config=None,
        openapi_config=OpenAPIConfig(
            title="Kaari",
            version=VERSION,
            description="End-to-end encrypted companion app for paediatric therapy.",
            path="/schema",
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http", scheme="bearer", description="Device session token"
                    )
                }
            ),
        ),
        debug=False,
    )
