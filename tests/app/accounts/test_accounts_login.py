"""Sign-in, sessions, devices, profile and password over HTTP."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx
import msgspec
import pytest
import sqlalchemy as sa
from conftest import World, seed_org
from litestar.testing import TestClient, transport
from support import PASSWORD, assert_problem, auth, login, run

from app.config import Settings
from app.core.time import utcnow
from app.main import create_app
from app.storage.engine import Database
from app.storage.schema import devices, users


def device_count(settings: Settings) -> int:
    async def go() -> int:
        db = Database(settings.effective_database_url)
        try:
            async with db.read() as conn:
                return int(
                    (
                        await conn.execute(sa.select(sa.func.count()).select_from(devices))
                    ).scalar_one()
                )
        finally:
            await db.dispose()

    result: int = run(go())
    return result


def password_hash(settings: Settings, email: str) -> str:
    async def go() -> str:
        db = Database(settings.effective_database_url)
        try:
            async with db.read() as conn:
                q = sa.select(users.c.password_hash).where(users.c.email == email)
                return str((await conn.execute(q)).scalar_one())
        finally:
            await db.dispose()

    result: str = run(go())
    return result


def test_login_returns_a_token_that_authenticates(client: TestClient[Any], world: World) -> None:
    r = client.post(
        "/auth/login",
        json={
            "email": "Therapist@Example.fi ",
            "password": PASSWORD,
            "device": {"name": "office laptop", "platform": "desktop"},
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token"].startswith("kst_")
    assert len(body["token"]) >= 40
    assert body["user"]["role"] == "therapist"
    me = client.get("/me", headers=auth(body["token"]))
    assert me.status_code == 200
    assert me.json()["email"] == "therapist@example.fi"


def test_wrong_password_and_unknown_email_answer_alike(
    client: TestClient[Any], world: World
) -> None:
    wrong = client.post(
        "/auth/login",
        json={"email": "therapist@example.fi", "password": "not it", "device": {"name": "x"}},
    )
    unknown = client.post(
        "/auth/login",
        json={"email": "nobody@example.fi", "password": "not it", "device": {"name": "x"}},
    )
    a = assert_problem(wrong, 401, "invalid_credentials")
    b = assert_problem(unknown, 401, "invalid_credentials")
    assert a["detail"] == b["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": "x", "device": {"name": "x"}},
        {"email": "a@example.fi", "password": "x"},
        {"email": "a@example.fi", "password": "", "device": {"name": "x"}},
        {"email": "a@example.fi", "password": "x" * 257, "device": {"name": "x"}},
        {"email": "a@example.fi", "password": "x", "device": {"name": "x" * 101}},
        {"email": "a@example.fi", "password": "x", "device": {"name": "phone\x00"}},
        {"email": "a\x00b@example.fi", "password": "x", "device": {"name": "x"}},
        {"email": "a@example.fi", "password": "x", "device": {"name": "x", "platform": "tv"}},
        {"email": "a@example.fi", "password": "x", "device": {"name": "x"}, "admin": True},
    ],
)
def test_bad_login_input_is_422_and_writes_nothing(
    client: TestClient[Any], settings: Settings, world: World, body: dict[str, Any]
) -> None:
    before = device_count(settings)
    problem = assert_problem(client.post("/auth/login", json=body), 422, "validation_error")
    assert problem["errors"]
    assert device_count(settings) == before


def test_malformed_and_oversize_bodies_are_refused(client: TestClient[Any], world: World) -> None:
    r = client.post("/auth/login", content=b"{nope", headers={"content-type": "application/json"})
    assert_problem(r, 400, "bad_request")
    huge = {
        "email": "a@example.fi",
        "password": "x",
        "device": {"name": "x"},
        "pad": "x" * 2_000_000,
    }
    assert_problem(client.post("/auth/login", json=huge), 413, "payload_too_large")


def test_failed_logins_lock_the_account_with_retry_after(
    client: TestClient[Any], world: World
) -> None:
    for _ in range(5):
        r = client.post(
            "/auth/login",
            json={"email": "guardian1@example.fi", "password": "wrong", "device": {"name": "x"}},
        )
        assert_problem(r, 401, "invalid_credentials")
    r = client.post(
        "/auth/login",
        json={"email": "guardian1@example.fi", "password": PASSWORD, "device": {"name": "x"}},
    )
    body = assert_problem(r, 429, "rate_limited")
    assert 0 < int(r.headers["retry-after"]) <= 900
    assert body["retryAfter"] == int(r.headers["retry-after"])
    # another account from the same address is not locked
    login(client, "guardian2@example.fi")


def test_attempts_per_address_are_limited(settings: Settings) -> None:
    limited = Settings(
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        login_max_attempts_per_ip=3,
    )
    seed_org(limited)
    with TestClient(create_app(limited)) as client:
        for n in range(3):
            r = client.post(
                "/auth/login",
                json={"email": f"u{n}@example.fi", "password": "x", "device": {"name": "x"}},
            )
            assert_problem(r, 401, "invalid_credentials")
        r = client.post(
            "/auth/login",
            json={"email": "admin@example.fi", "password": PASSWORD, "device": {"name": "x"}},
        )
        assert_problem(r, 429, "rate_limited")
        assert "retry-after" in r.headers


def test_a_successful_login_clears_earlier_failures(client: TestClient[Any], world: World) -> None:
    for _ in range(4):
        client.post(
            "/auth/login",
            json={"email": "guardian1@example.fi", "password": "wrong", "device": {"name": "x"}},
        )
    login(client, "guardian1@example.fi")
    for _ in range(4):
        client.post(
            "/auth/login",
            json={"email": "guardian1@example.fi", "password": "wrong", "device": {"name": "x"}},
        )
    login(client, "guardian1@example.fi")


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "Basic abc", "Bearer kst_not-a-real-token", "Bearer " + "x" * 300],
)
def test_missing_or_bad_tokens_are_401(client: TestClient[Any], header: str) -> None:
    r = client.get("/me", headers={"authorization": header} if header else {})
    assert r.status_code == 401
    assert r.json()["code"] in ("unauthenticated", "session_invalid")


def test_logout_ends_the_session_at_once(client: TestClient[Any], world: World) -> None:
    s = login(client, "guardian1@example.fi")
    assert client.post("/auth/logout", headers=s.headers).status_code == 204
    assert_problem(client.get("/me", headers=s.headers), 401, "session_invalid")
    # other sessions of the same user are untouched
    assert client.get("/me", headers=world.guardian.headers).status_code == 200
    assert_problem(client.post("/auth/logout"), 401, "unauthenticated")


def test_devices_list_and_revoke_one(client: TestClient[Any], world: World) -> None:
    phone = login(client, "guardian1@example.fi", device="phone")
    r = client.get("/devices", headers=world.guardian.headers)
    assert r.status_code == 200
    listed = {d["id"]: d for d in r.json()}
    assert str(phone.device_id) in listed
    assert listed[str(world.guardian.device_id)]["current"] is True
    assert listed[str(phone.device_id)]["current"] is False
    assert listed[str(phone.device_id)]["name"] == "phone"
    r = client.delete(f"/devices/{phone.device_id}", headers=world.guardian.headers)
    assert r.status_code == 204
    assert_problem(client.get("/me", headers=phone.headers), 401, "session_invalid")
    assert client.get("/me", headers=world.guardian.headers).status_code == 200
    # revoking it again, or someone else's device, is 404
    r = client.delete(f"/devices/{phone.device_id}", headers=world.guardian.headers)
    assert_problem(r, 404, "device_not_found")
    r = client.delete(f"/devices/{world.guardian2.device_id}", headers=world.guardian.headers)
    assert_problem(r, 404, "device_not_found")
    assert client.get("/me", headers=world.guardian2.headers).status_code == 200
    assert_problem(
        client.delete("/devices/not-a-uuid", headers=world.guardian.headers), 404, "not_found"
    )
    assert_problem(client.get("/devices"), 401, "unauthenticated")


def test_revoke_all_devices(client: TestClient[Any], world: World) -> None:
    other = login(client, "therapist@example.fi", device="tablet")
    r = client.post("/devices/revoke-all?keepCurrent=true", headers=world.therapist.headers)
    assert r.status_code == 200
    assert r.json() == {"revokedDevices": 1}
    assert client.get("/me", headers=other.headers).status_code == 401
    assert client.get("/me", headers=world.therapist.headers).status_code == 200
    r = client.post("/devices/revoke-all", headers=world.therapist.headers)
    assert r.json() == {"revokedDevices": 1}
    assert client.get("/me", headers=world.therapist.headers).status_code == 401
    r = client.post("/devices/revoke-all?keepCurrent=maybe", headers=world.guardian.headers)
    assert_problem(r, 422, "validation_error")


def test_profile_update_is_partial_and_validated(client: TestClient[Any], world: World) -> None:
    h = world.guardian.headers
    r = client.patch("/me", json={"locale": "sv"}, headers=h)
    assert r.status_code == 200
    assert r.json()["locale"] == "sv"
    assert r.json()["displayName"] == "G1"
    r = client.patch("/me", json={"displayName": "Anna"}, headers=h)
    assert r.json()["displayName"] == "Anna"
    assert r.json()["locale"] == "sv"
    for bad in (
        {"locale": "de"},
        {"displayName": ""},
        {"displayName": "   "},
        {"displayName": "Anna\x00"},
        {"displayName": "Anna\nAalto"},
        {"role": "admin"},
    ):
        assert_problem(client.patch("/me", json=bad, headers=h), 422, "validation_error")
    me = client.get("/me", headers=h).json()
    assert (me["displayName"], me["locale"], me["role"]) == ("Anna", "sv", "guardian")
    assert_problem(client.patch("/me", json={"locale": "fi"}), 401, "unauthenticated")


def test_password_change_revokes_other_devices(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    other = login(client, "guardian1@example.fi", device="tablet")
    h = world.guardian.headers
    r = client.post(
        "/me/password",
        json={"currentPassword": "wrong", "newPassword": "a new long password"},
        headers=h,
    )
    assert_problem(r, 401, "invalid_credentials")
    r = client.post(
        "/me/password", json={"currentPassword": PASSWORD, "newPassword": "short"}, headers=h
    )
    assert_problem(r, 422, "validation_error")
    r = client.post(
        "/me/password", json={"currentPassword": PASSWORD, "newPassword": PASSWORD}, headers=h
    )
    assert_problem(r, 422, "password_unchanged")
    assert client.get("/me", headers=other.headers).status_code == 200  # nothing changed yet
    r = client.post(
        "/me/password",
        json={"currentPassword": PASSWORD, "newPassword": "a new long password"},
        headers=h,
    )
    assert r.status_code == 200
    assert r.json() == {"revokedDevices": 1}
    assert client.get("/me", headers=other.headers).status_code == 401
    assert client.get("/me", headers=h).status_code == 200
    login(client, "guardian1@example.fi", password="a new long password")
    r = client.post(
        "/auth/login",
        json={"email": "guardian1@example.fi", "password": PASSWORD, "device": {"name": "x"}},
    )
    assert_problem(r, 401, "invalid_credentials")
    assert password_hash(settings, "guardian1@example.fi").startswith("$argon2id$")


@pytest.mark.owasp_hashing
def test_password_is_rehashed_when_parameters_change(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    assert "m=19456,t=2,p=1" in password_hash(settings, "guardian1@example.fi")
    stronger = Settings(
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        argon2_time_cost=3,
    )
    with TestClient(create_app(stronger)) as c2:
        login(c2, "guardian1@example.fi")
    assert "m=19456,t=3,p=1" in password_hash(settings, "guardian1@example.fi")
    login(client, "guardian1@example.fi")  # the old instance still verifies the new hash


# failures per (account, address): a stranger never locks the owner out


@pytest.fixture
def from_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests with an ``x-test-client`` header come from that address (the TestClient
    otherwise says every request comes from "testclient")."""
    original = transport.TestClientTransport.parse_request

    def parse(self: Any, request: httpx.Request) -> dict[str, Any]:
        scope = original(self, request)
        if "x-test-client" in request.headers:
            scope["client"] = (request.headers["x-test-client"], 50000)
        return scope

    monkeypatch.setattr(transport.TestClientTransport, "parse_request", parse)


def attempt(client: TestClient[Any], email: str, password: str, address: str) -> Any:
    return client.post(
        "/auth/login",
        json={"email": email, "password": password, "device": {"name": "x"}},
        headers={"x-test-client": address},
    )


@pytest.mark.usefixtures("from_address")
def test_a_strangers_failures_do_not_lock_the_owner_out(
    client: TestClient[Any], world: World
) -> None:
    for _ in range(8):
        r = attempt(client, "therapist@example.fi", "guess", "203.0.113.66")
        assert r.status_code in (401, 429)
    # the stranger's address is refused for that account, the owner's is not
    r = attempt(client, "therapist@example.fi", PASSWORD, "203.0.113.66")
    assert_problem(r, 429, "rate_limited")
    r = attempt(client, "therapist@example.fi", PASSWORD, "198.51.100.7")
    assert r.status_code == 200, r.text


@pytest.mark.usefixtures("from_address")
def test_failures_lock_one_address_out_of_one_account(
    client: TestClient[Any], world: World
) -> None:
    for _ in range(5):
        r = attempt(client, "guardian1@example.fi", "wrong", "203.0.113.5")
        assert_problem(r, 401, "invalid_credentials")
    r = attempt(client, "guardian1@example.fi", PASSWORD, "203.0.113.5")
    body = assert_problem(r, 429, "rate_limited")
    assert 0 < body["retryAfter"] <= 900
    # the same address still reaches other accounts; other addresses reach this one
    assert attempt(client, "guardian2@example.fi", PASSWORD, "203.0.113.5").status_code == 200
    assert attempt(client, "guardian1@example.fi", PASSWORD, "203.0.113.6").status_code == 200
    # four failures from an address, then the right password: the count starts again
    for _ in range(4):
        attempt(client, "guardian2@example.fi", "wrong", "203.0.113.9")
    assert attempt(client, "guardian2@example.fi", PASSWORD, "203.0.113.9").status_code == 200
    for _ in range(4):
        attempt(client, "guardian2@example.fi", "wrong", "203.0.113.9")
    assert attempt(client, "guardian2@example.fi", PASSWORD, "203.0.113.9").status_code == 200


@pytest.mark.usefixtures("from_address")
def test_failures_from_many_addresses_slow_the_account_and_never_refuse(
    settings: Settings,
) -> None:
    slowed = msgspec.structs.replace(
        settings, login_slowdown_after_failures=4, login_max_delay_seconds=0.6
    )
    seed_org(slowed)
    with TestClient(create_app(slowed)) as client:

        def timed(email: str, password: str, address: str) -> tuple[int, float]:
            started = time.monotonic()
            r = attempt(client, email, password, address)
            return r.status_code, time.monotonic() - started

        for n in range(6):  # two per address: no address reaches its own limit
            for email in ("admin@example.fi", "nobody@example.fi"):
                status, _ = timed(email, "guess", f"203.0.113.{n // 2}")
                assert status == 401
        # the owner gets in from their own address, after the delay
        status, slow = timed("admin@example.fi", PASSWORD, "198.51.100.7")
        assert status == 200
        assert slow >= 0.55
        # an unknown e-mail is counted and slowed alike (no enumeration by timing)
        status, unknown = timed("nobody@example.fi", "guess", "198.51.100.7")
        assert status == 401
        assert unknown >= 0.55
        # strangers keep failing: still slowed, still never refused for the owner
        for n in range(10, 14):
            assert timed("admin@example.fi", "guess", f"203.0.113.{n}")[0] == 401
        status, again = timed("admin@example.fi", PASSWORD, "198.51.100.8")
        assert status == 200
        assert 0.55 <= again < 3.0  # capped at login_max_delay_seconds


def test_an_idle_session_ends_on_the_app_clock(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    """A device unseen for ``session_idle_days`` must sign in again, counted on the app's
    one clock (``app.state.clock``), not on the system's."""
    assert client.get("/me", headers=world.guardian.headers).status_code == 200
    idle = timedelta(days=settings.session_idle_days)
    later = utcnow() + idle + timedelta(minutes=1)
    client.app.state.clock = lambda: later
    assert_problem(client.get("/me", headers=world.guardian.headers), 401, "session_invalid")
    assert client.get("/me", headers=login(client, world.guardian.email).headers).status_code == 200
