"""The composition root: every service of one app instance, built once, in one place.

``build_services`` is the only code that knows which service needs which: each takes
its collaborators at construction, all of them required, so a missing one is a type
error here rather than a silent no-op at run time. Routes receive the services through
``app/deps.py``; the auth middleware, the CLI and the demo seed take them from here too.
``start_jobs`` starts the background jobs of the instance (outbox sender, reminders,
homework nudges, the purge and the retention jobs) and ``install_sockets`` hands the
WebSocket handlers to the gateway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts import privacy_store as accounts_privacy
from app.accounts.invites import InviteService
from app.accounts.orgs import OrgService
from app.accounts.pairing import PairingService
from app.accounts.recovery import Recovery
from app.accounts.service import AccountService
from app.appointments import privacy_store as appointments_privacy
from app.appointments.accounting import sessions_used
from app.appointments.cancellations import CancellationService
from app.appointments.reminder_facts import ReminderFacts
from app.appointments.service import AppointmentService
from app.audit import privacy_store as audit_privacy
from app.audit.retention import AuditRetention
from app.cases import privacy_store as cases_privacy
from app.cases.access_log import AccessLog
from app.cases.caseload import Caseload
from app.cases.handover import Handover
from app.cases.service import CaseService
from app.config import Settings
from app.core.export import ExportSource, ExportSubject, Section
from app.core.fanout import FanOut
from app.core.matrix import MatrixIds
from app.core.time import Clock, running_clock, utcnow
from app.documents import privacy_store as documents_privacy
from app.documents.reminders import DocumentReminders
from app.documents.requests import DocumentRequests
from app.documents.retention import DocumentRetention
from app.documents.service import DocumentService
from app.homework import privacy_store as homework_privacy
from app.homework.nudges import HomeworkNudges
from app.homework.retention import HomeworkRetention
from app.homework.service import HomeworkService
from app.homework.sick_days import SickDays
from app.keys import privacy_store as keys_privacy
from app.keys.backup import KeyBackup
from app.keys.cross_signing import CrossSigning
from app.keys.directory import KeyDirectory
from app.messaging import privacy_store as messaging_privacy
from app.messaging.attachments import AttachmentService
from app.messaging.blob_sweep import BlobSweep
from app.messaging.expiry import Expiry
from app.messaging.matrix_delivery import MatrixSyncDelivery
from app.messaging.receipts import DeliveryReceipts
from app.messaging.rooms import RoomService
from app.messaging.service import MessagingService
from app.messaging.sync import SyncService
from app.messaging.to_device import ToDeviceService
from app.notifications import privacy_store as notifications_privacy
from app.notifications.calendar import CalendarService
from app.notifications.egress import PushGuard
from app.notifications.outbox import Outbox
from app.notifications.reminders import Reminders
from app.notifications.retention import OutboxRetention
from app.notifications.service import Notifications
from app.notifications.webpush import load_vapid
from app.privacy.erasure import CaseErasure, ErasureService
from app.privacy.service import ExportService
from app.realtime.service import TicketService
from app.runtime import Runtime
from signaling.service import Signaling


@dataclass(frozen=True, slots=True)
class Services:
    """The services of one app instance (stateless but for their collaborators)."""

    clock: Clock
    accounts: AccountService
    orgs: OrgService
    invites: InviteService
    pairing: PairingService
    cases: CaseService
    access_log: AccessLog
    caseload: Caseload
    recovery: Recovery
    handover: Handover
    key_directory: KeyDirectory
    cross_signing: CrossSigning
    key_backup: KeyBackup
    messaging: MessagingService
    rooms: RoomService
    to_device: ToDeviceService
    sync: SyncService
    receipts: DeliveryReceipts
    attachments: AttachmentService
    appointments: AppointmentService
    cancellations: CancellationService
    notifications: Notifications
    calendar: CalendarService
    homework: HomeworkService
    sick_days: SickDays
    documents: DocumentService
    document_requests: DocumentRequests
    document_reminders: DocumentReminders
    tickets: TicketService
    outbox: Outbox
    reminders: Reminders
    nudges: HomeworkNudges
    expiry: Expiry
    outbox_retention: OutboxRetention
    homework_retention: HomeworkRetention
    document_retention: DocumentRetention
    audit_retention: AuditRetention
    blob_sweep: BlobSweep
    export: ExportService
    erasure: ErasureService
    signaling: Signaling


def export_service(runtime: Runtime, clock: Clock) -> ExportService:
    """The GDPR export, with a section from every domain that stores personal data."""
    blobs = runtime.blobs

    async def messaging(conn: AsyncConnection, subject: ExportSubject) -> Section:
        return await messaging_privacy.export(conn, subject, blobs=blobs)

    async def documents(conn: AsyncConnection, subject: ExportSubject) -> Section:
        return await documents_privacy.export(conn, subject, blobs=blobs)

    sources = [
        ExportSource("account", accounts_privacy.export),
        ExportSource("cases", cases_privacy.export),
        ExportSource("keys", keys_privacy.export),
        ExportSource("messaging", messaging),
        ExportSource("appointments", appointments_privacy.export),
        ExportSource("homework", homework_privacy.export),
        ExportSource("documents", documents),
        ExportSource("notifications", notifications_privacy.export),
        ExportSource("audit", audit_privacy.export),
    ]
    return ExportService(
        runtime.db,
        runtime.audit,
        clock,
        sources,
        accounts_privacy.device_ids,
        cases_privacy.case_ids,
    )


def erasure_service(
    runtime: Runtime, clock: Clock, accounts: AccountService, keys: KeyDirectory
) -> ErasureService:
    """A person's erasure, with a step from every domain that stores personal data."""
    return ErasureService(
        runtime.db,
        runtime.audit,
        clock,
        runtime.blobs,
        accounts,
        [
            accounts_privacy.erase,
            cases_privacy.erase,
            keys_privacy.erase,
            appointments_privacy.erase,
            homework_privacy.erase,
            documents_privacy.erase,
            notifications_privacy.erase,
        ],
        messaging_privacy.erase,
        (accounts_privacy.device_ids, cases_privacy.case_ids),
        keys,
        runtime.notifier,
        CaseErasure(
            cases_privacy,
            [
                cases_privacy.erase_case,
                appointments_privacy.erase_case,
                homework_privacy.erase_case,
                documents_privacy.erase_case,
                notifications_privacy.erase_case,
            ],
            messaging_privacy.erase_case,
        ),
    )


def settings_clock(settings: Settings) -> Clock:
    """The clock an instance runs on without a test setting one: the system clock, or the
    development-only ``KAARI_TEST_CLOCK_START``'s running one."""
    return running_clock(settings.test_clock_start) if settings.test_clock_start else utcnow


def build_services(runtime: Runtime) -> Services:
    """Every service, once, from the instance's shared parts, on its one clock
    (``runtime.clock``: what every rule reads as now)."""
    db, settings, audit, notifier = runtime.db, runtime.settings, runtime.audit, runtime.notifier
    clock = runtime.clock
    ids = MatrixIds(settings.matrix_server_name)
    key_directory = KeyDirectory(db, audit, notifier, runtime.limiter, ids, clock)
    accounts = AccountService(
        db, settings, runtime.passwords, runtime.limiter, audit, notifier, key_directory, clock
    )
    cross_signing = CrossSigning(db, audit, key_directory, accounts, ids, clock)
    orgs = OrgService(db, audit, notifier, key_directory, clock)
    cases = CaseService(db, audit, accounts, sessions_used, clock)
    guard = PushGuard.from_settings(settings)
    outbox = Outbox(db, settings, load_vapid(settings), clock, guard)
    notifications = Notifications(db, settings, audit, cases, clock, guard, outbox.wake)
    fanout = FanOut(accounts, notifications, notifier)
    rooms = RoomService(db, settings, cases, key_directory, notifier, ids, clock, notifications)
    appointments = AppointmentService(db, audit, cases, fanout, clock, rooms)
    cancellations = CancellationService(db, audit, cases, fanout, clock, rooms)
    facts = ReminderFacts(cases, appointments)
    messaging = MessagingService(db, cases, clock)
    homework = HomeworkService(
        db, audit, cases, fanout, clock, sessions=appointments, quiet=notifications, rooms=rooms
    )
    documents = DocumentService(db, audit, cases, fanout, clock, rooms=rooms, claims=notifications)
    document_requests = DocumentRequests(db, audit, cases, fanout, clock, rooms=rooms)
    receipts = DeliveryReceipts(db, rooms, key_directory, notifier, ids, clock)
    signaling = Signaling.start(
        settings,
        runtime.limiter,
        clock=clock,
        gateway=runtime.gateway,
        notifier=notifier,
        facts=appointments,
        redis=runtime.redis,
    )
    return Services(
        clock=clock,
        accounts=accounts,
        orgs=orgs,
        invites=InviteService(
            db, settings, runtime.passwords, runtime.limiter, audit, cases, cross_signing, clock
        ),
        pairing=PairingService(db, settings, runtime.limiter, audit, cases, clock),
        cases=cases,
        access_log=AccessLog(db, cases, audit),
        caseload=Caseload(db, cases, documents=document_requests),
        recovery=Recovery(
            db,
            settings,
            runtime.passwords,
            runtime.limiter,
            audit,
            accounts,
            cases,
            notifications,
            clock,
        ),
        handover=Handover(db, audit, cases, accounts, fanout),
        key_directory=key_directory,
        cross_signing=cross_signing,
        key_backup=KeyBackup(db, clock),
        messaging=messaging,
        rooms=rooms,
        to_device=ToDeviceService(db, settings, key_directory, notifier, ids, clock),
        sync=SyncService(db, rooms, key_directory, runtime.gateway, ids, receipts, clock),
        receipts=receipts,
        attachments=AttachmentService(
            db, settings, runtime.blobs, messaging, runtime.limiter, clock
        ),
        appointments=appointments,
        cancellations=cancellations,
        notifications=notifications,
        calendar=CalendarService(db, audit, facts.schedule, clock),
        homework=homework,
        sick_days=SickDays(db, audit, cases, fanout, clock),
        documents=documents,
        document_requests=document_requests,
        document_reminders=DocumentReminders(db, cases, notifications, clock),
        tickets=runtime.gateway.tickets,
        outbox=outbox,
        reminders=Reminders(db, facts, notifications, clock),
        nudges=HomeworkNudges(db, cases, notifications, clock, settings.homework_digest_minutes),
        expiry=Expiry(db, runtime.blobs, clock),
        outbox_retention=OutboxRetention(db, settings.outbox_retention_days, clock),
        homework_retention=HomeworkRetention(db, settings.homework_retention_days, clock),
        document_retention=DocumentRetention(db, settings.room_event_retention_days, clock),
        audit_retention=AuditRetention(db, settings.audit_retention_days, clock),
        # the files' ages are the file system's: judged by the system clock, never a test's
        blob_sweep=BlobSweep(db, runtime.blobs, settings.blob_orphan_hours, utcnow),
        export=export_service(runtime, clock),
        erasure=erasure_service(runtime, clock, accounts, key_directory),
        signaling=signaling,
    )


def install_sockets(runtime: Runtime, services: Services) -> None:
    """The WebSocket handlers of the domains that speak on the socket."""
    MatrixSyncDelivery(services.sync).install(runtime.gateway)


async def start_jobs(runtime: Runtime, services: Services) -> None:
    """The background jobs of this instance, until ``runtime.close()``."""
    settings = runtime.settings
    runtime.spawn(services.outbox.loop(), "kaari-notify-outbox")
    runtime.every(
        settings.reminder_interval_seconds, services.reminders.run_once, "kaari-reminders"
    )
    runtime.every(
        settings.reminder_interval_seconds, services.nudges.run_once, "kaari-homework-nudges"
    )
    runtime.every(
        settings.reminder_interval_seconds,
        services.document_reminders.run_once,
        "kaari-document-reminders",
    )
    every_purge = settings.purge_interval_seconds
    runtime.every(every_purge, services.expiry.run_once, "kaari-purge")
    runtime.every(every_purge, services.outbox_retention.run_once, "kaari-retention-outbox")
    runtime.every(every_purge, services.homework_retention.run_once, "kaari-retention-homework")
    runtime.every(every_purge, services.document_retention.run_once, "kaari-retention-documents")
    runtime.every(every_purge, services.audit_retention.run_once, "kaari-retention-audit")
    runtime.every(every_purge, services.blob_sweep.run_once, "kaari-retention-blobs")
    await services.signaling.start_rooms()


@asynccontextmanager
async def running_services(settings: Settings) -> AsyncIterator[tuple[Runtime, Services]]:
    """The instance's parts and services without the HTTP app or its jobs, on the clock
    ``kaari serve`` starts with (``settings_clock``): for the CLI's admin commands and the
    demo seed."""
    runtime = await Runtime.start(settings, settings_clock(settings))
    try:
        services = build_services(runtime)
        try:
            yield runtime, services
        finally:
            await services.signaling.close()
    finally:
        await runtime.close()
