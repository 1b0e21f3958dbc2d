"""Push endpoints over HTTP: no internal address is ever registered or sent to, and an
endpoint another user holds is not taken from them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from conftest import World
from litestar.testing import TestClient
from notifications_support import outbox, subscribe, wait_until
from push_service import PushService
from support import assert_problem, login

from app.config import Settings
from app.main import create_app

from appointments_support import NOW, cancel, one, set_now  # isort: skip

PUBLIC = "https://93.184.216.34/push/"

INTERNAL = [
    "https://127.0.0.1/x", "https://127.0.0.1:8443/x", "https://[::1]:5432/x",
    "https://10.0.0.1/x", "https://172.16.5.4/x", "https://192.168.1.1/x",
    "https://100.64.0.1/x", "https://169.254.169.254/latest/meta-data/",
    "https://0x7f000001/x", "https://2130706433/x", "https://0177.0.0.1/x", "https://127.1/x",
    "https://[::ffff:127.0.0.1]/x", "https://[::ffff:7f00:1]/x", "https://[::ffff:a00:1]/x",
    "https://[fe80::1]/x", "https://[fc00::1]/x", "https://[fd00:ec2::254]/x",
    "https://224.0.0.1/x", "https://[ff02::1]/x", "https://0.0.0.0/x", "https://[::]/x",
    "https://[64:ff9b::a00:1]/x", "https://[2002:7f00:1::]/x", "https://localhost/x",
    "https://localhost:6379/x", "https://93.184.216.34:8443/x", "https://93.184.216.34:22/x",
]  # fmt: skip


def keys(push: PushService) -> dict[str, Any]:
    body: dict[str, Any] = push.subscribe().as_json()["keys"]
    return body


def register(client: TestClient[Any], headers: dict[str, str], endpoint: str, k: Any) -> Any:
    return client.post(
        "/me/push-subscriptions", json={"endpoint": endpoint, "keys": k}, headers=headers
    )


def test_internal_addresses_and_other_ports_are_refused(
    client: TestClient[Any], world: World
) -> None:
    push = PushService()
    try:
        k = keys(push)
        h = world.guardian.headers
        for endpoint in INTERNAL:
            assert_problem(register(client, h, endpoint, k), 422, "push_endpoint_not_allowed")
        for endpoint in (
            push.subscribe().endpoint,  # the local stand-in: not opted in here
            "http://93.184.216.34/x",
            "https://user@93.184.216.34/x",
        ):
            assert_problem(register(client, h, endpoint, k), 422, "push_endpoint_invalid")
        assert client.get("/me/push-subscriptions", headers=h).json() == []
        r = register(client, h, PUBLIC + "a", k)  # registering never connects
        assert r.status_code == 201, r.text
    finally:
        push.close()


def test_only_listed_push_services(settings: Settings, world: World) -> None:
    listed = msgspec.structs.replace(settings, push_allowed_hosts="fcm.googleapis.com")
    push = PushService()
    try:
        with TestClient(create_app(listed)) as client:
            r = register(client, world.guardian.headers, PUBLIC + "a", keys(push))
            assert_problem(r, 422, "push_endpoint_not_allowed")
    finally:
        push.close()


def test_an_endpoint_another_user_holds_is_not_taken(client: TestClient[Any], world: World) -> None:
    push = PushService()
    try:
        k = keys(push)
        endpoint = PUBLIC + "held-by-the-guardian"
        r = register(client, world.guardian.headers, endpoint, k)
        assert r.status_code == 201, r.text
        r = register(client, world.therapist.headers, endpoint, keys(push))
        assert_problem(r, 409, "push_endpoint_taken")
        mine = client.get("/me/push-subscriptions", headers=world.guardian.headers).json()
        assert [(s["endpoint"], s["deviceId"]) for s in mine] == [
            (endpoint, str(world.guardian.device_id))
        ]
        assert client.get("/me/push-subscriptions", headers=world.therapist.headers).json() == []
        # the same user re-subscribing from another session of theirs moves it there
        phone = login(client, "guardian1@example.fi", device="phone")
        assert register(client, phone.headers, endpoint, k).status_code == 201
        mine = client.get("/me/push-subscriptions", headers=world.guardian.headers).json()
        assert [s["deviceId"] for s in mine] == [str(phone.device_id)]
        # a signed-out device holds nothing: then another user may register the endpoint
        assert client.post("/auth/logout", headers=phone.headers).status_code == 204
        assert register(client, world.therapist.headers, endpoint, k).status_code == 201
    finally:
        push.close()


def test_a_stored_endpoint_the_rules_refuse_is_never_sent_to(
    client: TestClient[Any], settings: Settings, world: World
) -> None:
    """A row waiting for an endpoint the sending instance does not allow (stored by a
    development instance, before an allow-list, or a host rebound since): the sender
    does not connect; the row is given up and the subscription deleted."""
    set_now(client, NOW)
    push = PushService()
    try:
        local = msgspec.structs.replace(settings, push_allow_loopback=True)
        with TestClient(create_app(local)) as dev:
            set_now(dev, NOW)
            runtime = dev.app.state.runtime
            task = next(t for t in runtime.tasks if t.get_name() == "kaari-notify-outbox")
            dev.blocking_portal.call(task.cancel)  # this instance sends nothing
            a = one(dev, world)
            subscribe(dev, world.therapist, push)
            assert cancel(dev, world.guardian, a["id"]).status_code == 201
        key = (Path(settings.data_dir) / "vapid_private_key").read_text().strip()
        production = msgspec.structs.replace(
            settings,
            env="production",
            vapid_private_key=key,
            vapid_subject="mailto:ops@example.fi",
            notify_poll_seconds=0.05,
            server_name="kaari.example.fi",
            # production hashes at OWASP's parameters (the fixture's fast ones are refused)
            argon2_memory_kib=19456,
            argon2_time_cost=2,
            insecure_test_hashing=False,
        )
        with TestClient(create_app(production)) as prod:
            set_now(prod, NOW)
            rows = wait_until(
                lambda: [r for r in outbox(settings, world.therapist.user_id) if r.failed_at]
            )
        assert [(r.channel, r.last_error) for r in rows] == [("push", "endpoint_refused")]
        assert push.received == []
        assert push.refused == []
        assert client.get("/me/push-subscriptions", headers=world.therapist.headers).json() == []
    finally:
        push.close()
