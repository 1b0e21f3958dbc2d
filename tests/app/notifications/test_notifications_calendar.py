"""The iCalendar feed: a secret, rotatable, revocable URL; no health details; local
times with TZID=Europe/Helsinki that stay at 16:00 across the October DST change."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from support import assert_problem

from app.core.time import from_local

from notifications_support import settings  # isort: skip
from appointments_support import HEL, NOW, cancel, create, ref, set_now  # isort: skip

__all__ = ["settings"]  # fixtures

TOKEN = "/me/calendar-token"


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def feed(client: TestClient[Any], path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    return r.text


def events(text: str) -> list[dict[str, str]]:
    found = []
    for block in re.findall(r"BEGIN:VEVENT\r\n(.*?)END:VEVENT", text, re.S):
        fields = {}
        for line in block.split("\r\n"):
            if line:
                key, _, value = line.partition(":")
                fields[key] = value
        found.append(fields)
    return found


def test_token_access(client: TestClient[Any], world: World) -> None:
    assert_problem(client.post(TOKEN), 401, "unauthenticated")
    assert_problem(client.delete(TOKEN), 401, "unauthenticated")
    assert_problem(client.post(TOKEN, headers=world.admin.headers), 403, "forbidden")
    assert_problem(client.get("/calendar/kcal_nothing.ics"), 404, "calendar_not_found")
    assert_problem(client.get("/calendar/whatever"), 404, "calendar_not_found")

    first = client.post(TOKEN, headers=world.guardian.headers)
    assert first.status_code == 201, first.text
    path = first.json()["path"]
    assert path == f"/calendar/{first.json()['token']}.ics"
    assert "BEGIN:VCALENDAR" in feed(client, path)
    assert_problem(client.get(path.removesuffix(".ics")), 404, "calendar_not_found")
    # rotating: the old URL stops working
    second = client.post(TOKEN, headers=world.guardian.headers).json()["path"]
    assert_problem(client.get(path), 404, "calendar_not_found")
    feed(client, second)
    # another user's token is their own
    other = client.post(TOKEN, headers=world.guardian2.headers).json()["path"]
    feed(client, second)
    feed(client, other)
    assert client.delete(TOKEN, headers=world.guardian.headers).status_code == 204
    assert_problem(client.get(second), 404, "calendar_not_found")
    assert client.delete(TOKEN, headers=world.guardian.headers).status_code == 204
    feed(client, other)


def test_feed_keeps_local_time_across_dst_and_holds_no_details(
    client: TestClient[Any], world: World
) -> None:
    # Tuesdays 20 and 27 October 2026 at 16:00 in Helsinki: DST ends on Sunday the 25th
    start = datetime(2026, 10, 20, 16, 0, tzinfo=HEL)
    details = ref(client, world.therapist, world.case_id, b"Kotikatu 1")
    created = create(
        client, world.therapist, [world.case_id], startsAt=start.isoformat(),
        weeklyOccurrences=2, details=[details],
    )["appointments"]  # fmt: skip
    assert [a["startsAt"] for a in created] == ["2026-10-20T13:00:00Z", "2026-10-27T14:00:00Z"]
    assert cancel(client, world.guardian, created[1]["id"]).status_code == 201
    r = client.patch("/me", json={"locale": "sv"}, headers=world.guardian2.headers)
    assert r.status_code == 200

    fi = feed(client, client.post(TOKEN, headers=world.guardian.headers).json()["path"])
    sv = feed(client, client.post(TOKEN, headers=world.guardian2.headers).json()["path"])
    therapist = feed(client, client.post(TOKEN, headers=world.therapist.headers).json()["path"])
    assert "BEGIN:VTIMEZONE\r\nTZID:Europe/Helsinki" in fi
    assert "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU" in fi
    found = events(fi)
    assert [e["DTSTART;TZID=Europe/Helsinki"] for e in found] == [
        "20261020T160000",
        "20261027T160000",
    ]
    assert [e["DTEND;TZID=Europe/Helsinki"] for e in found] == [
        "20261020T170000",
        "20261027T170000",
    ]
    # the wall-clock times mean the instants the API gave
    for e, a in zip(found, created, strict=True):
        wall = datetime.strptime(e["DTSTART;TZID=Europe/Helsinki"], "%Y%m%dT%H%M%S")
        assert from_local(wall).isoformat().replace("+00:00", "Z") == a["startsAt"]
    assert [e["UID"] for e in found] == [f"{a['id']}@kaari" for a in created]
    assert [e["STATUS"] for e in found] == ["CONFIRMED", "CANCELLED"]
    assert {e["SUMMARY"] for e in found} == {"Terapiakäynti"}
    assert {e["LOCATION"] for e in found} == {"Koti"}
    assert {e["SUMMARY"] for e in events(sv)} == {"Terapibesök"}
    assert [e["UID"] for e in events(therapist)] == [e["UID"] for e in found]
    for text in (fi, sv, therapist):
        assert "Eino" not in text
        assert "illness" not in text
        assert "Kotikatu" not in text
        assert "S290aWthdHUgMQ" not in text
        assert details["eventId"] not in text
        assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))

    # the UID stays when the session moves
    r = client.patch(
        f"/appointments/{created[0]['id']}",
        json={"startsAt": datetime(2026, 10, 21, 15, 0, tzinfo=HEL).isoformat()},
        headers=world.therapist.headers,
    )
    assert r.status_code == 200, r.text
    path = client.post(TOKEN, headers=world.guardian.headers).json()["path"]
    moved = events(feed(client, path))
    assert moved[0]["UID"] == found[0]["UID"]
    assert moved[0]["DTSTART;TZID=Europe/Helsinki"] == "20261021T150000"
