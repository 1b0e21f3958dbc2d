"""Homework schedules: which local days a task is active, due and tickable.

Pure rules, no I/O. Days are local dates in Europe/Helsinki (a tick names its local
day, so a daylight-saving change never moves it into another week); weeks run Monday
to Sunday (ISO). A task's :class:`Plan` is its start day, optional end day and a list of
*segments*: every edit, pause, resume or finish starts a new segment effective that
day, so past weeks keep the rule they had (docs/homework.md, "Schedules").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Any, Literal, get_args

RuleKind = Literal["once", "daily", "weekly", "perWeek"]
KINDS: tuple[str, ...] = get_args(RuleKind)


def _check(kind: str, weekdays: frozenset[int], times_per_week: int) -> None:
    """Raise ValueError (a clear English message) for a bad rule."""
    if kind not in KINDS:
        raise ValueError("schedule kind must be one of once, daily, weekly, perWeek")
    if kind == "weekly":
        if not weekdays:
            raise ValueError("a weekly schedule needs weekdays (1 = Monday ... 7 = Sunday)")
        if any(isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 7 for d in weekdays):
            raise ValueError("weekdays must be between 1 (Monday) and 7 (Sunday)")
    elif weekdays:
        raise ValueError("weekdays are only for weekly schedules")
    if kind == "perWeek":
        if isinstance(times_per_week, bool) or not 1 <= times_per_week <= 7:
            raise ValueError("timesPerWeek of a perWeek schedule must be between 1 and 7")
    elif times_per_week:
        raise ValueError("timesPerWeek is only for perWeek schedules")


@dataclass(frozen=True, slots=True)
class Rule:
    """One schedule rule. Constructing an invalid one raises ValueError."""

    kind: RuleKind
    weekdays: frozenset[int] = frozenset()  # ISO 1=Mon..7=Sun, only for weekly (non-empty)
    times_per_week: int = 0  # 1..7, only for perWeek

    def __post_init__(self) -> None:
        _check(self.kind, self.weekdays, self.times_per_week)


@dataclass(frozen=True, slots=True)
class Segment:
    """From ``starts_on`` on (until the next segment), ``rule`` is in force."""

    starts_on: date
    rule: Rule | None  # None = paused or finished from starts_on on


@dataclass(frozen=True, slots=True)
class Plan:
    """A task's schedule over time. Constructing an inconsistent one raises ValueError."""

    starts_on: date  # first day of the task
    ends_on: date | None  # last day (inclusive) or open-ended
    segments: tuple[Segment, ...]  # sorted by starts_on; the first starts on or before starts_on
    #: the case's sick days: nothing is due or expected on them, a tick still counts
    #: (not stored with the plan; the service adds them when it reads the task)
    rest_days: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.segments:
            raise ValueError("a plan needs at least one segment")
        if self.segments[0].starts_on > self.starts_on:
            raise ValueError("the first segment must start on or before the plan's start")
        if any(a.starts_on >= b.starts_on for a, b in pairwise(self.segments)):
            raise ValueError("segments must be sorted by their start, one per day")
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError("endsOn must not be before startsOn")


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.isoweekday() - 1)


def rule_on(plan: Plan, day: date) -> Rule | None:
    """The rule in force on ``day``; None outside [starts_on, ends_on] or when paused."""
    if day < plan.starts_on or (plan.ends_on is not None and day > plan.ends_on):
        return None
    found: Rule | None = None
    for segment in plan.segments:
        if segment.starts_on > day:
            break
        found = segment.rule
    return found


def active_on(plan: Plan, day: date) -> bool:
    """Whether the task runs on ``day`` (started, not ended, not paused)."""
    return rule_on(plan, day) is not None


def _due(plan: Plan, rule: Rule | None, day: date) -> bool:
    return day not in plan.rest_days and _scheduled(plan, rule, day)


def _scheduled(plan: Plan, rule: Rule | None, day: date) -> bool:
    if rule is None:
        return False
    if rule.kind == "once":
        return day == plan.starts_on
    if rule.kind == "daily":
        return True
    if rule.kind == "weekly":
        return day.isoweekday() in rule.weekdays
    return False  # perWeek: no particular day is due


def due_on(plan: Plan, day: date) -> bool:
    """Whether ``day`` holds a day-scheduled occurrence (never for perWeek).

    ``once`` is due on the plan's start day only (when that day is active): a rule
    changed to ``once`` after the start therefore expects nothing more.
    """
    return _due(plan, rule_on(plan, day), day)


def tickable_on(plan: Plan, day: date) -> bool:
    """Whether a tick may name ``day``: a due day, or any active perWeek day (a sick
    day included: a child who practised anyway gets the tick)."""
    rule = rule_on(plan, day)
    return _scheduled(plan, rule, day) or (rule is not None and rule.kind == "perWeek")


def expected_between(plan: Plan, first: date, last: date) -> int:
    """Occurrences expected in [first, last] (inclusive).

    Day-scheduled rules count their due days. perWeek counts, for each Monday-Sunday
    week overlapping the range, ``min(N, active perWeek days of that week in the
    range)``; when N changes mid-week, the N of the week's last active perWeek day in
    the range is used (the latest decision about that week wins). A week mixing
    day-scheduled and perWeek days adds both parts. A sick day counts as neither.
    """
    lo = max(first, plan.starts_on)
    hi = last if plan.ends_on is None else min(last, plan.ends_on)
    total = 0
    per_week: dict[date, tuple[int, int]] = {}  # Monday -> (active perWeek days, last N)
    day = lo
    while day <= hi:
        rule = None if day in plan.rest_days else rule_on(plan, day)
        if rule is not None and rule.kind == "perWeek":
            days, _ = per_week.get(week_start(day), (0, 0))
            per_week[week_start(day)] = (days + 1, rule.times_per_week)
        elif _due(plan, rule, day):
            total += 1
        day += timedelta(days=1)
    return total + sum(min(days, n) for days, n in per_week.values())


def with_change(plan: Plan, today: date, rule: Rule | None) -> Plan:
    """The plan with ``rule`` in force from ``today`` on (an edit, pause, resume, finish).

    Before or on the start day the new rule replaces every segment (from the start
    day). Otherwise segments starting on or after today are dropped and a new one is
    appended; if the segment still in force already has ``rule``, nothing is appended
    (an edit that changes nothing, or a second change on one day that undoes the first).
    """
    if today <= plan.starts_on:
        return Plan(plan.starts_on, plan.ends_on, (Segment(plan.starts_on, rule),))
    kept = tuple(s for s in plan.segments if s.starts_on < today)
    if kept[-1].rule != rule:
        kept += (Segment(today, rule),)
    return Plan(plan.starts_on, plan.ends_on, kept)


def validate_rule(
    kind: str, weekdays: Iterable[int] | None = None, times_per_week: int | None = None
) -> Rule:
    """A :class:`Rule` from wire fields; raises ValueError with a clear English message.

    Absent fields are None (an empty ``weekdays`` list and a ``times_per_week`` of 0
    count as absent too); repeated weekdays are refused.
    """
    if kind not in KINDS:
        raise ValueError("schedule kind must be one of once, daily, weekly, perWeek")
    days = list(weekdays or ())
    if len(set(days)) != len(days):
        raise ValueError("weekdays must not repeat")
    if kind == "perWeek" and times_per_week is None:
        raise ValueError("a perWeek schedule needs timesPerWeek (1 to 7)")
    rule_kind: RuleKind = kind  # type: ignore[assignment]  # checked just above
    return Rule(rule_kind, frozenset(days), times_per_week or 0)


def rule_to_json(rule: Rule) -> dict[str, Any]:
    """The wire ``Schedule``: ``{"kind"}`` plus ``weekdays`` (weekly, sorted) or
    ``timesPerWeek`` (perWeek) only where they apply."""
    out: dict[str, Any] = {"kind": rule.kind}
    if rule.kind == "weekly":
        out["weekdays"] = sorted(rule.weekdays)
    if rule.kind == "perWeek":
        out["timesPerWeek"] = rule.times_per_week
    return out


def rule_from_json(d: Mapping[str, Any]) -> Rule:
    """Inverse of :func:`rule_to_json` (validated; missing or null fields are absent)."""
    return validate_rule(d["kind"], d.get("weekdays"), d.get("timesPerWeek"))


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """``{"startsOn", "endsOn", "segments": [{"startsOn", "rule": Schedule | null}]}``
    with ISO dates: the form the store keeps as JSON text."""
    return {
        "startsOn": plan.starts_on.isoformat(),
        "endsOn": None if plan.ends_on is None else plan.ends_on.isoformat(),
        "segments": [
            {
                "startsOn": s.starts_on.isoformat(),
                "rule": None if s.rule is None else rule_to_json(s.rule),
            }
            for s in plan.segments
        ],
    }


def plan_from_json(d: Mapping[str, Any]) -> Plan:
    """Inverse of :func:`plan_to_json`; raises ValueError (or KeyError) on bad input."""
    ends_on = d.get("endsOn")
    return Plan(
        starts_on=date.fromisoformat(d["startsOn"]),
        ends_on=None if ends_on is None else date.fromisoformat(ends_on),
        segments=tuple(
            Segment(
                date.fromisoformat(s["startsOn"]),
                None if s.get("rule") is None else rule_from_json(s["rule"]),
            )
            for s in d["segments"]
        ),
    )
