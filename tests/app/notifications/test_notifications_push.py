"""Web Push: subscriptions, and a cancellation's notice reaching the other members'
push subscriptions as an encrypted {type, ids}; 404/410 drop a subscription, 429/5xx
are retried with backoff."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from notifications_support import of_type, outbox, push, settings, subscribe, wait_until
from push_service import PushService
from support import assert_problem, login

from app.config import Settings

from appointments_support import NOW, cancel, one, pair_child, set_now  # isort: skip

__all__ = ["push", "settings"]  # fixtures


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def test_subscriptions_are_the_callers_and_checked(
    client: TestClient[Any], world: World, push: PushService
) -> None:
    r = client.get("/push/vapid-public-key", headers=world.guardian.headers)
    assert r.status_code == 200
    assert r.json()["publicKey"] == push.expected_key
    sub = push.subscribe()
    assert_problem(
        client.post("/me/push-subscriptions", json=sub.as_json()), 401, "unauthenticated"
    )
    assert_problem(client.get("/push/vapid-public-key"), 401, "unauthenticated")
    bad = [
        ({**sub.as_json(), "endpoint": "http://push.example/x"}, "push_endpoint_invalid"),
        ({**sub.as_json(), "endpoint": "ftp://127.0.0.1/x"}, "push_endpoint_invalid"),
        ({**sub.as_json(), "keys": {"p256dh": "A" * 87, "auth": "A" * 22}}, "push_keys_invalid"),
        ({**sub.as_json(), "extra": 1}, "validation_error"),
        ({"endpoint": sub.endpoint}, "validation_error"),
    ]
    for body, code in bad:
        r = client.post("/me/push-subscriptions", json=body, headers=world.guardian.headers)
        assert_problem(r, 422, code)
    assert client.get("/me/push-subscriptions", headers=world.guardian.headers).json() == []

    r = client.post("/me/push-subscriptions", json=sub.as_json(), headers=world.guardian.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["deviceId"] == str(world.guardian.device_id)
    listed = client.get("/me/push-subscriptions", headers=world.guardian.headers).json()
    assert [s["id"] for s in listed] == [created["id"]]
    # someone else's subscription is not found, and stays
    r = client.delete(f"/me/push-subscriptions/{created['id']}", headers=world.therapist.headers)
    assert_problem(r, 404, "push_subscription_not_found")
    assert client.delete(f"/me/push-subscriptions/{created['id']}").status_code == 401
    assert len(client.get("/me/push-subscriptions", headers=world.guardian.headers).json()) == 1
    r = client.delete(f"/me/push-subscriptions/{created['id']}", headers=world.guardian.headers)
    assert r.status_code == 204
    assert client.get("/me/push-subscriptions", headers=world.guardian.headers).json() == []


def test_a_cancellation_is_pushed_to_the_others_with_ids_only(
    client: TestClient[Any], world: World, push: PushService
) -> None:
    a = one(client, world)
    child = pair_child(client, world)
    subs = {
        "therapist": subscribe(client, world.therapist, push),
        "guardian2": subscribe(client, world.guardian2, push),
        "child": subscribe(client, child, push),
        "canceller": subscribe(client, world.guardian, push),
    }
    r = cancel(client, world.guardian, a["id"])
    assert r.status_code == 201, r.text
    c = r.json()
    want = {
        "type": "appointment_cancelled",
        "ids": {"appointmentId": a["id"], "caseId": str(world.case_id), "cancellationId": c["id"]},
    }
    for name in ("therapist", "guardian2", "child"):
        assert wait_until(lambda n=name: of_type(push, subs[n], "appointment_cancelled")) == [
            want
        ], name
    urgent = [r for r in push.received if r.payload["type"] == "appointment_cancelled"]
    assert {r.headers["urgency"] for r in urgent} == {"high"}
    assert of_type(push, subs["canceller"], "appointment_cancelled") == []
    assert push.refused == []

    # the therapist's first device to see it tells the canceller once; a second does not
    laptop = login(client, "therapist@example.fi", device="laptop")
    for session in (world.therapist, laptop):
        r = client.post(f"/cancellations/{c['id']}/acks", headers=session.headers)
        assert r.status_code == 200, r.text
    seen = wait_until(lambda: of_type(push, subs["canceller"], "cancellation_seen"))
    assert seen == [
        {"type": "cancellation_seen", "ids": {"cancellationId": c["id"], "appointmentId": a["id"]}}
    ]
    assert wait_until(lambda: all(r.delivered_at for r in outbox(client_settings(client))))
    assert len(of_type(push, subs["canceller"], "cancellation_seen")) == 1


def client_settings(client: TestClient[Any]) -> Settings:
    settings: Settings = client.app.state.runtime.settings
    return settings


def test_a_gone_subscription_is_deleted(
    client: TestClient[Any], world: World, push: PushService
) -> None:
    a = one(client, world)
    sub = subscribe(client, world.therapist, push)
    push.script(sub, 410)
    assert cancel(client, world.guardian, a["id"]).status_code == 201
    settings = client_settings(client)
    rows = wait_until(lambda: [r for r in outbox(settings, world.therapist.user_id) if r.failed_at])
    assert [(r.channel, r.last_error, r.attempts) for r in rows] == [
        ("push", "subscription_gone", 1)
    ]
    assert client.get("/me/push-subscriptions", headers=world.therapist.headers).json() == []


def test_429_and_5xx_are_retried_with_backoff(
    client: TestClient[Any], world: World, push: PushService
) -> None:
    a = one(client, world)
    sub = subscribe(client, world.therapist, push)
    push.script(sub, 503, 429)
    assert cancel(client, world.guardian, a["id"]).status_code == 201
    settings = client_settings(client)

    def row() -> Any:
        rows = outbox(settings, world.therapist.user_id)
        assert len(rows) == 1
        return rows[0]

    first = wait_until(lambda: row() if row().last_error == "http_503" else None)
    assert first.attempts == 1
    assert first.delivered_at is None
    # base 1 s with jitter: not due at the same instant, due a few seconds later
    assert NOW + timedelta(seconds=0.7) < first.next_attempt_at < NOW + timedelta(seconds=1.3)
    set_now(client, NOW + timedelta(seconds=5))
    second = wait_until(lambda: row() if row().last_error == "http_429" else None)
    assert second.attempts == 2
    assert second.next_attempt_at > NOW + timedelta(seconds=5 + 1.5)
    assert of_type(push, sub, "appointment_cancelled") == []
    set_now(client, NOW + timedelta(minutes=1))
    done = wait_until(lambda: row() if row().delivered_at else None)
    assert done.attempts == 3
    assert done.last_error is None
    assert len(of_type(push, sub, "appointment_cancelled")) == 1
