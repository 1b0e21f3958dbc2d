"""HTTP routes for appointments, a case's and my schedule, and cancellation notices."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from app.appointments.cancellations import CancellationService
from app.appointments.schemas import (
    AppointmentCreate,
    AppointmentOut,
    AppointmentsOut,
    AppointmentUpdate,
    CancelIn,
    CancellationOut,
    ContentRoomOut,
    OutcomeIn,
)
from app.appointments.service import AppointmentService
from app.core.principal import Principal
from app.core.wire import checked_instant
from app.quotas import quota

From = Annotated[datetime | None, QueryParameter(name="from")]
To = Annotated[datetime | None, QueryParameter(name="to")]


class AppointmentController(Controller):
    path = "/appointments"
    tags = ["appointments"]

    @post(status_code=201, opt=quota("appointment_create"))
    async def create(
        self,
        data: JSONBody[AppointmentCreate],
        principal: NamedDependency[Principal],
        appointments: NamedDependency[AppointmentService],
        address: NamedDependency[str],
    ) -> AppointmentsOut:
        """A therapist schedules a session (or a weekly series, or a group session);
        warnings say when a therapy period will not cover it."""
        return await appointments.create(principal, data, address)

    @get()
    async def my_schedule(
        self,
        principal: NamedDependency[Principal],
        appointments: NamedDependency[AppointmentService],
        start: From = None,
        end: To = None,
    ) -> list[AppointmentOut]:
        """My sessions: a therapist's in all their cases, a family member's in theirs."""
        return await appointments.my_schedule(
            principal, checked_instant(start, "from"), checked_instant(end, "to")
        )

    @get("/{appointment_id:uuid}")
    async def get_appointment(
        self,
        appointment_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        appointments: NamedDependency[AppointmentService],
    ) -> AppointmentOut:
        return await appointments.get(principal, appointment_id)

    @patch("/{appointment_id:uuid}")
    async def reschedule(
        self,
        appointment_id: FromPath[UUID],
        data: JSONBody[AppointmentUpdate],
        principal: NamedDependency[Principal],
        appointments: NamedDependency[AppointmentService],
        address: NamedDependency[str],
    ) -> AppointmentsOut:
        """Move one occurrence, or it and the rest of its series (``scope: following``)."""
        return await appointments.reschedule(principal, appointment_id, data, address)

    @post("/{appointment_id:uuid}/outcome", status_code=200)
    async def outcome(
        self,
        appointment_id: FromPath[UUID],
        data: JSONBody[OutcomeIn],
        principal: NamedDependency[Principal],
        appointments: NamedDependency[AppointmentService],
        address: NamedDependency[str],
    ) -> AppointmentOut:
        """A therapist marks a session completed or a no-show, after its start."""
        return await appointments.set_outcome(principal, appointment_id, data, address)

    @post("/{appointment_id:uuid}/cancel")
    async def cancel(
        self,
        appointment_id: FromPath[UUID],
        data: JSONBody[CancelIn],
        principal: NamedDependency[Principal],
        cancellations: NamedDependency[CancellationService],
        address: NamedDependency[str],
    ) -> Response[CancellationOut]:
        """Cancel before the start: 201 the first time, 200 with the same result after."""
        result, created = await cancellations.cancel(principal, appointment_id, data, address)
        return Response(result, status_code=201 if created else 200)


class CaseAppointmentController(Controller):
    path = "/cases/{case_id:uuid}/appointments"
    tags = ["appointments"]

    @get()
    async def list_for_case(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        appointments: NamedDependency[AppointmentService],
        start: From = None,
        end: To = None,
    ) -> list[AppointmentOut]:
        return await appointments.list_for_case(
            principal, case_id, checked_instant(start, "from"), checked_instant(end, "to")
        )

    @get("/room")
    async def content_room(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        appointments: NamedDependency[AppointmentService],
    ) -> ContentRoomOut:
        """The room for the case's appointment details and cancellation notes: its family
        room (guardians and therapists only)."""
        return await appointments.content_room(principal, case_id)


class CancellationController(Controller):
    path = "/cancellations"
    tags = ["appointments"]

    @get("/{cancellation_id:uuid}")
    async def get_cancellation(
        self,
        cancellation_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        cancellations: NamedDependency[CancellationService],
    ) -> CancellationOut:
        """The notice and who has seen it (user, role, device, when)."""
        return await cancellations.get_cancellation(principal, cancellation_id)

    @post("/{cancellation_id:uuid}/acks", status_code=200)
    async def acknowledge(
        self,
        cancellation_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        cancellations: NamedDependency[CancellationService],
    ) -> CancellationOut:
        """This device has shown the notice to its user (idempotent)."""
        return await cancellations.acknowledge(principal, cancellation_id)
