"""Closing a case (POST /org/cases/{id}/close): an admin of its organisation, once,
audited; the members see when it was closed (its homework's retention counts from then)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from conftest import World
from litestar.testing import TestClient
from support import assert_problem


def close(client: TestClient[Any], world: World, headers: dict[str, str] | None = None) -> Any:
    return client.post(f"/org/cases/{world.case_id}/close", headers=headers or world.admin.headers)


def case_of(client: TestClient[Any], world: World, headers: dict[str, str]) -> dict[str, Any]:
    r = client.get(f"/cases/{world.case_id}", headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_an_admin_closes_a_case_once_and_the_family_sees_it(
    client: TestClient[Any], world: World
) -> None:
    assert case_of(client, world, world.guardian.headers)["closedAt"] is None
    started = datetime.now().astimezone()
    r = close(client, world)
    assert r.status_code == 204, r.text
    closed_at = datetime.fromisoformat(case_of(client, world, world.guardian.headers)["closedAt"])
    assert started - timedelta(seconds=1) <= closed_at <= started + timedelta(minutes=1)
    mine = client.get("/cases", headers=world.therapist.headers).json()
    assert [datetime.fromisoformat(c["closedAt"]) for c in mine] == [closed_at]
    # final: a second close is refused and changes nothing
    assert_problem(close(client, world), 409, "case_closed")
    again = datetime.fromisoformat(case_of(client, world, world.guardian.headers)["closedAt"])
    assert again == closed_at
    # audited once, in the family's access log
    r = client.get(f"/cases/{world.case_id}/access-log", headers=world.guardian.headers)
    assert r.status_code == 200, r.text
    lines = [e for e in r.json()["entries"] if e["action"] == "case.closed"]
    assert len(lines) == 1
    assert (lines[0]["verb"], lines[0]["kind"]) == ("changed", "case")
    assert lines[0]["actor"]["role"] == "admin"


def test_only_an_admin_of_the_cases_organisation_closes_it(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    for member in (world.therapist, world.guardian):
        assert_problem(close(client, world, member.headers), 403, "forbidden")
    assert_problem(close(client, world, other_world.admin.headers), 404, "case_not_found")
    assert_problem(client.post(f"/org/cases/{world.case_id}/close"), 401, "unauthenticated")
    assert case_of(client, world, world.guardian.headers)["closedAt"] is None


def test_unknown_and_malformed_case_ids(client: TestClient[Any], world: World) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    r = client.post(f"/org/cases/{unknown}/close", headers=world.admin.headers)
    assert_problem(r, 404, "case_not_found")
    r = client.post("/org/cases/not-a-uuid/close", headers=world.admin.headers)
    assert r.status_code in (400, 404), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
