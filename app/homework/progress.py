"""Homework progress: expected and done per week, streaks, summary, the child's today.

Pure functions of a task's :class:`~app.homework.schedule.Plan`, its ticks (the local
days ticked) and today's local date (docs/homework.md, "Progress"). ``done`` counts every
tick in the range, even one on a day that was paused later; it is not capped at
``expected`` (a perWeek task may be ticked on more days than N).
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, TypeVar

from app.homework.schedule import (
    Plan,
    Rule,
    due_on,
    expected_between,
    rule_on,
    week_start,
)

K = TypeVar("K", bound=Hashable)
StreakUnit = Literal["times", "weeks"]
CASE_STREAK_DAYS = 400
"""How far back :func:`case_streak` walks."""

_WEEK = timedelta(days=7)
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class WeekCount:
    """Expected and done in the Monday-Sunday week starting ``week_start``."""

    week_start: date
    expected: int
    done: int


@dataclass(frozen=True, slots=True)
class TaskProgress:
    """One task's weeks (oldest first), streak, and expected/done summed over the weeks."""

    weeks: list[WeekCount]
    streak: int
    streak_unit: StreakUnit
    expected: int
    done: int


@dataclass(frozen=True, slots=True)
class TodayItem:
    """A task shown on the child's today; ``week_*`` only for perWeek tasks."""

    done: bool
    week_done: int | None
    week_target: int | None


def _ticks_between(ticks: Collection[date], first: date, last: date) -> int:
    return sum(1 for t in ticks if first <= t <= last)


def _as_set(ticks: Collection[date]) -> Collection[date]:
    return ticks if isinstance(ticks, set | frozenset) else frozenset(ticks)


def task_progress(plan: Plan, ticks: Collection[date], today: date, weeks: int) -> TaskProgress:
    """The ``weeks`` ISO weeks ending with today's week, oldest first.

    A week's ``expected`` is that of the whole week (days after today included), its
    ``done`` the ticks in it.
    """
    if weeks < 0:
        raise ValueError("weeks must not be negative")
    current = week_start(today)
    rows: list[WeekCount] = []
    for back in range(weeks - 1, -1, -1):
        monday = current - back * _WEEK
        sunday = monday + 6 * _DAY
        rows.append(
            WeekCount(
                monday,
                expected_between(plan, monday, sunday),
                _ticks_between(ticks, monday, sunday),
            )
        )
    streak, unit = task_streak(plan, ticks, today)
    return TaskProgress(
        rows, streak, unit, sum(w.expected for w in rows), sum(w.done for w in rows)
    )


def _reference_rule(plan: Plan, today: date) -> Rule | None:
    """The rule in force today, else the latest rule that started on or before today,
    else (a task that has not started) the first rule of the plan."""
    rule = rule_on(plan, today)
    if rule is not None:
        return rule
    started = [s.rule for s in plan.segments if s.starts_on <= today and s.rule is not None]
    if started:
        return started[-1]
    return next((s.rule for s in plan.segments if s.rule is not None), None)


def task_streak(plan: Plan, ticks: Collection[date], today: date) -> tuple[int, StreakUnit]:
    """The task's current streak, counted back from today.

    The family of the reference rule (in force today, else the latest one) decides how
    the whole history is judged, even when other kinds of rule occurred before:

    * once/daily/weekly, unit "times": consecutive due days done. Days not due (also
      paused, ended and perWeek days) are skipped; today not yet done is skipped, not a
      break; the first earlier due day not done ends the streak.
    * perWeek, unit "weeks": consecutive weeks whose ticks reached the week's
      ``expected_between`` (whatever rules made it). Weeks expecting nothing are
      skipped; the current week counts once met and is skipped until then; the first
      earlier week that fell short ends the streak.
    """
    reference = _reference_rule(plan, today)
    if reference is None or today < plan.starts_on:
        return 0, "weeks" if reference is not None and reference.kind == "perWeek" else "times"
    ticked = _as_set(ticks)
    count = 0
    if reference.kind == "perWeek":
        monday = week_start(today)
        while monday + 6 * _DAY >= plan.starts_on:
            sunday = monday + 6 * _DAY
            expected = expected_between(plan, monday, sunday)
            if expected > 0:
                if _ticks_between(ticked, monday, sunday) >= expected:
                    count += 1
                elif monday != week_start(today):
                    break
            monday -= _WEEK
        return count, "weeks"
    day = today
    while day >= plan.starts_on:
        if due_on(plan, day):
            if day in ticked:
                count += 1
            elif day != today:
                break
        day -= _DAY
    return count, "times"


def case_weeks(per_task: Sequence[TaskProgress]) -> list[WeekCount]:
    """The tasks' weeks summed per week, oldest first."""
    sums: dict[date, tuple[int, int]] = {}
    for task in per_task:
        for week in task.weeks:
            expected, done = sums.get(week.week_start, (0, 0))
            sums[week.week_start] = (expected + week.expected, done + week.done)
    return [WeekCount(monday, e, d) for monday, (e, d) in sorted(sums.items())]


def case_streak(plans: Sequence[Plan], ticks: Collection[date], today: date) -> int:
    """Consecutive days with at least one tick (of any of the case's tasks), back from
    today.

    A ticked day counts (today only once ticked; an unticked today is skipped). An
    unticked day on which nothing was due is skipped (a rest day of a weekly task, any
    day of an "N times a week" task, a pause); the first unticked day on which some
    task was due ends the streak. The walk stops before the earliest task start and
    after :data:`CASE_STREAK_DAYS` days.
    """
    if not plans:
        return 0
    ticked = _as_set(ticks)
    earliest = min(p.starts_on for p in plans)
    count = 0
    day = today
    for _ in range(CASE_STREAK_DAYS):
        if day < earliest:
            break
        if day in ticked:
            count += 1
        elif day != today and any(due_on(p, day) for p in plans):
            break
        day -= _DAY
    return count


def summary(
    plans: Mapping[K, Plan],
    ticks: Mapping[K, Collection[date]],
    since: date,
    until: date,
) -> tuple[int, int, dict[K, tuple[int, int]]]:
    """``(expected, done, {task: (expected, done)})`` over [since, until] inclusive.

    Every task of ``plans`` is listed (a task missing from ``ticks`` has none); ticks
    of tasks not in ``plans`` are ignored.
    """
    per_task: dict[K, tuple[int, int]] = {}
    for key, plan in plans.items():
        per_task[key] = (
            expected_between(plan, since, until),
            _ticks_between(ticks.get(key, ()), since, until),
        )
    return (
        sum(e for e, _ in per_task.values()),
        sum(d for _, d in per_task.values()),
        per_task,
    )


def today_status(plan: Plan, ticks: Collection[date], today: date) -> TodayItem | None:
    """The task on the child's today, or None when it is not shown.

    Shown when due today; a perWeek task active today is shown while the week's ticks
    are below its target, or when today is ticked (so a tick can still be seen and
    undone). ``week_target`` is ``expected_between`` of the whole current week.
    """
    done = today in ticks
    if due_on(plan, today):
        return TodayItem(done, None, None)
    if today in plan.rest_days and not done:
        return None  # a sick day: nothing to do
    rule = rule_on(plan, today)
    if rule is None or rule.kind != "perWeek":
        return None
    monday = week_start(today)
    target = expected_between(plan, monday, monday + 6 * _DAY)
    week_done = _ticks_between(ticks, monday, monday + 6 * _DAY)
    if week_done < target or done:
        return TodayItem(done, week_done, target)
    return None
