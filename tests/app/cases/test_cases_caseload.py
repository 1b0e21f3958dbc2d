"""The therapist's case list over HTTP carries what each family waits for of documents:
the open document requests with their due dates, and a therapy period ending within 60
days without a therapy statement shared (docs/documents.md, "The caseload"). Nobody
else's case list carries them, and no therapist sees another's cases."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from support import Session, assert_problem

sys.path.insert(0, str(Path(__file__).parent.parent / "documents"))
from documents_support import NOW, new_caregiver, period, request, set_now, share


@pytest.fixture(autouse=True)
def _now(client: TestClient[Any]) -> None:
    set_now(client, NOW)  # Wednesday 14 October 2026


def case_of(client: TestClient[Any], who: Session, case_id: Any) -> dict[str, Any]:
    r = client.get("/cases", headers=who.headers)
    assert r.status_code == 200, r.text
    (case,) = [c for c in r.json() if c["id"] == str(case_id)]
    one = client.get(f"/cases/{case_id}", headers=who.headers)
    assert one.status_code == 200, one.text
    assert one.json() == case
    out: dict[str, Any] = case
    return out


def test_the_therapist_sees_open_requests_and_a_period_ending_without_a_statement(
    client: TestClient[Any], world: World
) -> None:
    case = case_of(client, world.therapist, world.case_id)
    assert (case["openDocumentRequests"], case["statementDue"]) == ([], None)
    ending = period(client, world, ends_on="2026-12-01")  # within 60 days of 14 October
    period(client, world, ends_on="2027-06-30")  # not yet
    case = case_of(client, world.therapist, world.case_id)
    assert case["statementDue"] == {"periodId": ending, "endsOn": "2026-12-01",
                                    "openRequestId": None}  # fmt: skip
    late = request(client, world, needed_by=date(2026, 11, 25), periodId=ending).json()
    soon = request(client, world, kind="other", needed_by=date(2026, 10, 20)).json()
    case = case_of(client, world.therapist, world.case_id)
    assert case["openDocumentRequests"] == [
        {"id": soon["id"], "kind": "other", "neededBy": "2026-10-20"},
        {"id": late["id"], "kind": "therapy_statement", "neededBy": "2026-11-25"},
    ]  # due first
    assert case["statementDue"]["openRequestId"] == late["id"]
    # the same as the documents caseload
    view = client.get("/documents/caseload", headers=world.therapist.headers).json()
    assert [q["id"] for q in view["openRequests"]] == [soon["id"], late["id"]]
    # the statement shared: the request closes and the period no longer waits
    share(client, world, kind="therapy_statement", periodId=ending)
    case = case_of(client, world.therapist, world.case_id)
    assert case["statementDue"] is None
    assert case["openDocumentRequests"] == [
        {"id": soon["id"], "kind": "other", "neededBy": "2026-10-20"}
    ]
    # withdrawn: gone from the caseload too
    r = client.delete(f"/document-requests/{soon['id']}", headers=world.guardian.headers)
    assert r.status_code == 200, r.text
    assert case_of(client, world.therapist, world.case_id)["openDocumentRequests"] == []


def test_nobody_else_s_case_list_carries_them(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    ending = period(client, world, ends_on="2026-11-30")
    request(client, world, periodId=ending)
    carer = new_caregiver(client, world, ["documents"])
    for who in (world.guardian, world.guardian2, carer):
        case = case_of(client, who, world.case_id)
        assert (case["openDocumentRequests"], case["statementDue"]) == (None, None)
    # another organisation's therapist: neither the case nor its requests
    r = client.get("/cases", headers=other_world.therapist.headers)
    assert str(world.case_id) not in {c["id"] for c in r.json()}
    (theirs,) = r.json()
    assert (theirs["openDocumentRequests"], theirs["statementDue"]) == ([], None)
    r = client.get(f"/cases/{world.case_id}", headers=other_world.therapist.headers)
    assert_problem(r, 404, "case_not_found")
    # the other family's guardian sees their own case, plainly
    (own,) = client.get("/cases", headers=other_world.guardian.headers).json()
    assert own["id"] == str(other_world.case_id)
    assert own["openDocumentRequests"] is None
