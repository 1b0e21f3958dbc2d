"""Dependency providers: litestar's DI builds each service from the shared Runtime."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from app.accounts.invites import InviteService
from app.accounts.orgs import OrgService
from app.accounts.pairing import PairingService
from app.accounts.principal import Principal
from app.accounts.service import AccountService
from app.appointments.accounting import sessions_used
from app.appointments.reminder_facts import ReminderFacts
from app.appointments.series import Clock
from app.appointments.service import AppointmentService
from app.cases.service import CaseService
from app.homework.service import HomeworkService
from app.keys.service import KeyService
from app.messaging.attachments import AttachmentService
from app.messaging.service import MessagingService
from app.notifications.calendar import CalendarService
from app.notifications.service import Notifications
from app.realtime.notifier import Notifier
from app.realtime.service import TicketService
from app.runtime import Runtime
from app.storage.types import utcnow


def provide_runtime(state: State) -> Runtime:
    runtime = state.runtime
    assert isinstance(runtime, Runtime)
    return runtime


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    user = request.scope.get("user")
    assert isinstance(user, Principal), "route needs authentication"
    return user


def provide_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def provide_accounts(
    runtime: NamedDependency[Runtime], keys: NamedDependency[KeyService]
) -> AccountService:
    return AccountService(
        runtime.db,
        runtime.settings,
        runtime.passwords,
        runtime.limiter,
        runtime.audit,
        runtime.notifier,
        keys,
    )


def provide_cases(runtime: NamedDependency[Runtime]) -> CaseService:
    return CaseService(runtime.db, runtime.audit, sessions_used)


def provide_clock(state: State) -> Clock:
    """The time rules compare against (a cancellation's late flag, "after the start"):
    ``app.state.clock`` when a test sets one, else the system clock."""
    clock = state.get("clock")
    return clock if callable(clock) else utcnow


def provide_appointments(
    runtime: NamedDependency[Runtime],
    cases: NamedDependency[CaseService],
    clock: NamedDependency[Clock],
    notifications: NamedDependency[Notifications],
) -> AppointmentService:
    return AppointmentService(
        runtime.db, runtime.audit, cases, runtime.notifier, clock, notifications
    )


def provide_notifications(
    runtime: NamedDependency[Runtime],
    cases: NamedDependency[CaseService],
    clock: NamedDependency[Clock],
) -> Notifications:
    wake = runtime.outbox.wake if runtime.outbox is not None else None
    return Notifications(runtime.db, runtime.settings, runtime.audit, cases, clock, wake)


def provide_homework(
    runtime: NamedDependency[Runtime],
    cases: NamedDependency[CaseService],
    clock: NamedDependency[Clock],
    notifications: NamedDependency[Notifications],
    appointments: NamedDependency[AppointmentService],
) -> HomeworkService:
    return HomeworkService(
        runtime.db,
        runtime.audit,
        cases,
        runtime.notifier,
        clock,
        events=notifications,
        sessions=appointments,
        quiet=notifications,
    )


def provide_calendar(
    runtime: NamedDependency[Runtime],
    cases: NamedDependency[CaseService],
    appointments: NamedDependency[AppointmentService],
    clock: NamedDependency[Clock],
) -> CalendarService:
    facts = ReminderFacts(cases, appointments)
    return CalendarService(runtime.db, runtime.audit, facts.schedule, clock)


def provide_invites(
    runtime: NamedDependency[Runtime], cases: NamedDependency[CaseService]
) -> InviteService:
    return InviteService(
        runtime.db, runtime.settings, runtime.passwords, runtime.limiter, runtime.audit, cases
    )


def provide_pairing(
    runtime: NamedDependency[Runtime], cases: NamedDependency[CaseService]
) -> PairingService:
    return PairingService(runtime.db, runtime.settings, runtime.limiter, runtime.audit, cases)


def provide_orgs(
    runtime: NamedDependency[Runtime], keys: NamedDependency[KeyService]
) -> OrgService:
    return OrgService(runtime.db, runtime.audit, runtime.notifier, keys)


def provide_keys(runtime: NamedDependency[Runtime]) -> KeyService:
    return KeyService(runtime.db, runtime.audit, runtime.notifier, runtime.limiter)


def provide_messaging(
    runtime: NamedDependency[Runtime],
    cases: NamedDependency[CaseService],
    keys: NamedDependency[KeyService],
) -> MessagingService:
    return MessagingService(runtime.db, runtime.settings, cases, keys, runtime.notifier)


def provide_attachments(
    runtime: NamedDependency[Runtime], messaging: NamedDependency[MessagingService]
) -> AttachmentService:
    return AttachmentService(runtime.db, runtime.settings, runtime.blobs, messaging)


def provide_tickets(runtime: NamedDependency[Runtime]) -> TicketService:
    return runtime.gateway.tickets


def provide_notifier(runtime: NamedDependency[Runtime]) -> Notifier:
    return runtime.notifier


dependencies = {
    "runtime": Provide(provide_runtime, sync_to_thread=False),
    "principal": Provide(provide_principal, sync_to_thread=False),
    "address": Provide(provide_address, sync_to_thread=False),
    "accounts": Provide(provide_accounts, sync_to_thread=False),
    "cases": Provide(provide_cases, sync_to_thread=False),
    "clock": Provide(provide_clock, sync_to_thread=False),
    "appointments": Provide(provide_appointments, sync_to_thread=False),
    "notifications": Provide(provide_notifications, sync_to_thread=False),
    "calendar": Provide(provide_calendar, sync_to_thread=False),
    "homework": Provide(provide_homework, sync_to_thread=False),
    "invites": Provide(provide_invites, sync_to_thread=False),
    "pairing": Provide(provide_pairing, sync_to_thread=False),
    "orgs": Provide(provide_orgs, sync_to_thread=False),
    "tickets": Provide(provide_tickets, sync_to_thread=False),
    "notifier": Provide(provide_notifier, sync_to_thread=False),
    "keys": Provide(provide_keys, sync_to_thread=False),
    "messaging": Provide(provide_messaging, sync_to_thread=False),
    "attachments": Provide(provide_attachments, sync_to_thread=False),
}
