"""Account recovery over HTTP: the password reset link (known and unknown addresses alike,
single use, expiry, limits), re-enabling an account, handing a case over, and a
guardian's view of the child's devices."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from conftest import TEST_SECRET, World
from litestar.testing import TestClient
from support import PASSWORD, Session, accept_invite, assert_problem, auth, login, run

from app.config import Settings
from app.storage.engine import Database
from app.storage.schema import notification_outbox
from app.storage.schema_privacy import password_resets

NEW_PASSWORD = "a-new-long-password-42"


class Gateway:
    """The e-mail/SMS gateway: records what it is asked to send."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                gateway.messages.append(
                    json.loads(self.rfile.read(int(self.headers["content-length"])))
                )
                self.send_response(202)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"

    def to(self, email: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["to"] == email]


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    g = Gateway()
    yield g
    g.server.shutdown()
    g.server.server_close()


@pytest.fixture
def limit() -> int:
    return 10


@pytest.fixture
def settings(database_url: str, tmp_path: Path, gateway: Gateway, limit: int) -> Settings:
    return Settings(
        database_url=database_url, data_dir=str(tmp_path), secret_key=TEST_SECRET,
        notify_poll_seconds=0.05, notify_gateway_url=gateway.url,
        public_url="https://kaari.example.fi", password_reset_max_per_address=limit,
    )  # fmt: skip


def wait_for(check: Any, seconds: float = 5.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if got := check():
            return got
        time.sleep(0.05)
    raise AssertionError("timed out")


def query(settings: Settings, statement: Any) -> list[Any]:
    async def go() -> list[Any]:
        db = Database(settings.effective_database_url)
        try:
            async with db.transaction() as conn:
                result = await conn.execute(statement)
                return list(result.all()) if result.returns_rows else []
        finally:
            await db.dispose()

    rows: list[Any] = run(go())
    return rows


def reset_link(client: TestClient[Any], gateway: Gateway, email: str) -> str:
    r = client.post("/auth/password-reset", json={"email": email})
    assert r.status_code == 202, r.text
    message = wait_for(lambda: gateway.to(email))[-1]
    link = message["text"].rsplit(" ", 1)[-1]
    assert link.startswith("https://kaari.example.fi/reset-password#token=")
    return link.split("#token=", 1)[1]


def test_a_reset_link_sets_the_password_once_and_signs_out_every_device(
    client: TestClient[Any], settings: Settings, world: World, gateway: Gateway
) -> None:
    email = "guardian1@example.fi"
    other_device = login(client, email, device="tablet")
    token = reset_link(client, gateway, email)
    message = gateway.to(email)[0]
    assert "palautusavain" in message["text"]  # the recovery key, in Finnish
    assert message["channel"] == "email"
    # only the hash is stored; the link is blanked from the delivered outbox row
    stored = query(settings, sa.select(password_resets))
    assert len(stored) == 1
    assert token.encode() not in stored[0].token_hash
    rows = wait_for(
        lambda: [
            r
            for r in query(settings, sa.select(notification_outbox))
            if r.kind == "password_reset" and r.delivered_at is not None
        ]
    )
    assert rows[0].ids == {}

    r = client.post(
        "/auth/password-reset/complete", json={"token": token, "newPassword": NEW_PASSWORD}
    )
    assert r.status_code == 200, r.text
    assert r.json()["revokedDevices"] == 2
    assert "recovery key" in r.json()["recovery"]
    for session in (world.guardian, other_device):
        assert client.get("/me", headers=session.headers).status_code == 401
    login(client, email, NEW_PASSWORD)
    assert_problem(
        client.post(
            "/auth/login", json={"email": email, "password": PASSWORD, "device": {"name": "x"}}
        ),
        401,
        "invalid_credentials",
    )
    # single use
    assert_problem(
        client.post(
            "/auth/password-reset/complete", json={"token": token, "newPassword": NEW_PASSWORD}
        ),
        422,
        "reset_token_invalid",
    )
    actions = [
        e["action"] for e in client.get("/org/audit", headers=world.admin.headers).json()["events"]
    ]
    assert "password.reset_requested" in actions
    assert "password.reset" in actions


def test_a_newer_link_replaces_an_older_one_and_links_expire(
    client: TestClient[Any], settings: Settings, world: World, gateway: Gateway
) -> None:
    email = "guardian2@example.fi"
    first = reset_link(client, gateway, email)
    gateway.messages.clear()
    second = reset_link(client, gateway, email)
    body = {"token": first, "newPassword": NEW_PASSWORD}
    assert_problem(
        client.post("/auth/password-reset/complete", json=body), 422, "reset_token_invalid"
    )
    query(settings, password_resets.update().values(expires_at=password_resets.c.created_at))
    body = {"token": second, "newPassword": NEW_PASSWORD}
    assert_problem(
        client.post("/auth/password-reset/complete", json=body), 422, "reset_token_invalid"
    )


def test_unknown_and_known_addresses_get_the_same_answer_in_the_same_time(
    client: TestClient[Any], world: World, gateway: Gateway
) -> None:
    def timed(email: str) -> tuple[float, int, Any]:
        start = time.perf_counter()
        r = client.post("/auth/password-reset", json={"email": email})
        return time.perf_counter() - start, r.status_code, r.json()

    known, unknown = [], []
    for _ in range(2):
        for email in ("guardian1@example.fi", "therapist@example.fi"):
            known.append(timed(email))
        for email in ("nobody@example.fi", "nemo@example.fi"):
            unknown.append(timed(email))
    assert {(s, json.dumps(b)) for _, s, b in known} == {(s, json.dumps(b)) for _, s, b in unknown}
    assert {s for _, s, _ in known} == {202}
    gap = abs(
        statistics.median(t for t, _, _ in known) - statistics.median(t for t, _, _ in unknown)
    )
    assert gap < 0.05, gap
    wait_for(lambda: len(gateway.messages) >= 4)
    time.sleep(0.3)
    assert {m["to"] for m in gateway.messages} == {"guardian1@example.fi", "therapist@example.fi"}


@pytest.mark.parametrize("limit", [5])
def test_requests_are_rate_limited_alike_for_every_address(
    client: TestClient[Any], world: World, gateway: Gateway
) -> None:
    for email in ("guardian1@example.fi", "nobody@example.fi"):
        assert client.post("/auth/password-reset", json={"email": email}).status_code == 202
        r = client.post("/auth/password-reset", json={"email": email})
        assert_problem(r, 429, "rate_limited")
    for n in range(3):  # the per-address limit: 5 in all
        r = client.post("/auth/password-reset", json={"email": f"n{n}@example.fi"})
        assert r.status_code == (202 if n == 0 else 429), r.text


def test_no_link_for_a_disabled_account(
    client: TestClient[Any], world: World, gateway: Gateway
) -> None:
    r = client.post(f"/org/users/{world.therapist.user_id}/disable", headers=world.admin.headers)
    assert r.status_code == 204, r.text
    assert (
        client.post("/auth/password-reset", json={"email": "therapist@example.fi"}).status_code
        == 202
    )
    assert (
        client.post("/auth/password-reset", json={"email": "guardian1@example.fi"}).status_code
        == 202
    )
    wait_for(lambda: gateway.to("guardian1@example.fi"))
    time.sleep(0.2)
    assert gateway.to("therapist@example.fi") == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/password-reset", {"email": "not-an-address"}),
        ("/auth/password-reset", {}),
        ("/auth/password-reset", {"email": "a@b.fi", "extra": 1}),
        ("/auth/password-reset/complete", {"token": "x" * 43, "newPassword": "short"}),
        ("/auth/password-reset/complete", {"token": "bad token!" * 5, "newPassword": NEW_PASSWORD}),
        ("/auth/password-reset/complete", {"newPassword": NEW_PASSWORD}),
    ],
)
def test_bad_input_is_refused(client: TestClient[Any], path: str, body: Any) -> None:
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_an_unknown_token_is_refused(client: TestClient[Any], world: World) -> None:
    body = {"token": "A" * 43, "newPassword": NEW_PASSWORD}
    assert_problem(
        client.post("/auth/password-reset/complete", json=body), 422, "reset_token_invalid"
    )


# re-enabling an account


def test_an_admin_re_enables_a_disabled_account(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    path = f"/org/users/{world.therapist.user_id}"
    assert client.post(f"{path}/disable", headers=world.admin.headers).status_code == 204
    assert_problem(
        client.post(
            "/auth/login",
            json={"email": "therapist@example.fi", "password": PASSWORD, "device": {"name": "x"}},
        ),
        401,
        "invalid_credentials",
    )
    for headers in (world.therapist.headers, world.guardian.headers):
        r = client.post(f"{path}/enable", headers=headers)
        assert r.status_code in (401, 403), r.text
    assert_problem(client.post(f"{path}/enable", headers=world.guardian.headers), 403, "forbidden")
    for foreign in (other_world.therapist.user_id, world.guardian.user_id, uuid4()):
        r = client.post(f"/org/users/{foreign}/enable", headers=world.admin.headers)
        assert_problem(r, 404, "user_not_found")
    assert client.post(f"{path}/enable", headers=world.admin.headers).status_code == 204
    assert client.post(f"{path}/enable", headers=world.admin.headers).status_code == 204
    login(client, "therapist@example.fi")
    events = client.get("/org/audit", headers=world.admin.headers).json()["events"]
    assert [e["action"] for e in events].count("user.enabled") == 1
    assert client.post("/org/users/not-a-uuid/enable", headers=world.admin.headers).status_code in (
        422,
        404,
    )


# hand-over of a case


def new_therapist(client: TestClient[Any], world: World, email: str) -> Session:
    r = client.post("/org/invites", json={"role": "therapist"}, headers=world.admin.headers)
    assert r.status_code == 201, r.text
    return accept_invite(client, r.json()["code"], email, "Tuula")


def test_an_admin_hands_a_case_over_when_its_therapist_leaves(
    client: TestClient[Any], settings: Settings, world: World, other_world: World
) -> None:
    successor = new_therapist(client, world, "tuula@example.fi")
    old = world.therapist.user_id
    assert client.post(f"/org/users/{old}/disable", headers=world.admin.headers).status_code == 204
    path = f"/org/cases/{world.case_id}/hand-over"
    body = {"toUserId": str(successor.user_id), "fromUserId": str(old)}
    assert_problem(client.post(path, json=body, headers=successor.headers), 403, "forbidden")
    assert_problem(client.post(path, json=body, headers=world.guardian.headers), 403, "forbidden")
    assert_problem(
        client.post(
            f"/org/cases/{other_world.case_id}/hand-over", json=body, headers=world.admin.headers
        ),
        404,
        "case_not_found",
    )
    assert_problem(
        client.post(
            f"/org/cases/{world.case_id}/hand-over", json=body, headers=other_world.admin.headers
        ),
        404,
        "case_not_found",
    )
    for wrong in (other_world.therapist.user_id, world.guardian.user_id, uuid4()):
        r = client.post(path, json={"toUserId": str(wrong)}, headers=world.admin.headers)
        assert_problem(r, 404, "user_not_found")
    for bad in ({}, {"toUserId": "x"}, {"toUserId": str(successor.user_id), "extra": 1}):
        r = client.post(path, json=bad, headers=world.admin.headers)
        assert r.status_code == 422, r.text
    same = {"toUserId": str(successor.user_id), "fromUserId": str(successor.user_id)}
    assert_problem(client.post(path, json=same, headers=world.admin.headers), 422, "same_therapist")

    assert client.post(path, json=body, headers=world.admin.headers).status_code == 204
    assert client.get(f"/cases/{world.case_id}", headers=successor.headers).status_code == 200
    members = client.get(f"/cases/{world.case_id}/members", headers=successor.headers).json()
    therapists = [m["userId"] for m in members if m["role"] == "therapist"]
    assert therapists == [str(successor.user_id)]
    r = client.post(path, json={"toUserId": str(successor.user_id)}, headers=world.admin.headers)
    assert_problem(r, 409, "already_member")
    # the family is told (a notice to the guardians), and the access log shows it
    notices = [
        r.user_id
        for r in query(settings, sa.select(notification_outbox))
        if r.kind == "case_handed_over"
    ]
    assert set(notices) >= {world.guardian.user_id, world.guardian2.user_id}
    log = client.get(f"/cases/{world.case_id}/access-log", headers=world.guardian.headers).json()
    assert any(
        e["action"] == "case.handed_over" and e["actor"]["role"] == "admin" for e in log["entries"]
    )


# the child's devices


def pair_child(client: TestClient[Any], world: World) -> dict[str, str]:
    r = client.post(f"/cases/{world.case_id}/pairing-codes", headers=world.guardian.headers)
    assert r.status_code == 201, r.text
    r = client.post("/auth/pair", json={"code": r.json()["code"], "device": {"name": "tablet"}})
    assert r.status_code == 200, r.text
    return auth(r.json()["token"])


def test_a_guardian_sees_and_revokes_the_childs_devices(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    child = pair_child(client, world)
    path = f"/cases/{world.case_id}/child/devices"
    r = client.get(path, headers=world.guardian2.headers)
    assert r.status_code == 200, r.text
    [device] = r.json()
    assert device["name"] == "tablet"
    for headers in (world.therapist.headers, child):
        assert_problem(client.get(path, headers=headers), 403, "forbidden")
    foreign = f"/cases/{other_world.case_id}/child/devices"
    assert_problem(client.get(foreign, headers=world.guardian.headers), 404, "case_not_found")
    assert_problem(
        client.delete(f"{foreign}/{device['id']}", headers=world.guardian.headers),
        404,
        "case_not_found",
    )
    assert_problem(
        client.delete(f"{path}/{world.guardian.device_id}", headers=world.guardian.headers),
        404,
        "device_not_found",
    )
    assert client.delete(f"{path}/not-a-uuid", headers=world.guardian.headers).status_code in (
        422,
        404,
    )
    assert (
        client.delete(f"{path}/{device['id']}", headers=world.guardian.headers).status_code == 204
    )
    assert client.get("/me", headers=child).status_code == 401
    assert client.get(path, headers=world.guardian.headers).json() == []
    assert_problem(
        client.delete(f"{path}/{device['id']}", headers=world.guardian.headers),
        404,
        "device_not_found",
    )
    log = client.get(f"/cases/{world.case_id}/access-log", headers=world.guardian.headers).json()
    assert any(
        e["verb"] == "device_removed" and e["deviceId"] == device["id"] for e in log["entries"]
    )
