"""`kaari client homework …`: tasks, ticks and progress from a terminal.

    kaari client homework assign --case Eino --title "Ride a bike" --daily
    kaari client homework list [--case Eino]
    kaari client homework today
    kaari client homework tick <task> [--note "Fun!"] [--emoji 🚲] [--day 2025-03-04]
    kaari client homework undo <task> [--day 2025-03-04]
    kaari client homework progress [--case Eino]

A task or case is named by the first characters of its id (a case also by the child's
name); with one case, ``--case`` can be left out. Titles, instructions and notes are
Megolm events of the case's homework room, encrypted on this device's Matrix client
(:mod:`client.homework`); the server sees the schedule and the ticks only.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from client.cli_profile import CliError, Profile, open_session
from client.homework import Homework, Schedule, Task


def _open(profile: Profile) -> Homework:
    """Homework on the profile's Matrix device (its Kaari API session is the same device)."""
    session = open_session(profile)
    return Homework(session.client, session.api)


def _case(homework: Homework, wanted: str | None) -> dict[str, Any]:
    cases: list[dict[str, Any]] = homework.api.get("/cases")
    if wanted is None:
        if len(cases) == 1:
            return cases[0]
        raise CliError("Name the case with --case (the child's name or the case id)")
    key = wanted.casefold()
    matches = [
        c for c in cases if c["id"].startswith(key) or (c["childName"] or "").casefold() == key
    ]
    if len(matches) != 1:
        raise CliError(f"No single case matches {wanted!r}")
    return matches[0]


def _task(homework: Homework, wanted: str) -> Task:
    """A task of any of my cases whose id starts with ``wanted``."""
    matches: list[Task] = []
    for case in homework.api.get("/cases"):
        matches += [t for t in homework.tasks(case["id"]) if t.id.startswith(wanted.lower())]
    if len(matches) != 1:
        raise CliError(f"No single task matches {wanted!r}; see `kaari client homework list`")
    return matches[0]


def _title(task: Task) -> str:
    return task.title if task.readable else f"[cannot read this task: {task.problem}]"


def _schedule(args: argparse.Namespace) -> Schedule:
    if args.weekly:
        try:
            days = [int(d) for d in args.weekly.split(",")]
        except ValueError:
            raise CliError("--weekly takes ISO weekdays, e.g. 1,3,5 (1 = Monday)") from None
        return Schedule.weekly(*days)
    if args.per_week:
        return Schedule.per_week(args.per_week)
    if args.once:
        return Schedule.once()
    return Schedule.daily()


def cmd_assign(args: argparse.Namespace, profile: Profile) -> int:
    homework = _open(profile)
    case = _case(homework, args.case)
    task = homework.assign(
        case["id"],
        args.title,
        args.instructions,
        schedule=_schedule(args),
        starts_on=args.starts or date.today(),
        ends_on=args.ends,
        tick_by=args.tick_by,
    )
    until = f" until {task.ends_on}" if task.ends_on else ""
    print(
        f"Assigned {task.title!r} ({task.id[:8]}): {task.schedule.describe()} "
        f"from {task.starts_on}{until}."
    )
    return 0


def cmd_list(args: argparse.Namespace, profile: Profile) -> int:
    homework = _open(profile)
    case = _case(homework, args.case)
    tasks = homework.tasks(case["id"], args.status)
    for task in tasks:
        print(f"{task.id[:8]}  {_title(task)} — {task.schedule.describe()}, {task.status}")
        if task.instructions:
            print(f"          {task.instructions}")
    if not tasks:
        print("No homework.")
    return 0


def cmd_today(args: argparse.Namespace, profile: Profile) -> int:
    today = _open(profile).today()
    print(f"Today, {today.day}:")
    for t in today.tasks:
        title = t.title if t.readable else f"[cannot read this task: {t.problem}]"
        week = f" ({t.week_done}/{t.week_target} this week)" if t.week_target else ""
        ticker = "" if t.may_tick else " (not yours to tick)"
        print(f"[{'x' if t.done else ' '}] {t.task_id[:8]}  {title}{week}{ticker}")
    if not today.tasks:
        print("Nothing due today.")
    return 0


def cmd_tick(args: argparse.Namespace, profile: Profile) -> int:
    homework = _open(profile)
    task = _task(homework, args.task)
    tick = homework.tick(task.id, args.day, note=args.note, emoji=args.emoji)
    print(f"Ticked {_title(task)!r} for {tick.day}.")
    return 0


def cmd_undo(args: argparse.Namespace, profile: Profile) -> int:
    homework = _open(profile)
    task = _task(homework, args.task)
    homework.undo(task.id, args.day)
    print(f"Took back the tick of {_title(task)!r}{f' for {args.day}' if args.day else ''}.")
    return 0


def _latest(weeks: list[dict[str, Any]]) -> str:
    if not weeks:
        return "-"
    week = max(weeks, key=lambda w: w["weekStart"])
    return f"{week['done']}/{week['expected']}"


def cmd_progress(args: argparse.Namespace, profile: Profile) -> int:
    homework = _open(profile)
    case = _case(homework, args.case)
    progress = homework.progress(case["id"], args.weeks)
    titles = {t.id: _title(t) for t in homework.tasks(case["id"])}
    print(f"Homework of {case['childName'] or 'the case'}, {progress['today']}:")
    for t in progress["tasks"]:
        unit = "weeks" if t["streakUnit"] == "weeks" else "times"
        print(
            f"  {titles.get(t['taskId'], t['taskId'][:8])}: this week {_latest(t['weeks'])}, "
            f"streak {t['streak']} {unit} ({t['status']})"
        )
    summary = progress["summary"]
    print(f"Since {summary['since']}: {summary['done']} of {summary['expected']} done.")
    print(f"Days in a row with something done: {progress['streak']}.")
    return 0


def add_parser(sub: Any) -> None:
    """Register ``homework`` and its commands on the ``kaari client`` parser."""
    homework = sub.add_parser("homework", help="homework: assign, list, tick, progress")
    cmds = homework.add_subparsers(dest="homework_command", required=True)
    assign = cmds.add_parser("assign", help="set a task (therapist)")
    assign.add_argument("--case", default=None, help="the child's name or the case id")
    assign.add_argument("--title", required=True)
    assign.add_argument("--instructions", default="")
    rule = assign.add_mutually_exclusive_group()
    rule.add_argument("--daily", action="store_true", help="every day (the default)")
    rule.add_argument("--weekly", metavar="DAYS", help="on ISO weekdays, e.g. 1,3,5")
    rule.add_argument("--per-week", type=int, metavar="N", help="any N days each week")
    rule.add_argument("--once", action="store_true", help="on the start day only")
    assign.add_argument("--starts", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    assign.add_argument("--ends", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    assign.add_argument("--tick-by", choices=["child", "guardian", "both"], default="both")
    assign.set_defaults(func=cmd_assign)
    listing = cmds.add_parser("list", help="a case's tasks")
    listing.add_argument("--case", default=None)
    listing.add_argument("--status", choices=["active", "paused", "finished"], default=None)
    listing.set_defaults(func=cmd_list)
    cmds.add_parser("today", help="what is due today").set_defaults(func=cmd_today)
    tick = cmds.add_parser("tick", help="tick a task done")
    tick.add_argument("task", help="task id (or its first characters)")
    tick.add_argument("--day", type=date.fromisoformat, default=None, help="default: today")
    tick.add_argument("--note", default="")
    tick.add_argument("--emoji", default="")
    tick.set_defaults(func=cmd_tick)
    undo = cmds.add_parser("undo", help="take a tick back (the same day)")
    undo.add_argument("task")
    undo.add_argument("--day", type=date.fromisoformat, default=None)
    undo.set_defaults(func=cmd_undo)
    progress = cmds.add_parser("progress", help="done and expected, streaks")
    progress.add_argument("--case", default=None)
    progress.add_argument("--weeks", type=int, default=None, help="1-26 (default 4)")
    progress.set_defaults(func=cmd_progress)
