"""The app factory: routes, middleware, error handlers, and a lifespan that builds the
instance's services once (app/services.py) and starts its jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from app.accounts.auth import TokenAuthMiddleware
from app.accounts.recovery_routes import ChildDeviceController, RecoveryController
from app.accounts.routes import (
    AuthController,
    CaseAccessController,
    DeviceController,
    InviteController,
    MeController,
    OrgController,
)
from app.appointments.routes import (
    AppointmentController,
    CancellationController,
    CaseAppointmentController,
)
from app.cases.routes import CaseController, OrgCaseController
from app.config import Settings
from app.core.body import StrictRequest
from app.core.principal import Principal
from app.core.time import Clock
from app.deps import dependencies
from app.documents.routes import (
    CaseDocumentController,
    DocumentController,
    DocumentRequestController,
)
from app.errors import exception_handlers
from app.headers import security_headers
from app.health import health, ready
from app.homework.routes import CaseHomeworkController, HomeworkController, MeHomeworkController
from app.keys.backup_routes import MatrixBackupController
from app.keys.matrix_routes import MatrixKeyController
from app.logs import RequestLogMiddleware
from app.messaging.matrix_routes import MatrixRoomController
from app.messaging.routes import AttachmentController, ThreadController
from app.notifications.routes import (
    MeNotificationController,
    PushController,
    QuietHoursController,
    calendar_feed,
)
from app.observability.endpoint import MetricsMiddleware
from app.observability.endpoint import metrics as metrics_endpoint
from app.openapi import document_problems
from app.privacy.routes import CaseErasureController, ErasureController, ExportController
from app.quotas import quota_guard
from app.realtime.routes import TicketController
from app.realtime.routes import gateway as ws_gateway
from app.runtime import Runtime
from app.services import build_services, install_sockets, settings_clock, start_jobs
from app.webapp import route_handlers as webapp_handlers
from signaling.routes import public_handlers as signaling_public
from signaling.routes import route_handlers as signaling_routes

VERSION = "0.1.0"


def app_clock(state: State, otherwise: Clock) -> Clock:
    """The app's one clock: ``app.state.clock`` when a test sets one, else ``otherwise``
    (the system clock, or the development-only ``KAARI_TEST_CLOCK_START``'s). Read at every
    call, so a test may set it after start-up."""

    def now() -> datetime:
        clock = state.get("clock")
        return (clock if callable(clock) else otherwise)()

    return now


def create_app(settings: Settings | None = None) -> Litestar:
    settings = (settings or Settings.from_env()).check()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # the services come from app.state.settings: the app built here (routes, middleware,
        # the OpenAPI document: ~0.35 CPU-s) may run several lifespans, each with its own
        # database and data directory (the test suite builds one app per shape of settings)
        current: Settings = app.state.settings
        runtime = await Runtime.start(current, app_clock(app.state, settings_clock(current)))
        services = build_services(runtime)
        app.state.runtime, app.state.services = runtime, services
        app.state.signaling = services.signaling
        install_sockets(runtime, services)
        await start_jobs(runtime, services)
        try:
            yield
        finally:
            await services.signaling.close()
            await runtime.close()

    api = Router(
        path="/",
        route_handlers=[
            AuthController,
            MeController,
            ExportController,
            ErasureController,
            CaseErasureController,
            DeviceController,
            InviteController,
            OrgController,
            CaseController,
            CaseAccessController,
            RecoveryController,
            ChildDeviceController,
            OrgCaseController,
            AppointmentController,
            CaseAppointmentController,
            CancellationController,
            CaseHomeworkController,
            CaseDocumentController,
            DocumentController,
            DocumentRequestController,
            HomeworkController,
            MeHomeworkController,
            MeNotificationController,
            PushController,
            QuietHoursController,
            TicketController,
            MatrixKeyController,
            MatrixRoomController,
            MatrixBackupController,
            ThreadController,
            AttachmentController,
            *signaling_routes,
        ],
        security=[{"BearerToken": []}],
    )
    app = Litestar(
        route_handlers=[
            health,
            ready,
            metrics_endpoint,
            api,
            ws_gateway,
            calendar_feed,
            *signaling_public,
            *webapp_handlers(settings),
        ],
        lifespan=[lifespan],
        state=State({"settings": settings}),
        dependencies=dependencies,
        exception_handlers=exception_handlers,
        middleware=[
            RequestLogMiddleware,
            MetricsMiddleware,
            DefineMiddleware(TokenAuthMiddleware, exclude=["^/schema"]),
        ],
        request_max_body_size=settings.max_body_bytes,
        request_class=StrictRequest,
        signature_namespace={"Principal": Principal, "Runtime": Runtime},
        logging_config=None,
        before_send=[security_headers(settings)],
        guards=[quota_guard],
        openapi_config=OpenAPIConfig(
            title="Kaari",
            version=VERSION,
            description="End-to-end encrypted companion app for paediatric therapy.",
            path="/schema",
            # production serves no third-party script: the JSON document only
            render_plugins=(
                [JsonRenderPlugin()] if settings.is_production or not settings.schema_viewer else []
            ),
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
    document_problems(app)
    return app
