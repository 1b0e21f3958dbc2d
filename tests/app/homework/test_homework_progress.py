"""Homework progress: weeks, task and case streaks, summary, the child's today (pure)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.homework.progress import (
    CASE_STREAK_DAYS,
    TaskProgress,
    TodayItem,
    WeekCount,
    case_streak,
    case_weeks,
    summary,
    task_progress,
    task_streak,
    today_status,
)
from app.homework.schedule import Plan, Rule, Segment, with_change

DAILY = Rule("daily")
ONCE = Rule("once")
MON_WED_FRI = Rule("weekly", frozenset({1, 3, 5}))


def jun(day: int) -> date:
    """A day of June 2026: Mondays are the 1st, 8th, 15th, 22nd and 29th."""
    return date(2026, 6, day)


def days(*numbers: int) -> set[date]:
    return {jun(n) for n in numbers}


def plan(rule: Rule | None, start: date, end: date | None = None) -> Plan:
    return Plan(start, end, (Segment(start, rule),))


def per_week(n: int) -> Rule:
    return Rule("perWeek", times_per_week=n)


def paused(p: Plan, first: date, resumed_on: date | None = None) -> Plan:
    """``p`` paused from ``first``, resumed with its current rule on ``resumed_on``."""
    rule = p.segments[-1].rule
    out = with_change(p, first, None)
    return out if resumed_on is None else with_change(out, resumed_on, rule)


# -- weeks ------------------------------------------------------------------------------


def test_weekly_progress_over_three_weeks() -> None:
    p = plan(MON_WED_FRI, jun(1))
    progress = task_progress(p, days(1, 3, 5, 8, 12, 15, 17), jun(17), 3)
    assert progress == TaskProgress(
        weeks=[WeekCount(jun(1), 3, 3), WeekCount(jun(8), 3, 2), WeekCount(jun(15), 3, 2)],
        streak=3,  # 17, 15, 12; Wednesday 10th was missed
        streak_unit="times",
        expected=9,
        done=7,
    )


def test_weeks_before_the_start_expect_nothing() -> None:
    progress = task_progress(plan(DAILY, jun(3)), days(3, 4), jun(4), 2)
    assert progress.weeks == [WeekCount(date(2026, 5, 25), 0, 0), WeekCount(jun(1), 5, 2)]
    assert (progress.expected, progress.done) == (5, 2)
    assert task_progress(plan(DAILY, jun(3)), set(), jun(4), 0).weeks == []
    with pytest.raises(ValueError, match="negative"):
        task_progress(plan(DAILY, jun(3)), set(), jun(4), -1)


def test_current_week_expects_its_days_after_today() -> None:
    progress = task_progress(plan(DAILY, jun(1)), days(8, 9), jun(10), 1)
    assert progress.weeks == [WeekCount(jun(8), 7, 2)]
    assert (progress.streak, progress.streak_unit) == (2, "times")  # today not yet done


def test_per_week_started_mid_week_and_paused_mid_week() -> None:
    # 3 a week from Saturday the 6th, paused from Wednesday the 17th.
    p = paused(plan(per_week(3), jun(6)), jun(17))
    ticks = days(6, 7, 8, 9, 10, 11, 15, 16)
    progress = task_progress(p, ticks, jun(18), 3)
    assert progress.weeks == [
        WeekCount(jun(1), 2, 2),  # Saturday and Sunday only
        WeekCount(jun(8), 3, 4),  # done is not capped
        WeekCount(jun(15), 2, 2),  # Monday and Tuesday only
    ]
    assert (progress.expected, progress.done) == (7, 8)
    assert (progress.streak, progress.streak_unit) == (3, "weeks")


def test_ticks_on_a_day_paused_later_still_count_as_done() -> None:
    p = paused(plan(DAILY, jun(8)), jun(10))  # ticked on the 10th, then paused that day
    assert task_progress(p, days(8, 9, 10), jun(10), 1).weeks == [WeekCount(jun(8), 2, 3)]


def test_edit_keeps_the_past_weeks() -> None:
    p = with_change(plan(DAILY, jun(1)), jun(10), per_week(2))
    progress = task_progress(p, days(1, 2, 3, 4, 5, 6, 7, 8, 10, 16), jun(17), 3)
    assert progress.weeks == [
        WeekCount(jun(1), 7, 7),
        WeekCount(jun(8), 2 + 2, 2),  # Mon, Tue daily; then 2 of the 5 remaining days
        WeekCount(jun(15), 2, 1),
    ]
    # perWeek now: weeks. This week not met yet (skipped), last week fell short.
    assert (progress.streak, progress.streak_unit) == (0, "weeks")


# -- task streaks -----------------------------------------------------------------------


def test_daily_streak_with_a_gap() -> None:
    p = plan(DAILY, jun(1))
    ticks = days(1, 2, 3, 4, 5, 7, 8, 9)  # the 6th was missed
    assert task_streak(p, ticks, jun(10)) == (3, "times")  # today not yet done: skipped
    assert task_streak(p, ticks | days(10), jun(10)) == (4, "times")
    assert task_streak(p, ticks - days(9), jun(10)) == (0, "times")  # yesterday missed
    assert task_streak(p, days(10), jun(10)) == (1, "times")


def test_streak_stops_at_the_start() -> None:
    assert task_streak(plan(DAILY, jun(5)), days(5, 6, 7, 8, 9, 10), jun(10)) == (6, "times")
    assert task_streak(plan(DAILY, jun(5), jun(7)), days(5, 6, 7), jun(20)) == (3, "times")


def test_streak_skips_paused_days() -> None:
    p = paused(plan(DAILY, jun(1)), jun(5), jun(9))  # paused 5th-8th
    assert task_streak(p, days(1, 2, 3, 4, 9, 10, 11), jun(11)) == (7, "times")
    assert task_streak(p, days(1, 2, 3, 9, 10, 11), jun(11)) == (3, "times")


def test_finished_task_keeps_its_last_streak() -> None:
    p = paused(plan(DAILY, jun(1)), jun(6))
    assert task_streak(p, days(1, 2, 3, 4, 5), jun(10)) == (5, "times")


def test_weekly_streak_counts_due_days_only() -> None:
    p = plan(MON_WED_FRI, jun(1))
    assert task_streak(p, days(1, 5, 8, 10), jun(12)) == (3, "times")  # 10, 8, 5; 3 missed
    assert task_streak(p, days(1, 3, 5, 8, 10, 12), jun(12)) == (6, "times")
    assert task_streak(p, days(1, 3, 5, 8, 10), jun(13)) == (0, "times")  # Friday missed


def test_once_streak() -> None:
    p = plan(ONCE, jun(3), jun(3))
    assert task_streak(p, days(3), jun(10)) == (1, "times")
    assert task_streak(p, set(), jun(3)) == (0, "times")
    assert task_streak(p, set(), jun(4)) == (0, "times")


def test_per_week_streak_counts_weeks() -> None:
    p = plan(per_week(2), jun(1))
    ticks = days(1, 2, 9, 15, 17, 19, 22)  # met, short, met, current 1 of 2
    assert task_streak(p, ticks, jun(24)) == (1, "weeks")  # current week not yet met
    assert task_streak(p, ticks | days(23), jun(24)) == (2, "weeks")  # now met
    assert task_streak(p, ticks | days(10), jun(24)) == (3, "weeks")  # no short week


def test_per_week_streak_skips_a_paused_week() -> None:
    p = paused(plan(per_week(2), jun(1)), jun(8), jun(15))
    assert task_streak(p, days(1, 3, 15, 16), jun(17)) == (2, "weeks")
    assert task_streak(p, days(1, 15, 16), jun(17)) == (1, "weeks")


def test_streak_family_follows_the_rule_of_today() -> None:
    weekly_then_per_week = with_change(plan(MON_WED_FRI, jun(1)), jun(8), per_week(2))
    assert task_streak(weekly_then_per_week, days(1, 3, 5, 8), jun(10)) == (1, "weeks")
    per_week_then_daily = with_change(plan(per_week(2), jun(1)), jun(8), DAILY)
    # perWeek days are not due days: they neither count nor break a "times" streak.
    assert task_streak(per_week_then_daily, days(2, 8, 9), jun(9)) == (2, "times")


def test_streak_before_the_start() -> None:
    assert task_streak(plan(DAILY, jun(10)), set(), jun(5)) == (0, "times")
    assert task_streak(plan(per_week(2), jun(10)), set(), jun(5)) == (0, "weeks")


# -- the case ---------------------------------------------------------------------------


def test_case_weeks_sum_per_week() -> None:
    a = task_progress(plan(DAILY, jun(1)), days(1, 2, 8), jun(10), 2)
    b = task_progress(plan(per_week(3), jun(1)), days(3, 9, 10), jun(10), 2)
    assert case_weeks([a, b]) == [WeekCount(jun(1), 10, 3), WeekCount(jun(8), 10, 3)]
    assert case_weeks([]) == []


def test_case_streak_skips_days_on_which_nothing_was_due() -> None:
    plans = [plan(DAILY, jun(1), jun(5)), plan(MON_WED_FRI, jun(10))]
    ticks = days(3, 4, 5, 10, 11)
    assert case_streak(plans, ticks, jun(12)) == 5  # 11, 10, (9..6 idle), 5, 4, 3
    assert case_streak(plans, ticks | days(12), jun(12)) == 6
    # Thursday the 11th is a rest day of the weekly task: not ticking it breaks nothing
    assert case_streak(plans, ticks - days(11), jun(12)) == 4
    # Friday the 12th is due and unticked, but it is today: the walk starts at the 11th
    assert case_streak(plans, ticks, jun(13)) == 0  # Friday 12th was due, not ticked
    assert case_streak(plans, ticks - days(10), jun(11)) == 1  # Wednesday 10th missed


def test_case_streak_of_flexible_tasks_counts_the_days_practised() -> None:
    plans = [plan(per_week(3), jun(1))]
    assert case_streak(plans, days(1, 3, 5, 8), jun(9)) == 4  # no day was due
    assert case_streak([], days(1, 3), jun(9)) == 0


def test_case_streak_counts_a_ticked_day_later_paused() -> None:
    p = paused(plan(DAILY, jun(1)), jun(4), jun(6))
    assert case_streak([p], days(3, 4, 6, 7), jun(7)) == 4  # 5th idle; 2nd missed


def test_case_streak_is_bounded() -> None:
    start = date(2025, 1, 1)
    today = jun(10)
    every_day = {start + timedelta(days=i) for i in range((today - start).days + 1)}
    assert case_streak([plan(DAILY, start)], every_day, today) == CASE_STREAK_DAYS == 400
    # And it never counts before the earliest start.
    assert case_streak([plan(DAILY, jun(5))], every_day, today) == 6


# -- summary ----------------------------------------------------------------------------


def test_summary_over_a_range() -> None:
    plans = {"a": plan(DAILY, jun(1)), "b": plan(per_week(2), jun(1)), "c": plan(ONCE, jun(9))}
    ticks = {"a": days(1, 3, 11), "b": days(2, 9, 10), "x": days(3, 4)}
    expected, done, tasks = summary(plans, ticks, jun(3), jun(10))
    # a: 8 days, 1 tick; b: min(2, 5) + min(2, 3), 2 ticks; c: 1, none.
    assert tasks == {"a": (8, 1), "b": (4, 2), "c": (1, 0)}
    assert (expected, done) == (13, 3)
    assert summary({}, ticks, jun(3), jun(10)) == (0, 0, {})


# -- today ------------------------------------------------------------------------------


def test_today_for_day_scheduled_tasks() -> None:
    assert today_status(plan(DAILY, jun(1)), set(), jun(10)) == TodayItem(False, None, None)
    assert today_status(plan(DAILY, jun(1)), days(10), jun(10)) == TodayItem(True, None, None)
    assert today_status(plan(MON_WED_FRI, jun(1)), set(), jun(9)) is None  # a Tuesday
    assert today_status(plan(DAILY, jun(11)), set(), jun(10)) is None  # not started
    assert today_status(paused(plan(DAILY, jun(1)), jun(8)), set(), jun(10)) is None
    assert today_status(plan(ONCE, jun(10)), set(), jun(10)) == TodayItem(False, None, None)
    assert today_status(plan(ONCE, jun(10)), days(10), jun(11)) is None


def test_today_for_per_week_tasks() -> None:
    p = plan(per_week(3), jun(1))
    assert today_status(p, days(7, 8), jun(10)) == TodayItem(False, 1, 3)
    assert today_status(p, days(8, 9), jun(10)) == TodayItem(False, 2, 3)
    assert today_status(p, days(8, 9, 10), jun(10)) == TodayItem(True, 3, 3)  # ticked today
    assert today_status(plan(per_week(2), jun(1)), days(8, 9), jun(10)) is None  # week met
    # Starting on Saturday: only two days left, so the target is 2.
    assert today_status(plan(per_week(3), jun(6)), set(), jun(6)) == TodayItem(False, 0, 2)
    assert today_status(paused(p, jun(10)), days(8), jun(10)) is None
