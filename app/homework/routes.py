"""HTTP routes for homework: a case's tasks and progress, a task and its ticks, my today."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from app.core.principal import Principal
from app.core.wire import checked_day
from app.homework.schemas import (
    HomeworkRoomOut,
    ProgressOut,
    ReminderIn,
    ReminderOut,
    SickDaysOut,
    TaskCreate,
    TaskOut,
    TaskUpdate,
    TickIn,
    TickOut,
    TodayOut,
)
from app.homework.service import HomeworkService
from app.homework.sick_days import SickDays
from app.quotas import quota

From = Annotated[date | None, QueryParameter(name="from")]
To = Annotated[date | None, QueryParameter(name="to")]
StatusFilter = Annotated[
    Literal["active", "paused", "finished"] | None, QueryParameter(name="status")
]
Weeks = Annotated[int, QueryParameter(name="weeks", ge=1, le=26)]


class CaseHomeworkController(Controller):
    path = "/cases/{case_id:uuid}/homework"
    tags = ["homework"]

    @post(opt=quota("case_record_create"))
    async def create(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[TaskCreate],
        principal: NamedDependency[Principal],
        homework: NamedDependency[HomeworkService],
        address: NamedDependency[str],
    ) -> Response[TaskOut]:
        """A therapist sets a task: 201, or 200 with the first task for a retried id."""
        task, created = await homework.create(principal, case_id, data, address)
        return Response(task, status_code=201 if created else 200)

    @get()
    async def list_tasks(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        homework: NamedDependency[HomeworkService],
        status: StatusFilter = None,
    ) -> list[TaskOut]:
        """The case's tasks, oldest first (their content stays encrypted)."""
        return await homework.list_tasks(principal, case_id, status)

    @get("/progress")
    async def progress(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        homework: NamedDependency[HomeworkService],
        weeks: Weeks = 4,
    ) -> ProgressOut:
        """Expected and done per week, streaks, and the summary since the last session."""
        return await homework.progress(principal, case_id, weeks)

    @get("/room")
    async def room(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        homework: NamedDependency[HomeworkService],
    ) -> HomeworkRoomOut:
        """The Matrix room whose events hold the case's task content and tick notes."""
        return await homework.room(principal, case_id)

    @get("/sick-days")
    async def sick_days(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        sick_days: NamedDependency[SickDays],
        first: From = None,
        last: To = None,
    ) -> SickDaysOut:
        """The case's sick days, to members who see its homework."""
        return await sick_days.list(principal, case_id, first, last)

    @put("/sick-days/{day:date}", status_code=204, opt=quota("case_record_create"))
    async def mark_sick_day(
        self,
        case_id: FromPath[UUID],
        day: FromPath[date],
        principal: NamedDependency[Principal],
        sick_days: NamedDependency[SickDays],
        address: NamedDependency[str],
    ) -> None:
        """A guardian or therapist marks a day the child was ill (idempotent): its
        homework expects nothing and the child's reminder stays silent."""
        await sick_days.mark(principal, case_id, day, address)

    @delete("/sick-days/{day:date}", status_code=204)
    async def unmark_sick_day(
        self,
        case_id: FromPath[UUID],
        day: FromPath[date],
        principal: NamedDependency[Principal],
        sick_days: NamedDependency[SickDays],
        address: NamedDependency[str],
    ) -> None:
        await sick_days.unmark(principal, case_id, day, address)

    @get("/reminder")
    async def reminder(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        homework: NamedDependency[HomeworkService],
    ) -> ReminderOut:
        return await homework.reminder(principal, case_id)

    @put("/reminder")
    async def set_reminder(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[ReminderIn],
        principal: NamedDependency[Principal],
        homework: NamedDependency[HomeworkService],
        address: NamedDependency[str],
    ) -> ReminderOut:
        """A guardian chooses when the child's device is reminded (or null: never)."""
        return await homework.set_reminder(principal, case_id, data, address)


class HomeworkController(Controller):
    path = "/homework"
    tags = ["homework"]

    @get("/{task_id:uuid}")
    async def get_task(
        self,
        task_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        homework: NamedDependency[HomeworkService],
    ) -> TaskOut:
        return await homework.get(principal, task_id)

    @patch("/{task_id:uuid}")
    async def update(
        self,
        task_id: FromPath[UUID],
        data: JSONBody[TaskUpdate],
        principal: NamedDependency[Principal],
        homework: NamedDependency[HomeworkService],
        address: NamedDependency[str],
    ) -> TaskOut:
        """New content, schedule, end, who ticks, or status; the past weeks keep theirs."""
        return await homework.update(principal, task_id, data, address)

    @put("/{task_id:uuid}/ticks/{day:date}", opt=quota("homework_tick"))
    async def tick(
        self,
        task_id: FromPath[UUID],
        day: FromPath[date],
        data: JSONBody[TickIn],
        principal: NamedDependency[Principal],
        homework: NamedDependency[HomeworkService],
    ) -> Response[TickOut]:
        """Tick a day: 201, or 200 with the tick already there."""
        tick, created = await homework.tick(principal, task_id, day, data)
        return Response(tick, status_code=201 if created else 200)

    @delete("/{task_id:uuid}/ticks/{day:date}", status_code=204, opt=quota("homework_tick"))
    async def undo(
        self,
        task_id: FromPath[UUID],
        day: FromPath[date],
        principal: NamedDependency[Principal],
        homework: NamedDependency[HomeworkService],
    ) -> None:
        """Undo a tick on the day it was made."""
        await homework.undo(principal, task_id, day)

    @get("/{task_id:uuid}/ticks")
    async def ticks(
        self,
        task_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        homework: NamedDependency[HomeworkService],
        first: From = None,
        last: To = None,
    ) -> list[TickOut]:
        return await homework.ticks(
            principal, task_id, checked_day(first, "from"), checked_day(last, "to")
        )


class MeHomeworkController(Controller):
    path = "/me/homework"
    tags = ["homework"]

    @get("/today")
    async def today(
        self, principal: NamedDependency[Principal], homework: NamedDependency[HomeworkService]
    ) -> TodayOut:
        """Today's tasks in my cases, for a child's tablet: few fields, one request."""
        return await homework.today_view(principal)
