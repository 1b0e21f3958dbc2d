"""Child pairing: a guardian's short code signs a child's device in without a password."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conftest import World
from litestar.testing import TestClient
from support import assert_problem, run, session_from

from app.config import Settings
from app.core.time import utcnow
from app.main import create_app
from app.storage.engine import Database
from app.storage.schema import pairing_codes


def new_code(client: TestClient[Any], world: World) -> str:
    r = client.post(f"/cases/{world.case_id}/pairing-codes", headers=world.guardian.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert len(body["code"]) == 8
    return str(body["code"])


def pair(client: TestClient[Any], code: str) -> Any:
    return client.post(
        "/auth/pair",
        json={"code": code, "device": {"name": "family tablet", "platform": "android"}},
    )


def test_child_device_pairs_and_sees_only_its_case(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    code = new_code(client, world)
    r = pair(client, f" {code[:4].lower()}-{code[4:].lower()} ")  # as typed on a tablet
    assert r.status_code == 200, r.text
    child = session_from(r.json())
    assert child.user_id == world.child_id
    me = client.get("/me", headers=child.headers).json()
    assert me["role"] == "child"
    assert me["email"] is None
    cases = client.get("/cases", headers=child.headers).json()
    assert [(c["id"], c["myRole"]) for c in cases] == [(str(world.case_id), "child")]
    assert_problem(
        client.get(f"/cases/{other_world.case_id}", headers=child.headers), 404, "case_not_found"
    )
    # a child cannot make pairing codes or invites, nor open cases
    r = client.post(f"/cases/{world.case_id}/pairing-codes", headers=child.headers)
    assert_problem(r, 403, "forbidden")
    assert_problem(
        client.post("/cases", json={"childDisplayName": "X"}, headers=child.headers),
        403,
        "forbidden",
    )


def test_pairing_codes_are_single_use(client: TestClient[Any], world: World) -> None:
    code = new_code(client, world)
    assert pair(client, code).status_code == 200
    assert_problem(pair(client, code), 410, "pairing_code_used")


def test_expired_pairing_code_is_refused(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    code = new_code(client, world)

    async def expire() -> None:
        db = Database(settings.effective_database_url)
        try:
            async with db.transaction() as conn:
                await conn.execute(
                    pairing_codes.update().values(expires_at=utcnow() - timedelta(seconds=1))
                )
        finally:
            await db.dispose()

    run(expire())
    assert_problem(pair(client, code), 410, "pairing_code_expired")


def test_pairing_code_expiry_follows_the_app_clock(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    """A pairing code's expiry is read on the app's one clock, not on the system's."""
    made = utcnow() + timedelta(days=10)
    client.app.state.clock = lambda: made
    code = new_code(client, world)
    client.app.state.clock = lambda: made + timedelta(seconds=settings.pairing_ttl_seconds)
    assert_problem(pair(client, code), 410, "pairing_code_expired")


def test_pairing_code_expires_in_ten_minutes(client: TestClient[Any], world: World) -> None:
    from datetime import datetime

    r = client.post(f"/cases/{world.case_id}/pairing-codes", headers=world.guardian.headers)
    expires = datetime.fromisoformat(r.json()["expiresAt"])
    remaining = (expires - utcnow()).total_seconds()
    assert 590 < remaining <= 600


def test_only_a_guardian_of_the_case_makes_codes(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    url = f"/cases/{world.case_id}/pairing-codes"
    assert_problem(client.post(url, headers=world.therapist.headers), 403, "forbidden")
    assert_problem(client.post(url, headers=other_world.guardian.headers), 404, "case_not_found")
    assert_problem(client.post(url), 401, "unauthenticated")


def test_bad_pairing_input(client: TestClient[Any], world: World) -> None:
    assert_problem(pair(client, "ZZZZZZZZ"), 404, "pairing_code_invalid")
    for body in (
        {"code": "123"},
        {"code": "ABCDEFGH"},
        {"code": "x" * 21, "device": {"name": "t"}},
    ):
        assert_problem(client.post("/auth/pair", json=body), 422, "validation_error")


def test_pairing_attempts_per_address_are_limited(settings: Settings, world: World) -> None:
    limited = Settings(
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        login_max_attempts_per_ip=3,
    )
    with TestClient(create_app(limited)) as client:
        for _ in range(3):
            assert_problem(pair(client, "WRONGONE"), 404, "pairing_code_invalid")
        r = pair(client, "WRONGTWO")
        assert_problem(r, 429, "rate_limited")
        assert int(r.headers["retry-after"]) > 0
