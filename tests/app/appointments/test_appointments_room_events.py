"""Details and cancellation notes are events of the case's family room: the server takes
only an event the calling device sent to that room (422 ``content_event_invalid`` for
another device's, another room's, another case's or no event at all), keeps the id
through a reschedule of the series and per case of a group session, and tells each
caller only their cases' ids. ``GET /cases/{id}/appointments/room`` names the room."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import pytest
from appointments_support import (
    NOW,
    START,
    cancel,
    create,
    family_event,
    family_room,
    get,
    iso,
    new_caregiver,
    new_case,
    one,
    pair_child,
    ref,
    set_now,
)
from conftest import World
from litestar.testing import TestClient
from support import PASSWORD, Session, accept_invite, assert_problem, login, room_event

from app.messaging.service import thread_id_of


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def room_of(case_id: UUID | str, kind: str) -> str:
    return f"!{thread_id_of(UUID(str(case_id)), kind)}:localhost"


def event_in(client: TestClient[Any], session: Session, room: str) -> str:
    r = room_event(client, session, room)
    assert r.status_code == 200, r.text
    event_id: str = r.json()["event_id"]
    return event_id


def wrong_events(client: TestClient[Any], world: World, who: Session) -> dict[str, str]:
    """Event ids ``who`` may not use for the world's case, by what is wrong with them."""
    second = login(client, str(who.email), device="second phone")
    therapist_case = new_case(client, world.therapist, "Aino")
    foreign = (
        family_event(client, world.therapist, therapist_case)
        if who == world.therapist
        else event_in(client, world.guardian2, room_of(world.case_id, "family"))
    )
    return {
        "another device of the same person": family_event(client, second, world.case_id),
        "the case's child room": event_in(client, who, room_of(world.case_id, "child")),
        "the case's homework room": event_in(client, who, room_of(world.case_id, "homework")),
        "another case's family room" if who == world.therapist else "another person": foreign,
        "no event": "$" + "n" * 43,
    }


def test_details_must_be_an_event_this_device_sent_to_the_family_room(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    cases = wrong_events(client, world, world.therapist)
    cases["another organisation's case"] = family_event(
        client, other_world.therapist, other_world.case_id
    )
    for what, event_id in cases.items():
        r = client.post(
            "/appointments",
            json={
                "caseIds": [str(world.case_id)],
                "startsAt": iso(START),
                "placeKind": "home",
                "details": [{"caseId": str(world.case_id), "eventId": event_id}],
            },
            headers=world.therapist.headers,
        )
        assert r.status_code == 422, what
        assert_problem(r, 422, "content_event_invalid")
    # nothing was scheduled; the right event is taken
    r = client.get(f"/cases/{world.case_id}/appointments", headers=world.therapist.headers)
    assert r.json() == []
    good = ref(client, world.therapist, world.case_id)
    assert one(client, world, details=[good])["cases"][0]["detailsEventId"] == good["eventId"]


def test_a_note_must_be_an_event_this_device_sent_to_the_family_room(
    client: TestClient[Any], world: World
) -> None:
    a = one(client, world)
    for what, event_id in wrong_events(client, world, world.guardian).items():
        r = cancel(
            client,
            world.guardian,
            a["id"],
            note=[{"caseId": str(world.case_id), "eventId": event_id}],
        )
        assert r.status_code == 422, what
        assert_problem(r, 422, "content_event_invalid")
    assert get(client, world.therapist, a["id"])["status"] == "scheduled"
    note = ref(client, world.guardian, world.case_id)
    r = cancel(client, world.guardian, a["id"], note=[note])
    assert r.status_code == 201, r.text
    assert r.json()["note"] == [{**note, "roomId": family_room(world.case_id)}]
    # the therapist reads the same ids
    r = client.get(f"/cancellations/{r.json()['id']}", headers=world.therapist.headers)
    assert r.json()["note"] == [{**note, "roomId": family_room(world.case_id)}]


def test_an_admin_cancels_without_a_note(client: TestClient[Any], world: World) -> None:
    a = one(client, world)
    outside = ref(client, world.therapist, world.case_id)  # the admin has no family room
    r = cancel(client, world.admin, a["id"], note=[outside])
    assert_problem(r, 422, "content_event_invalid")
    r = cancel(client, world.admin, a["id"])
    assert (r.status_code, r.json()["note"]) == (201, [])


def family_of_second_case(client: TestClient[Any], world: World) -> tuple[UUID, Session]:
    case_id = new_case(client, world.therapist, "Aino")
    r = client.post(f"/cases/{case_id}/invites", json={}, headers=world.therapist.headers)
    assert r.status_code == 201, r.text
    return case_id, accept_invite(client, r.json()["code"], "aino.parent@example.fi", "Liisa")


def test_a_group_session_keeps_each_familys_events_apart(
    client: TestClient[Any], world: World
) -> None:
    other, liisa = family_of_second_case(client, world)
    mine = ref(client, world.therapist, world.case_id)
    theirs = ref(client, world.therapist, other)
    # each event must be in its own case's family room
    swapped = [{**mine, "caseId": str(other)}, {**theirs, "caseId": str(world.case_id)}]
    r = client.post(
        "/appointments",
        json={"caseIds": [str(world.case_id), str(other)], "startsAt": iso(START),
              "placeKind": "office", "groupKind": "children", "details": swapped},
        headers=world.therapist.headers,
    )  # fmt: skip
    assert_problem(r, 422, "content_event_invalid")
    a = create(client, world.therapist, [world.case_id, other], groupKind="children",
               details=[mine, theirs])["appointments"][0]  # fmt: skip
    ids = {c["caseId"]: (c["roomId"], c["detailsEventId"]) for c in a["cases"]}
    assert ids == {
        str(world.case_id): (family_room(world.case_id), mine["eventId"]),
        str(other): (family_room(other), theirs["eventId"]),
    }
    # a family sees its own case only, with its own event
    (seen,) = get(client, world.guardian, a["id"])["cases"]
    assert (seen["caseId"], seen["detailsEventId"]) == (str(world.case_id), mine["eventId"])
    (seen,) = get(client, liisa, a["id"])["cases"]
    assert (seen["caseId"], seen["detailsEventId"]) == (str(other), theirs["eventId"])
    # the therapist cancels the whole session with a note for each family
    notes = [ref(client, world.therapist, world.case_id), ref(client, world.therapist, other)]
    r = cancel(client, world.therapist, a["id"], reason="therapist_unavailable", note=notes)
    assert r.status_code == 201, r.text
    assert {n["caseId"]: n["eventId"] for n in r.json()["note"]} == {
        n["caseId"]: n["eventId"] for n in notes
    }
    r = client.get(f"/cancellations/{r.json()['id']}", headers=liisa.headers)
    assert r.json()["note"] == [{**notes[1], "roomId": family_room(other)}]


def test_a_series_moved_keeps_its_details(client: TestClient[Any], world: World) -> None:
    details = ref(client, world.therapist, world.case_id)
    series = create(client, world.therapist, [world.case_id], weeklyOccurrences=3,
                    details=[details])["appointments"]  # fmt: skip
    later = datetime.fromisoformat(series[1]["startsAt"]).replace(hour=14)
    r = client.patch(
        f"/appointments/{series[1]['id']}",
        json={"startsAt": later.isoformat(), "scope": "following"},
        headers=world.therapist.headers,
    )
    assert r.status_code == 200, r.text
    moved = r.json()["appointments"]
    assert len(moved) == 2
    for a in [get(client, world.guardian, series[0]["id"]), *moved]:
        assert a["cases"][0]["detailsEventId"] == details["eventId"]


def test_the_room_is_named_to_the_guardians_and_therapists(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    path = f"/cases/{world.case_id}/appointments/room"
    for who in (world.therapist, world.guardian, world.guardian2):
        r = client.get(path, headers=who.headers)
        assert r.status_code == 200, r.text
        assert r.json() == {"caseId": str(world.case_id), "roomId": family_room(world.case_id)}
    for who in (pair_child(client, world), new_caregiver(client, world, ["schedule"])):
        assert_problem(client.get(path, headers=who.headers), 403, "forbidden")
    assert_problem(client.get(path, headers=other_world.therapist.headers), 404, "case_not_found")
    r = client.get(path)
    assert r.status_code == 401


def test_an_erased_guardians_cancellation_stays_without_its_note(
    client: TestClient[Any], world: World
) -> None:
    details = ref(client, world.therapist, world.case_id)
    a = one(client, world, details=[details])
    r = cancel(client, world.guardian, a["id"], note=[ref(client, world.guardian, world.case_id)])
    assert r.status_code == 201, r.text
    cancellation_id = r.json()["id"]
    r = client.request("DELETE", "/me", json={"password": PASSWORD}, headers=world.guardian.headers)
    assert r.status_code in (200, 204), r.text
    r = client.get(f"/cancellations/{cancellation_id}", headers=world.therapist.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["reason"], r.json()["note"]) == ("illness", [])
    # the therapist's details stay: they are not the guardian's
    assert (
        get(client, world.therapist, a["id"])["cases"][0]["detailsEventId"] == (details["eventId"])
    )
