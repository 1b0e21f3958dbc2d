"""A family's requests for documents over HTTP: the life cycle (asked, answered by a
share, withdrawn), who may ask, the therapist's caseload, the family told at once, the
therapists' reminder a week before the due day exactly once across a restart, and the
renewal notice's one-step offer."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from conftest import World
from documents_support import (
    NOW,
    TODAY,
    close,
    connect,
    documents_event,
    new_caregiver,
    next_event,
    pair_child,
    period,
    request,
    set_now,
    settings,
    share,
    share_body,
)
from litestar.testing import TestClient
from push_service import PushService
from support import assert_problem, run, services_at

from app.config import Settings

from notifications_support import of_type, push, subscribe, wait_until  # isort: skip

__all__ = ["push", "settings"]


@pytest.fixture(autouse=True)
def _now(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def test_the_life_cycle_of_a_request(client: TestClient[Any], world: World) -> None:
    note = documents_event(client, world.guardian, world.case_id, b"for the doctor on 12 March")
    rid = str(uuid.uuid4())
    ws = connect(client, world.therapist)
    try:
        r = request(client, world, id=rid, noteEventId=note)
        assert r.status_code == 201, r.text
        asked = r.json()
        assert asked["status"] == "open"
        assert asked["noteEventId"] == note
        assert asked["neededBy"] == "2026-11-20"
        assert asked["requestedBy"] == str(world.guardian.user_id)
        event = next_event(ws)
        assert event["event"] == "document_requested"
        assert event["ids"]["requestId"] == rid
    finally:
        close(ws)
    # a retry returns the first
    again = request(client, world, id=rid, noteEventId=note)
    assert again.status_code == 200
    assert again.json()["id"] == rid
    url = f"/cases/{world.case_id}/document-requests"
    for who in (world.therapist, world.guardian2):
        r = client.get(url, params={"status": "open"}, headers=who.headers)
        assert [q["id"] for q in r.json()] == [rid]
    # the therapist answers it: the request closes and the family hears of it at once
    ws = connect(client, world.guardian2)
    try:
        doc = share(client, world, kind="therapy_statement", fulfilsRequestId=rid)
        frames = [next_event(ws), next_event(ws)]
    finally:
        close(ws)
    closed = next(f for f in frames if f["event"] == "document_request_closed")
    assert closed["ids"]["requestId"] == rid
    assert closed["ids"]["status"] == "fulfilled"
    assert closed["ids"]["versionId"] == doc["id"]
    assert "document_shared" in {f["event"] for f in frames}
    r = client.get(url, headers=world.guardian.headers)
    (done,) = r.json()
    assert done["status"] == "fulfilled"
    assert done["fulfilledBy"] == doc["id"]
    assert done["closedAt"]
    # a closed request is answered no more
    body = share_body(client, world.therapist, world.case_id, "therapy_statement",
                      fulfilsRequestId=rid)  # fmt: skip
    r = client.post(f"/cases/{world.case_id}/documents", json=body,
                    headers=world.therapist.headers)  # fmt: skip
    assert_problem(r, 409, "request_closed")
    r = client.delete(f"/document-requests/{rid}", headers=world.guardian.headers)
    assert_problem(r, 409, "request_closed")


def test_a_share_of_the_kind_answers_open_requests(client: TestClient[Any], world: World) -> None:
    period_id = period(client, world)
    statement = request(client, world, periodId=period_id).json()
    plan = request(client, world, kind="therapy_plan").json()
    other_period = period(client, world, ends_on="2026-12-31")
    share(client, world, kind="therapy_statement", periodId=other_period)
    url = f"/cases/{world.case_id}/document-requests"
    assert {q["id"] for q in client.get(url, params={"status": "open"},
                                        headers=world.therapist.headers).json()} == {
        statement["id"], plan["id"]
    }  # fmt: skip
    share(client, world, kind="therapy_statement", periodId=period_id)
    still = client.get(url, params={"status": "open"}, headers=world.therapist.headers).json()
    assert [q["id"] for q in still] == [plan["id"]]
    # a guardian's share answers nothing
    share(client, world, world.guardian, kind="therapy_plan")
    still = client.get(url, params={"status": "open"}, headers=world.therapist.headers).json()
    assert [q["id"] for q in still] == [plan["id"]]
    body = share_body(client, world.guardian, world.case_id, "therapy_plan",
                      fulfilsRequestId=plan["id"])  # fmt: skip
    r = client.post(f"/cases/{world.case_id}/documents", json=body,
                    headers=world.guardian.headers)  # fmt: skip
    assert_problem(r, 403, "documents_forbidden")
    body = share_body(client, world.therapist, world.case_id, "other",
                      fulfilsRequestId=plan["id"])  # fmt: skip
    r = client.post(f"/cases/{world.case_id}/documents", json=body,
                    headers=world.therapist.headers)  # fmt: skip
    assert_problem(r, 422, "request_kind_mismatch")


def test_a_guardian_withdraws(client: TestClient[Any], world: World) -> None:
    rid = request(client, world).json()["id"]
    r = client.delete(f"/document-requests/{rid}", headers=world.therapist.headers)
    assert_problem(r, 403, "documents_forbidden")
    r = client.delete(f"/document-requests/{rid}", headers=world.guardian2.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn"
    again = client.delete(f"/document-requests/{rid}", headers=world.guardian2.headers)
    assert again.status_code == 200
    r = client.delete(f"/document-requests/{uuid.uuid4()}", headers=world.guardian.headers)
    assert_problem(r, 404, "request_not_found")


def test_who_may_ask(client: TestClient[Any], world: World, other_world: World) -> None:
    url = f"/cases/{world.case_id}/document-requests"
    assert_problem(request(client, world, world.therapist), 403, "documents_forbidden")
    child = pair_child(client, world)
    assert_problem(request(client, world, child), 403, "documents_forbidden")
    assert_problem(client.get(url, headers=child.headers), 403, "documents_forbidden")
    carer = new_caregiver(client, world, ["homework"])
    assert_problem(client.get(url, headers=carer.headers), 403, "documents_forbidden")
    assert_problem(request(client, world, carer), 403, "documents_forbidden")
    stranger = other_world.guardian
    assert_problem(request(client, world, stranger), 404, "case_not_found")
    assert_problem(client.get(url, headers=stranger.headers), 404, "case_not_found")
    rid = request(client, world).json()["id"]
    r = client.delete(f"/document-requests/{rid}", headers=stranger.headers)
    assert_problem(r, 404, "request_not_found")
    assert_problem(client.get("/documents/caseload", headers=world.guardian.headers), 403,
                   "documents_forbidden")  # fmt: skip


def test_bad_requests_change_nothing(client: TestClient[Any], world: World) -> None:
    for extra, code in (
        ({"needed_by": TODAY - timedelta(days=1)}, "needed_by_past"),
        ({"needed_by": TODAY + timedelta(days=4 * 366)}, "needed_by_too_far"),
        ({"kind": "prescription"}, "validation_error"),
        ({"periodId": str(uuid.uuid4())}, "period_not_found"),
        ({"noteEventId": documents_event(client, world.therapist, world.case_id)},
         "content_event_invalid"),
        ({"noteEventId": "note"}, "validation_error"),
        ({"note": "plaintext"}, "validation_error"),
    ):  # fmt: skip
        assert_problem(request(client, world, **extra), 422, code)
    r = client.get(f"/cases/{world.case_id}/document-requests", headers=world.guardian.headers)
    assert r.json() == []
    r = client.get(f"/cases/{world.case_id}/document-requests", params={"status": "done"},
                   headers=world.guardian.headers)  # fmt: skip
    assert r.status_code in (400, 422)


def test_the_caseload_shows_what_families_wait_for(client: TestClient[Any], world: World) -> None:
    ending = period(client, world, ends_on="2026-12-01")  # within 60 days of 14 October
    period(client, world, ends_on="2027-06-30")  # not yet
    r = client.get("/documents/caseload", headers=world.therapist.headers)
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["openRequests"] == []
    (without,) = view["periodsWithoutStatement"]
    assert without["periodId"] == ending
    assert without["endsOn"] == "2026-12-01"
    assert without["openRequestId"] is None
    assert without["childName"] == "Eino"
    late = request(client, world, needed_by=date(2026, 11, 25), periodId=ending).json()
    soon = request(client, world, kind="other", needed_by=date(2026, 10, 20)).json()
    view = client.get("/documents/caseload", headers=world.therapist.headers).json()
    assert [q["id"] for q in view["openRequests"]] == [soon["id"], late["id"]]
    assert view["periodsWithoutStatement"][0]["openRequestId"] == late["id"]
    share(client, world, kind="therapy_statement", periodId=ending)
    view = client.get("/documents/caseload", headers=world.therapist.headers).json()
    assert view["periodsWithoutStatement"] == []
    assert [q["id"] for q in view["openRequests"]] == [soon["id"]]


def reminders_at(settings: Settings, when: datetime) -> int:
    """One round of the documents' reminder job in a fresh instance (a restart each time)."""

    async def go() -> int:
        async with services_at(settings, lambda: when.astimezone(UTC)) as services:
            made: int = await services.document_reminders.run_once()
            return made

    made: int = run(go())
    return made


def test_the_due_reminder_once_across_a_restart(
    client: TestClient[Any], settings: Settings, world: World, push: PushService
) -> None:
    sub = subscribe(client, world.therapist, push)
    rid = request(client, world, needed_by=date(2026, 11, 20)).json()["id"]
    assert reminders_at(settings, NOW) == 0  # five weeks ahead
    week_before = datetime(2026, 11, 13, 9, 0, tzinfo=NOW.tzinfo)
    assert reminders_at(settings, week_before) == 1
    assert reminders_at(settings, week_before + timedelta(hours=1)) == 0  # another instance
    assert reminders_at(settings, week_before + timedelta(days=3)) == 0
    set_now(client, week_before + timedelta(days=3))  # the app's sender sends what is due
    due = wait_until(lambda: of_type(push, sub, "document_request_due"))
    assert due == [{"type": "document_request_due",
                    "ids": {"caseId": str(world.case_id), "requestId": rid,
                            "kind": "therapy_statement"}}]  # fmt: skip
    # a request answered before its week is never reminded
    other = request(client, world, kind="therapy_plan", needed_by=date(2026, 12, 20)).json()
    share(client, world, kind="therapy_plan")
    assert reminders_at(settings, datetime(2026, 12, 14, 9, 0, tzinfo=NOW.tzinfo)) == 0
    r = client.get(f"/cases/{world.case_id}/document-requests", headers=world.guardian.headers)
    assert {q["id"]: q["status"] for q in r.json()}[other["id"]] == "fulfilled"


def test_the_family_is_told_once_when_the_statement_arrives(
    client: TestClient[Any], world: World, push: PushService
) -> None:
    sub = subscribe(client, world.guardian, push)
    therapist_sub = subscribe(client, world.therapist, push)
    rid = request(client, world).json()["id"]
    wait_until(lambda: of_type(push, therapist_sub, "document_requested"))
    body = share_body(client, world.therapist, world.case_id, "therapy_statement")
    url = f"/cases/{world.case_id}/documents"
    assert client.post(url, json=body, headers=world.therapist.headers).status_code == 201
    assert client.post(url, json=body, headers=world.therapist.headers).status_code == 200
    told = wait_until(lambda: of_type(push, sub, "document_request_closed"))
    assert told == [{"type": "document_request_closed",
                     "ids": {"caseId": str(world.case_id), "requestId": rid,
                             "status": "fulfilled", "versionId": body["id"]}}]  # fmt: skip
    # a later document without a request is a plain "shared" notice
    share(client, world, kind="other")
    wait_until(lambda: of_type(push, sub, "document_shared"))
    assert len(of_type(push, sub, "document_request_closed")) == 1


def test_the_renewal_notice_offers_the_request(
    client: TestClient[Any], settings: Settings, world: World, push: PushService
) -> None:
    sub = subscribe(client, world.guardian, push)
    ending = period(client, world, ends_on="2026-12-01")

    async def go() -> int:
        async with services_at(settings, lambda: NOW.astimezone(UTC)) as services:
            made: int = await services.reminders.run_once()
            return made

    assert run(go()) >= 1
    (notice,) = wait_until(lambda: of_type(push, sub, "period_ending"))
    ids = notice["ids"]
    assert ids == {"periodId": ending, "caseId": str(world.case_id),
                   "requestKind": "therapy_statement"}  # fmt: skip
    # the one step it offers
    r = client.post(
        f"/cases/{ids['caseId']}/document-requests",
        json={"kind": ids["requestKind"], "periodId": ids["periodId"], "neededBy": "2026-11-15"},
        headers=world.guardian.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["periodId"] == ending
