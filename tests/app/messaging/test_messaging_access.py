"""Who may use a thread, and bad input: each refused with a clear code, nothing stored."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import World
from messaging_support import counts, family
from support import assert_problem, auth

from app.config import Settings
from crypto.payloads import TextMessage


def post(client: Any, thread: str, body: Any, headers: dict[str, str]) -> Any:
    return client.post(f"/threads/{thread}/messages", json=body, headers=headers)


def test_no_token(client: Any, world: World) -> None:
    thread = str(uuid.uuid4())
    assert_problem(client.get("/threads"), 401, "unauthenticated")
    assert_problem(client.get(f"/threads/{thread}/devices"), 401, "unauthenticated")
    assert_problem(post(client, thread, {}, {}), 401, "unauthenticated")
    assert_problem(client.get("/mailbox"), 401, "unauthenticated")
    assert_problem(client.post("/mailbox/ack", json={"upToSeq": 0}), 401, "unauthenticated")
    assert_problem(client.get(f"/attachments/{thread}"), 401, "unauthenticated")
    assert_problem(client.get(f"/messages/{thread}/deliveries"), 401, "unauthenticated")
    assert_problem(
        client.post(f"/threads/{thread}/attachments", content=b"x", headers=auth("nope")),
        401,
        "session_invalid",
    )


def test_the_child_and_caregivers_are_not_in_the_family_thread(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    child_threads = {t["kind"] for t in f.child.api.threads()}
    assert child_threads == {"child"}
    child_headers = {"authorization": f"Bearer {f.child.api.token}"}
    assert_problem(
        client.get(f"/threads/{f.family_thread}/devices", headers=child_headers),
        404,
        "thread_not_found",
    )
    cts = f.therapist._encrypt(
        {d["deviceId"]: d["userId"] for d in f.therapist.api.thread_devices(f.family_thread)},
        TextMessage(body="x"),
        "child-try",
    )
    before = counts(settings)
    assert_problem(
        post(client, f.family_thread, {"clientMessageId": "a", "ciphertexts": cts}, child_headers),
        404,
        "thread_not_found",
    )
    # a caregiver (granted schedule and homework) has no thread
    r = client.post(
        f"/cases/{world.case_id}/invites",
        json={"role": "caregiver", "scopes": ["schedule"]},
        headers=world.guardian.headers,
    )
    assert r.status_code == 201, r.text
    from support import accept_invite

    caregiver = accept_invite(client, r.json()["code"], "mummo@example.fi", "Mummo")
    assert client.get("/threads", headers=caregiver.headers).json() == []
    assert_problem(
        client.get(f"/threads/{f.family_thread}/devices", headers=caregiver.headers),
        404,
        "thread_not_found",
    )
    assert counts(settings) == before


def test_a_foreign_organisation_cannot_see_or_post(
    client: Any, settings: Settings, world: World, other_world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    f.therapist.send_text(f.family_thread, "secret")
    stranger = other_world.therapist.headers
    assert_problem(
        client.get(f"/cases/{world.case_id}/threads", headers=stranger), 404, "case_not_found"
    )
    assert_problem(
        client.get(f"/threads/{f.family_thread}/devices", headers=stranger), 404, "thread_not_found"
    )
    before = counts(settings)
    body = {"clientMessageId": "x", "ciphertexts": {}}
    r = post(client, f.family_thread, body, stranger)
    assert r.status_code == 422  # empty ciphertexts: refused before access is even checked
    assert client.get("/mailbox", headers=stranger).json()["items"] == []
    envelope = f.therapist.history(f.family_thread)[-1].envelope_id
    assert_problem(
        client.get(f"/messages/{envelope}/deliveries", headers=stranger), 404, "message_not_found"
    )
    # even a member of the thread sees deliveries of their own messages only
    assert_problem(
        client.get(f"/messages/{envelope}/deliveries", headers=world.guardian.headers),
        404,
        "message_not_found",
    )
    assert counts(settings) == before


def _valid(f: Any, thread: str, mid: str) -> dict[str, Any]:
    targets = {d["deviceId"]: d["userId"] for d in f.therapist.api.thread_devices(thread)}
    cts: dict[str, Any] = f.therapist._encrypt(targets, TextMessage(body="x"), mid)
    return cts


@pytest.mark.parametrize(
    ("mutate", "status", "code"),
    [
        (lambda b, cts, d: b.update(clientMessageId=""), 422, "validation_error"),
        (lambda b, cts, d: b.update(clientMessageId="x" * 65), 422, "validation_error"),
        (lambda b, cts, d: b.update(clientMessageId="bad id!"), 422, "validation_error"),
        (lambda b, cts, d: b.update(extra=1), 422, "validation_error"),
        (lambda b, cts, d: cts[d].update(body="not base64!"), 422, "validation_error"),
        (lambda b, cts, d: cts[d].update(body="A" * (96 * 1024 + 4)), 422, "validation_error"),
        (lambda b, cts, d: cts[d].update(type="megolm"), 422, "validation_error"),
        (lambda b, cts, d: cts[d].pop("senderCurve25519"), 422, "validation_error"),
        (lambda b, cts, d: cts[d].update(messageType=7), 422, "validation_error"),
        (
            lambda b, cts, d: cts[d].update(senderDeviceId=str(uuid.uuid4())),
            422,
            "ciphertext_mismatch",
        ),
        (
            lambda b, cts, d: cts[d].update(recipientUserId=str(uuid.uuid4())),
            422,
            "ciphertext_mismatch",
        ),
        (
            lambda b, cts, d: cts.update({str(uuid.uuid4()): cts.pop(d)}),
            422,
            "ciphertext_mismatch",
        ),
        (
            lambda b, cts, d: cts.update(
                {
                    (u := str(uuid.uuid4())): {
                        **cts[d],
                        "recipientDeviceId": u,
                    }
                }
            ),
            409,
            "device_set_mismatch",
        ),
    ],
)
def test_bad_envelopes_are_refused_and_nothing_is_stored(
    client: Any,
    settings: Settings,
    world: World,
    tmp_path: Path,
    mutate: Any,
    status: int,
    code: str,
) -> None:
    f = family(client, tmp_path, world)
    cts = _valid(f, f.family_thread, "bad-1")
    body: dict[str, Any] = {"clientMessageId": "bad-1", "ciphertexts": cts}
    mutate(body, cts, next(iter(cts)))
    before = counts(settings)
    assert_problem(post(client, f.family_thread, body, world.therapist.headers), status, code)
    assert counts(settings) == before


def test_other_threads_and_unknown_ids(
    client: Any, settings: Settings, world: World, other_world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    other = family(client, tmp_path / "other", other_world)
    cts = _valid(f, f.family_thread, "t-1")
    before = counts(settings)
    # ciphertexts for this thread posted to a thread of another organisation
    assert_problem(
        post(
            client,
            other.family_thread,
            {"clientMessageId": "t-1", "ciphertexts": cts},
            world.therapist.headers,
        ),
        404,
        "thread_not_found",
    )
    assert_problem(
        post(
            client,
            str(uuid.uuid4()),
            {"clientMessageId": "t-1", "ciphertexts": cts},
            world.therapist.headers,
        ),
        404,
        "thread_not_found",
    )
    # the family thread's devices posted to the child thread: the set does not match
    r = post(
        client,
        f.child_thread,
        {"clientMessageId": "t-1", "ciphertexts": cts},
        world.therapist.headers,
    )
    assert_problem(r, 409, "device_set_mismatch")
    assert counts(settings) == before


def test_mailbox_cursor_and_ack_rules(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    for n in range(3):
        f.therapist.send_text(f.family_thread, f"m{n}")
    h = world.guardian2.headers
    page = client.get("/mailbox", params={"after": 0, "limit": 2}, headers=h).json()
    assert [i["seq"] for i in page["items"]] == [1, 2]
    assert page["more"] is True
    assert page["upToSeq"] == 2
    page = client.get("/mailbox", params={"after": 2}, headers=h).json()
    assert [i["seq"] for i in page["items"]] == [3]
    assert page["more"] is False
    assert_problem(client.get("/mailbox", params={"after": -1}, headers=h), 422, "validation_error")
    assert_problem(client.get("/mailbox", params={"limit": 0}, headers=h), 422, "validation_error")
    assert_problem(client.post("/mailbox/ack", json={"upToSeq": 9}, headers=h), 422, "ack_ahead")
    assert_problem(
        client.post("/mailbox/ack", json={"upToSeq": -1}, headers=h), 422, "validation_error"
    )
    r = client.post("/mailbox/ack", json={"upToSeq": 2}, headers=h)
    assert r.json() == {"upToSeq": 2, "removed": 2}
    page = client.get("/mailbox", headers=h).json()
    assert [i["seq"] for i in page["items"]] == [3]
    # acknowledging again is harmless
    assert client.post("/mailbox/ack", json={"upToSeq": 2}, headers=h).json()["removed"] == 0


def test_a_removed_member_stops_receiving(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    f.therapist.send_text(f.family_thread, "before")  # waiting in guardian2's mailbox
    r = client.delete(
        f"/cases/{world.case_id}/members/{world.guardian2.user_id}",
        headers=world.therapist.headers,
    )
    assert r.status_code == 204, r.text
    result = f.therapist.send_text(f.family_thread, "after")  # repairs the 409 by itself
    assert result["recipients"] == 2
    assert f.guardian2.api.mailbox(0)["items"] == []  # not even the waiting row
    assert_problem(
        client.get(f"/threads/{f.family_thread}/devices", headers=world.guardian2.headers),
        404,
        "thread_not_found",
    )
    assert [m.payload.body for m in f.guardian.sync()] == ["before", "after"]  # type: ignore[union-attr]


def test_a_ciphertext_must_carry_the_sending_device_s_registered_key(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    cts = _valid(f, f.family_thread, "k-1")
    other_key = f.guardian.device.curve25519
    for ct in cts.values():
        ct["senderCurve25519"] = other_key
    before = counts(settings)
    r = post(client, f.family_thread, {"clientMessageId": "k-1", "ciphertexts": cts},
             world.therapist.headers)  # fmt: skip
    assert_problem(r, 422, "ciphertext_mismatch")
    # a device that never uploaded keys cannot send at all
    from support import login

    bare = login(client, world.therapist.email or "", device="no keys")
    r = post(client, f.family_thread, {"clientMessageId": "k-2", "ciphertexts": cts},
             bare.headers)  # fmt: skip
    assert_problem(r, 409, "device_keys_missing")
    assert counts(settings) == before


def test_a_retry_racing_the_first_send_gets_its_result_not_an_error(
    client: Any, settings: Settings, world: World, tmp_path: Path, monkeypatch: Any
) -> None:
    """Two sends with one client message id at once: both pass the "already stored?"
    check, the database's unique key stops the second, which answers the first result."""
    from app.messaging import store

    f = family(client, tmp_path, world)
    body = {"clientMessageId": "race-1", "ciphertexts": _valid(f, f.family_thread, "race-1")}
    first = post(client, f.family_thread, body, world.therapist.headers)
    assert first.status_code == 201, first.text
    before = counts(settings)
    real = store.envelope_by_client_id
    calls: list[int] = []

    async def misses_once(*args: Any) -> Any:
        calls.append(1)
        return None if len(calls) == 1 else await real(*args)

    monkeypatch.setattr(store, "envelope_by_client_id", misses_once)
    again = post(client, f.family_thread, body, world.therapist.headers)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert counts(settings) == before


def test_rows_hidden_from_a_removed_member_get_no_delivery_receipt(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    result = f.therapist.send_text(f.family_thread, "before")
    r = client.delete(
        f"/cases/{world.case_id}/members/{world.guardian2.user_id}",
        headers=world.therapist.headers,
    )
    assert r.status_code == 204, r.text
    # the removed member's device acknowledges up to its last sequence: the row is
    # deleted, but it was never handed out, so it is not "delivered"
    r = client.post("/mailbox/ack", json={"upToSeq": 1}, headers=world.guardian2.headers)
    assert r.status_code == 200, r.text
    delivered = f.therapist.api.deliveries(result["id"])["delivered"]
    assert str(world.guardian2.device_id) not in {d["deviceId"] for d in delivered}


def test_a_failing_mailbox_read_closes_the_socket_for_a_resync(
    client: Any, settings: Settings, world: World, tmp_path: Path, monkeypatch: Any
) -> None:
    from ws_support import close, closed_with, connect

    from app.messaging.service import MessagingService

    f = family(client, tmp_path, world)
    f.therapist.send_text(f.family_thread, "hei")

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("database unreachable")

    monkeypatch.setattr(MessagingService, "fetch", broken)
    ws = connect(client, world.guardian2)
    ws.send_json({"type": "sync", "afterSeq": 0})
    try:
        assert closed_with(ws) == (4008, "resync")
    finally:
        monkeypatch.undo()
        close(ws)


def test_a_download_in_flight_survives_the_purge_of_its_blob(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    from app.storage.blobs import BlobStore

    f = family(client, tmp_path, world)
    data = b"kuva" * 50_000
    _, pointer = f.therapist.send_attachment(f.family_thread, [data], "image/png")
    with client.stream(
        "GET", f"/attachments/{pointer.blob_id}", headers=world.guardian.headers
    ) as response:
        assert response.status_code == 200
        chunks = response.iter_bytes()
        first = next(chunks)
        for path in BlobStore(settings.effective_blob_dir).files():
            path.unlink()  # the purge deletes the file meanwhile
        body = first + b"".join(chunks)
    assert len(body) == int(response.headers["content-length"])
