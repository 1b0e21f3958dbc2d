"""Homework's answer shapes: a task row decoded, and the wire Structs built from rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import msgspec

from app.core.errors import InvalidInput
from app.homework import progress as prog
from app.homework.schedule import (
    Plan,
    Rule,
    plan_from_json,
    plan_to_json,
    rule_from_json,
    rule_to_json,
    validate_rule,
    week_start,
)
from app.homework.schemas import (
    ScheduleIn,
    ScheduleOut,
    SegmentOut,
    TaskOut,
    TickOut,
    WeekOut,
)

_encoder = msgspec.json.Encoder()
_dict_decoder = msgspec.json.Decoder(dict[str, Any])


def rule_of(body: ScheduleIn) -> Rule:
    try:
        return validate_rule(body.kind, body.weekdays, body.times_per_week)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="schedule_invalid") from None


def schedule_out(rule: Rule | None) -> ScheduleOut | None:
    if rule is None:
        return None
    return ScheduleOut(
        kind=rule.kind,
        weekdays=sorted(rule.weekdays),
        times_per_week=rule.times_per_week or None,
    )


class TaskRow:
    """A task row with its plan and current rule decoded."""

    def __init__(self, row: Any, rest_days: frozenset[date] = frozenset()) -> None:
        self.row = row
        stored = _dict_decoder.decode(row.plan)
        self.rule = rule_from_json(stored["rule"])
        plan = plan_from_json(stored["plan"])
        #: the plan with the case's sick days (never stored with it)
        self.plan: Plan = replace(plan, rest_days=rest_days) if rest_days else plan

    @property
    def id(self) -> UUID:
        task_id: UUID = self.row.id
        return task_id

    @property
    def case_id(self) -> UUID:
        case_id: UUID = self.row.case_id
        return case_id


def plan_text(rule: Rule, plan: Plan) -> str:
    return _encoder.encode({"rule": rule_to_json(rule), "plan": plan_to_json(plan)}).decode()


def task_out(task: TaskRow, room_id: str) -> TaskOut:
    """The task on the wire; ``room_id``: the case's homework room."""
    row = task.row
    return TaskOut(
        id=row.id,
        case_id=row.case_id,
        room_id=room_id,
        content_event_id=row.content_event_id,
        content_version=row.content_version,
        schedule=schedule_out(task.rule),
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        tick_by=row.tick_by,
        status=row.status,
        segments=[
            SegmentOut(starts_on=s.starts_on, schedule=schedule_out(s.rule))
            for s in task.plan.segments
        ],
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def tick_out(row: Any) -> TickOut:
    return TickOut(
        task_id=row.task_id,
        day=row.day,
        user_id=row.user_id,
        device_id=row.device_id,
        client_time=row.client_time,
        received_at=row.received_at,
        note_event_id=row.note_event_id,
    )


def no_weeks(today: date, weeks: int) -> list[WeekOut]:
    monday = week_start(today)
    return [
        WeekOut(week_start=monday - timedelta(weeks=weeks - 1 - i), expected=0, done=0)
        for i in range(weeks)
    ]


def week_out(w: prog.WeekCount) -> WeekOut:
    return WeekOut(week_start=w.week_start, expected=w.expected, done=w.done)
