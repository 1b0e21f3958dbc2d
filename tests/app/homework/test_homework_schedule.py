"""Homework schedules: rules, segments, week boundaries, expectations, JSON (pure)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from app.core.time import local_date
from app.homework.schedule import (
    Plan,
    Rule,
    Segment,
    active_on,
    due_on,
    expected_between,
    plan_from_json,
    plan_to_json,
    rule_from_json,
    rule_on,
    rule_to_json,
    tickable_on,
    validate_rule,
    week_start,
    with_change,
)

DAILY = Rule("daily")
ONCE = Rule("once")
MON_WED_FRI = Rule("weekly", frozenset({1, 3, 5}))


def jun(day: int) -> date:
    """A day of June 2026: Mondays are the 1st, 8th, 15th, 22nd and 29th."""
    return date(2026, 6, day)


def plan(rule: Rule | None, start: date, end: date | None = None) -> Plan:
    return Plan(start, end, (Segment(start, rule),))


def per_week(n: int) -> Rule:
    return Rule("perWeek", times_per_week=n)


# -- weeks and the local calendar -------------------------------------------------------


def test_week_start_is_the_iso_monday() -> None:
    assert week_start(jun(1)) == jun(1)
    assert week_start(jun(7)) == jun(1)  # Sunday
    assert week_start(jun(8)) == jun(8)
    assert week_start(jun(10)) == jun(8)
    assert week_start(date(2026, 1, 1)) == date(2025, 12, 29)  # across the year


@pytest.mark.parametrize(
    ("sunday_utc", "monday_utc", "sunday", "monday"),
    [
        # Autumn: 2026-10-25 04:00 EEST -> 03:00 EET; Monday 00:00 local is 22:00Z.
        ("2026-10-25T21:59:00", "2026-10-25T22:01:00", date(2026, 10, 25), date(2026, 10, 26)),
        # The Monday that opens that week is still in summer time (UTC+3): 21:00Z.
        ("2026-10-18T20:59:00", "2026-10-18T21:01:00", date(2026, 10, 18), date(2026, 10, 19)),
        # Spring: 2026-03-29 03:00 EET -> 04:00 EEST; Monday 00:00 local is 21:00Z.
        ("2026-03-29T20:59:00", "2026-03-29T21:01:00", date(2026, 3, 29), date(2026, 3, 30)),
        # The Monday that opens that week is still in winter time (UTC+2): 22:00Z.
        ("2026-03-22T21:59:00", "2026-03-22T22:01:00", date(2026, 3, 22), date(2026, 3, 23)),
    ],
)
def test_week_boundaries_follow_helsinki_across_dst(
    sunday_utc: str, monday_utc: str, sunday: date, monday: date
) -> None:
    before = local_date(datetime.fromisoformat(sunday_utc).replace(tzinfo=UTC))
    after = local_date(datetime.fromisoformat(monday_utc).replace(tzinfo=UTC))
    assert (before, after) == (sunday, monday)
    assert before.isoweekday() == 7
    assert after.isoweekday() == 1
    assert week_start(before) == date.fromordinal(monday.toordinal() - 7)
    assert week_start(after) == monday
    # A Sunday-only task is due on the first instant's local day, not on the second's.
    sundays = plan(Rule("weekly", frozenset({7})), date(2026, 1, 1))
    assert due_on(sundays, before)
    assert not due_on(sundays, after)


def test_dst_weeks_still_hold_seven_days() -> None:
    # The week of 2026-10-19 has 169 hours, the week of 2026-03-23 has 167: seven days each.
    for monday in (date(2026, 10, 19), date(2026, 3, 23)):
        sunday = date.fromordinal(monday.toordinal() + 6)
        assert expected_between(plan(DAILY, date(2026, 1, 1)), monday, sunday) == 7
        assert expected_between(plan(per_week(3), date(2026, 1, 1)), monday, sunday) == 3
        assert expected_between(plan(MON_WED_FRI, date(2026, 1, 1)), monday, sunday) == 3


# -- kinds and bounds -------------------------------------------------------------------


def test_rule_on_respects_start_and_end() -> None:
    p = plan(DAILY, jun(3), jun(10))
    assert rule_on(p, jun(2)) is None
    assert rule_on(p, jun(3)) == DAILY
    assert rule_on(p, jun(10)) == DAILY
    assert rule_on(p, jun(11)) is None
    assert [active_on(p, jun(d)) for d in (2, 3, 10, 11)] == [False, True, True, False]
    assert expected_between(p, jun(1), jun(30)) == 8  # 3rd..10th
    assert expected_between(p, jun(5), jun(6)) == 2
    assert expected_between(p, jun(11), jun(30)) == 0
    assert expected_between(p, jun(6), jun(5)) == 0  # an empty range


def test_once_is_due_on_the_start_day_only() -> None:
    p = plan(ONCE, jun(3), jun(3))
    assert [due_on(p, jun(d)) for d in (2, 3, 4)] == [False, True, False]
    assert [tickable_on(p, jun(d)) for d in (2, 3, 4)] == [False, True, False]
    assert expected_between(p, jun(1), jun(30)) == 1
    assert expected_between(p, jun(4), jun(30)) == 0
    # Open-ended once: still one occurrence, though active afterwards.
    open_once = plan(ONCE, jun(3))
    assert active_on(open_once, jun(20))
    assert not due_on(open_once, jun(20))
    assert expected_between(open_once, jun(1), jun(30)) == 1


def test_weekly_on_given_weekdays() -> None:
    p = plan(MON_WED_FRI, jun(1))
    due = [d for d in range(1, 8) if due_on(p, jun(d))]
    assert due == [1, 3, 5]
    assert not tickable_on(p, jun(2))
    assert tickable_on(p, jun(3))
    assert expected_between(p, jun(1), jun(14)) == 6
    assert expected_between(p, jun(2), jun(4)) == 1  # Wednesday only
    # Starting on a Thursday: only Friday remains in the first week.
    late = plan(MON_WED_FRI, jun(4))
    assert expected_between(late, jun(1), jun(7)) == 1
    assert expected_between(late, jun(1), jun(14)) == 4


def test_daily_counts_every_active_day() -> None:
    p = plan(DAILY, jun(1))
    assert expected_between(p, jun(1), jun(30)) == 30
    assert all(due_on(p, jun(d)) for d in range(1, 31))


def test_per_week_is_never_due_but_tickable_on_active_days() -> None:
    p = plan(per_week(3), jun(1), jun(14))
    assert not any(due_on(p, jun(d)) for d in range(1, 31))
    assert all(tickable_on(p, jun(d)) for d in range(1, 15))
    assert not tickable_on(p, jun(15))
    assert expected_between(p, jun(1), jun(7)) == 3
    assert expected_between(p, jun(1), jun(30)) == 6  # ends after two weeks
    assert expected_between(p, jun(1), jun(2)) == 2  # only two days of the week in range
    assert expected_between(p, jun(7), jun(8)) == 2  # a Sunday and the next Monday
    assert expected_between(p, jun(3), jun(10)) == 6  # 5 days -> 3, plus 3 days -> 3


@pytest.mark.parametrize(
    ("start", "expected"),
    [(jun(1), 3), (jun(5), 3), (jun(6), 2), (jun(7), 1)],  # Mon, Fri, Sat, Sun
)
def test_per_week_starting_mid_week(start: date, expected: int) -> None:
    p = plan(per_week(3), start)
    assert expected_between(p, jun(1), jun(7)) == expected
    assert expected_between(p, jun(8), jun(14)) == 3


def test_per_week_paused_mid_week() -> None:
    base = plan(per_week(3), jun(1))
    # Paused from Thursday: Mon-Wed (3 days) still allow 3.
    assert expected_between(with_change(base, jun(4), None), jun(1), jun(7)) == 3
    # Paused from Wednesday: only Mon-Tue remain, so 2.
    paused = with_change(base, jun(3), None)
    assert expected_between(paused, jun(1), jun(7)) == 2
    assert not tickable_on(paused, jun(3))
    assert expected_between(paused, jun(8), jun(14)) == 0
    # Paused Tuesday, resumed Sunday: Monday and Sunday, so 2.
    resumed = with_change(with_change(base, jun(2), None), jun(7), per_week(3))
    assert expected_between(resumed, jun(1), jun(7)) == 2
    assert expected_between(resumed, jun(8), jun(14)) == 3


def test_per_week_n_changed_mid_week_uses_the_latest_n() -> None:
    base = plan(per_week(3), jun(1))
    assert expected_between(with_change(base, jun(4), per_week(1)), jun(1), jun(7)) == 1
    assert expected_between(with_change(base, jun(4), per_week(5)), jun(1), jun(7)) == 5
    # Within a part of the week: Mon-Wed under N=3 alone still counts 3.
    assert expected_between(with_change(base, jun(4), per_week(1)), jun(1), jun(3)) == 3


def test_mixed_week_adds_due_days_and_per_week_part() -> None:
    # Daily Mon-Wed, then 2 a week from Thursday: 3 due days + min(2, 4 days).
    p = with_change(plan(DAILY, jun(1)), jun(4), per_week(2))
    assert expected_between(p, jun(1), jun(7)) == 5
    assert due_on(p, jun(3))
    assert not due_on(p, jun(4))
    assert tickable_on(p, jun(4))


# -- segments ---------------------------------------------------------------------------


def test_change_before_or_on_the_start_replaces_everything() -> None:
    p = plan(DAILY, jun(10))
    for today in (jun(1), jun(10)):
        changed = with_change(p, today, MON_WED_FRI)
        assert changed.segments == (Segment(jun(10), MON_WED_FRI),)
        assert changed.starts_on == jun(10)
        assert changed.ends_on is None


def test_change_after_the_start_appends_a_segment() -> None:
    p = with_change(plan(DAILY, jun(1), jun(30)), jun(10), MON_WED_FRI)
    assert p.segments == (Segment(jun(1), DAILY), Segment(jun(10), MON_WED_FRI))
    assert p.ends_on == jun(30)
    # A second change on the same day replaces the first one.
    again = with_change(p, jun(10), per_week(2))
    assert again.segments == (Segment(jun(1), DAILY), Segment(jun(10), per_week(2)))
    # Changing back to the rule in force before today removes today's segment.
    assert with_change(p, jun(10), DAILY).segments == (Segment(jun(1), DAILY),)
    # An edit that changes nothing adds nothing.
    assert with_change(p, jun(12), MON_WED_FRI) == p


def test_edits_keep_past_weeks_expectation() -> None:
    p = plan(DAILY, jun(1))
    edited = with_change(p, jun(10), MON_WED_FRI)  # a Wednesday
    assert expected_between(edited, jun(1), jun(7)) == 7  # the past week as it was
    assert expected_between(edited, jun(8), jun(14)) == 2 + 2  # Mon, Tue daily; Wed, Fri
    assert expected_between(edited, jun(15), jun(21)) == 3


def test_pause_resume_finish() -> None:
    p = plan(MON_WED_FRI, jun(1))
    paused = with_change(p, jun(8), None)
    assert not active_on(paused, jun(8))
    assert not due_on(paused, jun(8))
    assert not tickable_on(paused, jun(10))
    assert expected_between(paused, jun(1), jun(21)) == 3
    resumed = with_change(paused, jun(15), MON_WED_FRI)
    assert resumed.segments == (
        Segment(jun(1), MON_WED_FRI),
        Segment(jun(8), None),
        Segment(jun(15), MON_WED_FRI),
    )
    assert expected_between(resumed, jun(1), jun(21)) == 6
    assert due_on(resumed, jun(15))
    finished = with_change(resumed, jun(17), None)
    assert expected_between(finished, jun(1), jun(30)) == 4  # 3 + Mon 15th
    assert not active_on(finished, jun(17))


def test_plan_invariants() -> None:
    with pytest.raises(ValueError, match="at least one segment"):
        Plan(jun(1), None, ())
    with pytest.raises(ValueError, match="on or before"):
        Plan(jun(1), None, (Segment(jun(2), DAILY),))
    with pytest.raises(ValueError, match="sorted"):
        Plan(jun(1), None, (Segment(jun(1), DAILY), Segment(jun(1), None)))
    with pytest.raises(ValueError, match="endsOn"):
        Plan(jun(5), jun(4), (Segment(jun(5), DAILY),))


# -- validation -------------------------------------------------------------------------


def test_validate_rule_accepts_good_rules() -> None:
    assert validate_rule("once", None, None) == ONCE
    assert validate_rule("daily", [], 0) == DAILY
    assert validate_rule("weekly", [5, 1, 3], None) == MON_WED_FRI
    assert validate_rule("weekly", range(1, 8), None).weekdays == frozenset(range(1, 8))
    assert validate_rule("perWeek", None, 7) == per_week(7)


@pytest.mark.parametrize(
    ("kind", "weekdays", "times", "message"),
    [
        ("monthly", None, None, "kind must be one of once, daily, weekly, perWeek"),
        ("weekly", None, None, "weekly schedule needs weekdays"),
        ("weekly", [], None, "weekly schedule needs weekdays"),
        ("weekly", [0, 2], None, r"between 1 \(Monday\) and 7 \(Sunday\)"),
        ("weekly", [8], None, r"between 1 \(Monday\) and 7 \(Sunday\)"),
        ("weekly", [1, 1], None, "must not repeat"),
        ("weekly", [1], 2, "timesPerWeek is only for perWeek"),
        ("perWeek", None, None, "needs timesPerWeek"),
        ("perWeek", None, 0, "between 1 and 7"),
        ("perWeek", None, 8, "between 1 and 7"),
        ("perWeek", [1], 3, "weekdays are only for weekly"),
        ("daily", [1], None, "weekdays are only for weekly"),
        ("once", None, 1, "timesPerWeek is only for perWeek"),
    ],
)
def test_validate_rule_refuses_bad_combinations(
    kind: str, weekdays: list[int] | None, times: int | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        validate_rule(kind, weekdays, times)


def test_rule_constructor_validates_too() -> None:
    with pytest.raises(ValueError, match="weekly schedule needs weekdays"):
        Rule("weekly")
    with pytest.raises(ValueError, match="between 1 and 7"):
        Rule("perWeek")


# -- JSON -------------------------------------------------------------------------------


def test_plan_json_shape_and_round_trip() -> None:
    p = with_change(
        with_change(plan(MON_WED_FRI, jun(1), jun(30)), jun(8), None), jun(15), per_week(2)
    )
    data = plan_to_json(p)
    assert data == {
        "startsOn": "2026-06-01",
        "endsOn": "2026-06-30",
        "segments": [
            {"startsOn": "2026-06-01", "rule": {"kind": "weekly", "weekdays": [1, 3, 5]}},
            {"startsOn": "2026-06-08", "rule": None},
            {"startsOn": "2026-06-15", "rule": {"kind": "perWeek", "timesPerWeek": 2}},
        ],
    }
    assert plan_from_json(json.loads(json.dumps(data))) == p
    open_ended = plan(DAILY, jun(1))
    assert plan_to_json(open_ended)["endsOn"] is None
    assert plan_from_json(plan_to_json(open_ended)) == open_ended


def test_rule_json_accepts_absent_and_null_fields() -> None:
    assert rule_to_json(ONCE) == {"kind": "once"}
    assert rule_from_json({"kind": "daily", "weekdays": None, "timesPerWeek": None}) == DAILY
    assert rule_from_json({"kind": "weekly", "weekdays": [3, 1, 5], "timesPerWeek": 0}) == (
        MON_WED_FRI
    )
    with pytest.raises(ValueError, match="needs timesPerWeek"):
        rule_from_json({"kind": "perWeek"})


def test_plan_from_json_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="sorted"):
        plan_from_json(
            {
                "startsOn": "2026-06-01",
                "endsOn": None,
                "segments": [
                    {"startsOn": "2026-06-01", "rule": {"kind": "daily"}},
                    {"startsOn": "2026-06-01", "rule": None},
                ],
            }
        )
    with pytest.raises(ValueError, match="Invalid isoformat"):
        plan_from_json({"startsOn": "June 1st", "segments": []})
