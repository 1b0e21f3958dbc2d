"""The family's access log over HTTP: who read or changed what kind of data, devices."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest
from conftest import World
from litestar.testing import TestClient
from support import assert_problem, login
from test_cases_members import new_caregiver, pair_child


def log_of(client: TestClient[Any], world: World, headers: dict[str, str]) -> list[Any]:
    r = client.get(f"/cases/{world.case_id}/access-log", headers=headers)
    assert r.status_code == 200, r.text
    entries: list[Any] = r.json()["entries"]
    return entries


def test_a_guardian_sees_who_read_and_changed_what(client: TestClient[Any], world: World) -> None:
    case = world.case_id
    t = world.therapist.headers
    for _ in range(3):  # three reads in an hour are one line
        assert client.get(f"/cases/{case}/members", headers=t).status_code == 200
    assert client.get(f"/cases/{case}/homework", headers=t).status_code == 200
    r = client.post(
        f"/cases/{case}/periods",
        json={
            "payer": "kela",
            "startsOn": "2027-01-01",
            "endsOn": "2027-06-30",
            "sessionsGranted": 20,
        },
        headers=t,
    )
    assert r.status_code == 201, r.text
    assert client.get(f"/cases/{case}/periods", headers=world.guardian2.headers).status_code == 200
    second = login(client, "guardian2@example.fi", device="tablet")

    entries = log_of(client, world, world.guardian.headers)
    lines = {
        (e["actor"]["displayName"] if e["actor"] else None, e["verb"], e["kind"]) for e in entries
    }
    assert ("Terhi", "read", "members") in lines
    assert ("Terhi", "read", "homework") in lines
    assert ("Terhi", "changed", "periods") in lines
    assert ("Terhi", "changed", "case") in lines  # opened the case
    assert ("G2", "read", "periods") in lines
    assert ("G2", "device_added", "devices") in lines
    reads = [e for e in entries if e["verb"] == "read" and e["kind"] == "members"]
    assert len([e for e in reads if e["actor"]["displayName"] == "Terhi"]) == 1
    added = [e for e in entries if e["verb"] == "device_added"]
    assert str(second.device_id) in {e["deviceId"] for e in added}
    therapist = next(e for e in entries if e["actor"] and e["actor"]["displayName"] == "Terhi")
    assert therapist["actor"]["role"] == "therapist"
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    # ids, kinds and times only: no details of the audit rows, no content
    assert all(
        set(e) == {"id", "at", "actor", "verb", "kind", "action", "deviceId"} for e in entries
    )
    # the therapists of the case read it too
    assert log_of(client, world, t)


def test_the_log_pages_by_before(client: TestClient[Any], world: World) -> None:
    case = world.case_id
    r = client.get(f"/cases/{case}/access-log?limit=2", headers=world.guardian.headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert len(page["entries"]) == 2
    assert page["nextBefore"] == page["entries"][-1]["id"]
    r = client.get(
        f"/cases/{case}/access-log?limit=200&before={page['nextBefore']}",
        headers=world.guardian.headers,
    )
    rest = r.json()["entries"]
    assert rest
    assert all(e["id"] < page["nextBefore"] for e in rest)


def test_the_child_and_caregivers_may_not_read_the_log(
    client: TestClient[Any], world: World
) -> None:
    child = pair_child(client, world)
    caregiver = new_caregiver(client, world, ["schedule", "homework"])
    for headers in (child, caregiver.headers):
        assert_problem(
            client.get(f"/cases/{world.case_id}/access-log", headers=headers), 403, "forbidden"
        )


def test_a_foreign_or_unknown_case_is_not_found(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    for path in (f"/cases/{other_world.case_id}/access-log", f"/cases/{uuid4()}/access-log"):
        assert_problem(client.get(path, headers=world.guardian.headers), 404, "case_not_found")
    # the admin is no member either
    assert_problem(
        client.get(f"/cases/{world.case_id}/access-log", headers=world.admin.headers),
        404,
        "case_not_found",
    )
    assert_problem(client.get(f"/cases/{world.case_id}/access-log"), 401, "unauthenticated")
    # the other family's reads never show in this log
    client.get(f"/cases/{other_world.case_id}/members", headers=other_world.therapist.headers)
    text = json.dumps(log_of(client, world, world.guardian.headers))
    assert str(other_world.therapist.user_id) not in text


@pytest.mark.parametrize(
    "query", ["?limit=0", "?limit=201", "?limit=ten", "?before=0", "?before=x"]
)
def test_bad_paging_is_rejected(client: TestClient[Any], world: World, query: str) -> None:
    r = client.get(f"/cases/{world.case_id}/access-log{query}", headers=world.guardian.headers)
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
