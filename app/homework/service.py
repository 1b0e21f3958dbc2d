"""Rules of homework (DESIGN.md sections 4 and 8, docs/homework.md).

* A therapist of the case sets a task: the id of its content event (an encrypted event of
  the case's homework room sent by the calling device, checked, never opened), a
  schedule, start and end, who ticks. The id is chosen by the device, so a retried
  create returns the first task. A tick's note is such an event too.
* Edits never rewrite the past: a new rule, a pause, a resume and a finish each add a
  segment from today (app/homework/schedule.py). Ticks are kept.
* The child (or a guardian, per ``tickBy``) ticks a day the task is due; ticks are
  idempotent, may arrive up to 7 days late (offline), and can be undone on the day they
  reached the server.
* Progress is computed from the segments, the tick days and the case's sick days
  (app/homework/progress.py; a sick day expects nothing, app/homework/sick_days.py).
* Who sees what: members of the case; a caregiver only with the guardian's ``homework``
  grant. A foreign case or task is 404.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Audit
from app.cases.service import CaseService, Membership
from app.core import events as ev
from app.core.content_rooms import ContentRooms, require_event_from
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.events import DomainEvent
from app.core.fanout import FanOut
from app.core.principal import CaseRole, Principal
from app.core.time import Clock, hhmm, local_date, minute_of_day
from app.homework import progress as prog
from app.homework import store
from app.homework.schedule import (
    Plan,
    Rule,
    Segment,
    active_on,
    tickable_on,
    week_start,
    with_change,
)
from app.homework.schemas import (
    HomeworkRoomOut,
    ProgressOut,
    ReminderIn,
    ReminderOut,
    SummaryOut,
    SummaryTaskOut,
    TaskCreate,
    TaskOut,
    TaskProgressOut,
    TaskUpdate,
    TickIn,
    TickOut,
    TodayOut,
    TodayTaskOut,
)
from app.homework.shapes import (
    TaskRow,
    no_weeks,
    plan_text,
    rule_of,
    task_out,
    tick_out,
    week_out,
)
from app.storage.engine import Database

#: an offline tick may arrive this many days after its day
LATE_TICK_DAYS = 7
#: a device clock this far ahead of the server's is wrong, not early
CLOCK_SKEW = timedelta(minutes=5)
#: a task is set at most this far back (a task the therapist forgot to enter last week)
#: and lasts at most three years (a therapy period's longest)
EARLIEST_START_DAYS = 7
LONGEST_TASK_DAYS = 3 * 366
MAX_PROGRESS_WEEKS = 26
THERAPISTS: tuple[CaseRole, ...] = ("therapist",)
CHILDREN: tuple[CaseRole, ...] = ("child",)
EVERYONE: tuple[CaseRole, ...] = ("therapist", "guardian", "child", "caregiver")
FAMILY: tuple[CaseRole, ...] = ("guardian", "child", "caregiver")


class LastSession(Protocol):
    """When the case last had a session (app/appointments answers; this package never
    reads its tables)."""

    async def last_session_before(
        self, conn: AsyncConnection, case_id: UUID, at: datetime
    ) -> datetime | None: ...


class QuietHours(Protocol):
    """Whether a local minute of the day falls in the case's quiet hours
    (app/notifications answers)."""

    async def in_quiet_hours(self, conn: AsyncConnection, case_id: UUID, minute: int) -> bool: ...


def may_tick(role: str, tick_by: str) -> bool:
    return (role == "child" and tick_by in ("child", "both")) or (
        role == "guardian" and tick_by in ("guardian", "both")
    )


async def _check_content(
    rooms: ContentRooms,
    conn: AsyncConnection,
    principal: Principal,
    case_id: UUID,
    event_id: str,
    what: str,
) -> None:
    await require_event_from(rooms, conn, principal, case_id, "homework", event_id, what)


async def _keep_media(
    rooms: ContentRooms,
    conn: AsyncConnection,
    principal: Principal,
    case_id: UUID,
    blob_ids: list[UUID],
) -> None:
    """A task's pictures and videos are attachments this device uploaded to the case's
    homework room; they are then kept as long as the room's events (not the 30 days of a
    message's file)."""
    for blob_id in blob_ids:
        if await rooms.keep_file(conn, case_id, "homework", blob_id, principal.device_id) is None:
            raise InvalidInput(
                "A task's media must be attachments this device uploaded to the case's "
                "homework room",
                code="homework_media_invalid",
            )


def _check_dates(starts_on: date, ends_on: date | None, rule: Rule) -> None:
    if ends_on is None:
        return
    if ends_on < starts_on:
        raise InvalidInput("A task cannot end before it starts", code="task_dates_invalid")
    if rule.kind == "once" and ends_on != starts_on:
        raise InvalidInput("A one-time task is done on its start day: leave endsOn out",
                           code="task_dates_invalid")  # fmt: skip
    if (ends_on - starts_on).days > LONGEST_TASK_DAYS:
        raise InvalidInput("A task lasts at most three years", code="task_too_long")


class HomeworkService:
    def __init__(
        self,
        db: Database,
        audit: Audit,
        cases: CaseService,
        fanout: FanOut,
        clock: Clock,
        *,
        sessions: LastSession,
        quiet: QuietHours,
        rooms: ContentRooms,
    ) -> None:
        self.db = db
        self.audit = audit
        self.cases = cases
        self.fanout = fanout
        self.clock = clock
        self.sessions = sessions
        self.quiet = quiet
        self.rooms = rooms

    def today(self) -> date:
        return local_date(self.clock())

    def _out(self, task: TaskRow) -> TaskOut:
        return task_out(task, self.rooms.content_room(task.case_id, "homework"))

    async def room(self, principal: Principal, case_id: UUID) -> HomeworkRoomOut:
        """The case's homework room, for a member who sees the case's homework."""
        async with self.db.read() as conn:
            await self._case(conn, principal, case_id)
        room_id = self.rooms.content_room(case_id, "homework")
        return HomeworkRoomOut(case_id=case_id, room_id=room_id)

    # access

    async def _case(self, conn: AsyncConnection, principal: Principal, case_id: UUID) -> Membership:
        """The caller's membership of a case whose homework they may see."""
        return (await self.cases.access(conn, principal, case_id)).require_scope("homework")

    async def _task(
        self, conn: AsyncConnection, principal: Principal, task_id: UUID, *, lock: bool = False
    ) -> tuple[TaskRow, Membership]:
        row = await store.get_task(conn, task_id, lock=lock)
        if row is None:
            raise NotFound("No such task", code="task_not_found")
        try:
            membership = await self.cases.access(conn, principal, row.case_id)
        except NotFound:
            raise NotFound("No such task", code="task_not_found") from None
        return TaskRow(row), membership.require_scope("homework")

    async def _audience(
        self, conn: AsyncConnection, case_id: UUID, roles: tuple[CaseRole, ...]
    ) -> dict[UUID, str]:
        """user id -> role of the active members in ``roles`` who see the case's homework."""
        active = await self.cases.active_members(conn, case_id, roles)
        scoped = await self.cases.homework_audience(conn, case_id)
        return {u: r for u, r in active.items() if u in scoped}

    # tasks

    async def create(
        self, principal: Principal, case_id: UUID, body: TaskCreate, address: str
    ) -> tuple[TaskOut, bool]:
        """The task and whether it is new (a retry with the same id returns the first)."""
        rule = rule_of(body.schedule)
        ends_on = body.starts_on if rule.kind == "once" and body.ends_on is None else body.ends_on
        _check_dates(body.starts_on, ends_on, rule)
        today = self.today()
        now = self.clock()
        announcement = self.fanout.begin(principal.device_id)
        async with self.db.transaction() as conn:
            (await self._case(conn, principal, case_id)).require("therapist").require_open()
            await _check_content(
                self.rooms, conn, principal, case_id, body.content_event_id, "task's content"
            )
            if body.starts_on < today - timedelta(days=EARLIEST_START_DAYS):
                raise InvalidInput("A task starts at most a week in the past",
                                   code="task_starts_too_early")  # fmt: skip
            plan = Plan(body.starts_on, ends_on, (Segment(body.starts_on, rule),))
            inserted = await store.insert_task(
                conn,
                id=body.id,
                case_id=case_id,
                created_by=principal.user_id,
                content_event_id=body.content_event_id,
                content_version=1,
                plan=plan_text(rule, plan),
                starts_on=body.starts_on,
                ends_on=ends_on,
                tick_by=body.tick_by,
                status="active",
                created_at=now,
                updated_at=now,
            )
            row = await store.get_task(conn, body.id)
            assert row is not None
            if not inserted:
                if row.case_id != case_id or row.created_by != principal.user_id:
                    raise Conflict("This task id is taken: make a new one", code="task_id_taken")
                return self._out(TaskRow(row)), False
            await _keep_media(self.rooms, conn, principal, case_id, body.media_blob_ids)
            await self.audit.record(
                conn, "homework.task_created", org_id=principal.org_id, actor=principal,
                target_type="homework_task", target_id=body.id,
                details={"caseId": str(case_id), "kind": rule.kind}, address=address,
            )  # fmt: skip
            family = await self._audience(conn, case_id, FAMILY)
            ids = _ids(body.id, case_id)
            notice = DomainEvent(ev.HOMEWORK_ASSIGNED, ids, list(family), case_id=case_id)
            await announcement.notice(conn, notice)
            therapists = await self.cases.active_members(conn, case_id, THERAPISTS)
            await announcement.live(conn, [*family, *therapists], ev.HOMEWORK_ASSIGNED, ids)
        await announcement.send()
        return self._out(TaskRow(row)), True

    async def list_tasks(
        self, principal: Principal, case_id: UUID, status: str | None = None
    ) -> list[TaskOut]:
        async with self.db.read() as conn:
            await self._case(conn, principal, case_id)
            rows = await store.tasks_of_cases(conn, [case_id], status)
        await self.cases.note_read(principal, case_id, "homework")
        return [self._out(TaskRow(r)) for r in rows]

    async def get(self, principal: Principal, task_id: UUID) -> TaskOut:
        async with self.db.read() as conn:
            task, _ = await self._task(conn, principal, task_id)
        await self.cases.note_read(principal, task.row.case_id, "homework")
        return self._out(task)

    async def update(
        self, principal: Principal, task_id: UUID, body: TaskUpdate, address: str
    ) -> TaskOut:
        today = self.today()
        now = self.clock()
        announcement = self.fanout.begin(principal.device_id)
        async with self.db.transaction() as conn:
            task, membership = await self._task(conn, principal, task_id, lock=True)
            membership.require("therapist").require_open()
            row = task.row
            values: dict[str, Any] = {}
            rule, plan, status = task.rule, task.plan, row.status
            event_id = body.content_event_id
            if not isinstance(event_id, msgspec.UnsetType) and event_id != row.content_event_id:
                await _check_content(
                    self.rooms, conn, principal, row.case_id, event_id, "task's content"
                )
                values["content_event_id"] = event_id
                values["content_version"] = row.content_version + 1
            if not isinstance(body.media_blob_ids, msgspec.UnsetType):
                await _keep_media(self.rooms, conn, principal, row.case_id, body.media_blob_ids)
            if not isinstance(body.schedule, msgspec.UnsetType):
                rule = rule_of(body.schedule)
                if "once" in (rule.kind, task.rule.kind) and rule != task.rule:
                    raise InvalidInput("A one-time task cannot change its kind of schedule: "
                                       "finish it and set a new task",
                                       code="schedule_invalid")  # fmt: skip
                if status == "active":
                    plan = with_change(plan, today, rule)
            if not isinstance(body.status, msgspec.UnsetType) and body.status != status:
                status = body.status
                plan = with_change(plan, today, rule if status == "active" else None)
            ends_on = plan.ends_on
            if not isinstance(body.ends_on, msgspec.UnsetType):
                ends_on = body.ends_on
                _check_dates(plan.starts_on, ends_on, rule)
                if rule.kind == "once" and ends_on is None:
                    ends_on = plan.starts_on
                plan = Plan(plan.starts_on, ends_on, plan.segments)
            if not isinstance(body.tick_by, msgspec.UnsetType):
                values["tick_by"] = body.tick_by
            values.update(
                plan=plan_text(rule, plan), ends_on=ends_on, status=status, updated_at=now
            )
            await store.update_task(conn, task_id, **values)
            await self.audit.record(
                conn, "homework.task_updated", org_id=principal.org_id, actor=principal,
                target_type="homework_task", target_id=task_id,
                details={"fields": sorted(f for f in body.__struct_fields__
                                          if getattr(body, f) is not msgspec.UNSET)},
                address=address, case_ids=[row.case_id],
            )  # fmt: skip
            fresh = await store.get_task(conn, task_id)
            assert fresh is not None
            audience = await self._audience(conn, row.case_id, EVERYONE)
            await announcement.live(conn, audience, ev.HOMEWORK_CHANGED, _ids(task_id, row.case_id))
        await announcement.send()
        return self._out(TaskRow(fresh))

    # ticks

    async def tick(
        self, principal: Principal, task_id: UUID, day: date, body: TickIn
    ) -> tuple[TickOut, bool]:
        now = self.clock()
        today = local_date(now)
        if body.client_time > now + CLOCK_SKEW or day > local_date(body.client_time):
            raise InvalidInput("A task cannot be ticked for a day that has not come yet",
                               code="tick_in_future")  # fmt: skip
        if day < today - timedelta(days=LATE_TICK_DAYS):
            raise InvalidInput(f"Ticks older than {LATE_TICK_DAYS} days are not accepted",
                               code="tick_too_old")  # fmt: skip
        announcement = self.fanout.begin(principal.device_id)
        async with self.db.transaction() as conn:
            task, membership = await self._task(conn, principal, task_id)
            self._check_ticker(membership, task.row.tick_by)
            membership.require_open()
            if body.note_event_id is not None:
                await _check_content(
                    self.rooms, conn, principal, task.case_id, body.note_event_id, "note"
                )
            if not active_on(task.plan, day):
                raise Conflict("The task is not active on that day", code="task_not_active")
            if not tickable_on(task.plan, day):
                raise Conflict("The task is not due on that day", code="task_not_due")
            inserted = await store.insert_tick(
                conn,
                task_id=task_id,
                day=day,
                case_id=task.case_id,
                user_id=principal.user_id,
                device_id=principal.device_id,
                client_time=body.client_time,
                received_at=now,
                note_event_id=body.note_event_id,
            )
            row = await store.get_tick(conn, task_id, day)
            assert row is not None
            if inserted:
                audience = await self._audience(conn, task.case_id, EVERYONE)
                ids = _ids(task_id, task.case_id, day)
                await announcement.live(conn, audience, ev.HOMEWORK_TICKED, ids)
        await announcement.send()
        return tick_out(row), inserted

    def _check_ticker(self, membership: Membership, tick_by: str) -> None:
        if not may_tick(membership.role, tick_by):
            who = {
                "child": "the child",
                "guardian": "a guardian",
                "both": "the child or a guardian",
            }
            raise Forbidden(f"This task is ticked by {who[tick_by]}", code="not_your_tick")

    async def undo(self, principal: Principal, task_id: UUID, day: date) -> None:
        now = self.clock()
        announcement = self.fanout.begin(principal.device_id)
        async with self.db.transaction() as conn:
            task, membership = await self._task(conn, principal, task_id)
            self._check_ticker(membership, task.row.tick_by)
            membership.require_open()
            row = await store.get_tick(conn, task_id, day)
            if row is None:
                return  # a retried undo
            if local_date(row.received_at) != local_date(now):
                raise Conflict("A tick can be undone only on the day it was made",
                               code="undo_too_late")  # fmt: skip
            await store.delete_tick(conn, task_id, day)
            audience = await self._audience(conn, task.case_id, EVERYONE)
            ids = _ids(task_id, task.case_id, day)
            await announcement.live(conn, audience, ev.HOMEWORK_UNTICKED, ids)
        await announcement.send()

    async def ticks(
        self, principal: Principal, task_id: UUID, first: date | None, last: date | None
    ) -> list[TickOut]:
        async with self.db.read() as conn:
            task, _ = await self._task(conn, principal, task_id)
            rows = await store.ticks(conn, [task_id], first, last)
        await self.cases.note_read(principal, task.row.case_id, "homework")
        return [tick_out(r) for r in rows]

    # progress

    async def progress(self, principal: Principal, case_id: UUID, weeks: int) -> ProgressOut:
        if not 1 <= weeks <= MAX_PROGRESS_WEEKS:
            raise InvalidInput(f"weeks is 1 to {MAX_PROGRESS_WEEKS}", code="weeks_out_of_range")
        now = self.clock()
        today = local_date(now)
        async with self.db.read() as conn:
            await self._case(conn, principal, case_id)
            tasks = await tasks_with_sick_days(conn, [case_id])
            days = await store.tick_days(conn, [t.id for t in tasks])
            last = await self.sessions.last_session_before(conn, case_id, now)
        await self.cases.note_read(principal, case_id, "homework")
        per_task = [prog.task_progress(t.plan, days[t.id], today, weeks) for t in tasks]
        if last is not None:
            since = min(local_date(last) + timedelta(days=1), today)
        else:
            since = min([today, *(t.plan.starts_on for t in tasks)])
        expected, done, by_task = prog.summary({t.id: t.plan for t in tasks}, days, since, today)
        all_days = {d for ds in days.values() for d in ds}
        return ProgressOut(
            case_id=case_id,
            today=today,
            tasks=[
                TaskProgressOut(
                    task_id=t.id,
                    status=t.row.status,
                    weeks=[week_out(w) for w in p.weeks],
                    streak=p.streak,
                    streak_unit=p.streak_unit,
                    expected=p.expected,
                    done=p.done,
                )
                for t, p in zip(tasks, per_task, strict=True)
            ],
            weeks=[week_out(w) for w in prog.case_weeks(per_task)]
            if per_task
            else no_weeks(today, weeks),
            streak=prog.case_streak([t.plan for t in tasks], all_days, today),
            summary=SummaryOut(
                since=since,
                until=today,
                expected=expected,
                done=done,
                tasks=[
                    SummaryTaskOut(task_id=t, expected=e, done=d) for t, (e, d) in by_task.items()
                ],
            ),
        )

    async def today_view(self, principal: Principal) -> TodayOut:
        """The tasks due today in every case of the caller who is family (the child, a
        guardian, a caregiver with the ``homework`` grant), and whether each is done."""
        today = self.today()
        async with self.db.read() as conn:
            memberships = [
                m
                for m in await self.cases.memberships(conn, principal)
                if m.role != "therapist"
                and (m.role != "caregiver" or "homework" in (m.scopes or []))
            ]
            roles = {m.case_id: m.role for m in memberships}
            tasks = await tasks_with_sick_days(conn, list(roles), "active")
            # today's view needs this week's ticks only
            days = await store.tick_days(conn, [t.id for t in tasks], week_start(today))
        items: list[TodayTaskOut] = []
        for t in tasks:
            status = prog.today_status(t.plan, days[t.id], today)
            if status is None:
                continue
            items.append(
                TodayTaskOut(
                    task_id=t.id,
                    case_id=t.case_id,
                    room_id=self.rooms.content_room(t.case_id, "homework"),
                    content_event_id=t.row.content_event_id,
                    done=status.done,
                    may_tick=may_tick(roles[t.case_id], t.row.tick_by),
                    week_done=status.week_done,
                    week_target=status.week_target,
                )
            )
        return TodayOut(day=today, tasks=items)

    # the daily reminder

    async def reminder(self, principal: Principal, case_id: UUID) -> ReminderOut:
        async with self.db.read() as conn:
            await self._case(conn, principal, case_id)
            row = await store.get_reminder(conn, case_id)
        return ReminderOut(case_id=case_id, time=hhmm(row.minute) if row else None)

    async def set_reminder(
        self, principal: Principal, case_id: UUID, body: ReminderIn, address: str
    ) -> ReminderOut:
        minute = minute_of_day(body.time) if body.time is not None else None
        async with self.db.transaction() as conn:
            (await self._case(conn, principal, case_id)).require("guardian").require_open()
            if minute is not None and await self.quiet.in_quiet_hours(conn, case_id, minute):
                raise InvalidInput("The reminder falls in the child's quiet hours: choose "
                                   "another time", code="reminder_in_quiet_hours")  # fmt: skip
            await store.set_reminder(conn, case_id, minute, principal.user_id, self.clock())
            await self.audit.record(
                conn, "homework.reminder_set", org_id=principal.org_id, actor=principal,
                target_type="case", target_id=case_id, details={"time": body.time},
                address=address,
            )  # fmt: skip
        return ReminderOut(case_id=case_id, time=body.time)


async def tasks_with_sick_days(
    conn: AsyncConnection, case_ids: list[UUID], status: str | None = None
) -> list[TaskRow]:
    """The cases' tasks, each plan with its case's sick days (what progress, today and
    the reminder judge by)."""
    rows = await store.tasks_of_cases(conn, case_ids, status)
    sick = await store.sick_days(conn, {r.case_id for r in rows})
    return [TaskRow(r, sick[r.case_id]) for r in rows]


def _ids(task_id: UUID, case_id: UUID, day: date | None = None) -> dict[str, str | UUID]:
    """The ids of a homework event (docs/realtime.md)."""
    ids: dict[str, str | UUID] = {"taskId": task_id, "caseId": case_id}
    if day is not None:
        ids["day"] = day.isoformat()
    return ids
