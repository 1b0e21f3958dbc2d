"""A task's pictures and videos: encrypted attachments of the case's homework room, read
by exactly the room's members, and kept as long as the room's events once a task names
them (``mediaBlobIds``); wrong blobs, roles and foreign cases are refused."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from conftest import World
from litestar.testing import TestClient
from support import Session, assert_problem

from app.messaging.service import thread_id_of

from homework_support import (  # isort: skip
    NOW,
    assign,
    new_caregiver,
    pair_child,
    set_now,
    settings,
    task_body,
)

__all__ = ["settings"]  # fixtures


@pytest.fixture(autouse=True)
def _clock(client: TestClient[Any]) -> None:
    set_now(client, NOW)


def upload(client: TestClient[Any], who: Session, case_id: UUID, kind: str = "homework") -> Any:
    return client.post(
        f"/threads/{thread_id_of(case_id, kind)}/attachments",
        content=b"ciphertext of a picture" * 10,
        headers=who.headers,
    )


def blob(client: TestClient[Any], who: Session, case_id: UUID, kind: str = "homework") -> str:
    r = upload(client, who, case_id, kind)
    assert r.status_code == 201, r.text
    blob_id: str = r.json()["id"]
    return blob_id


def fetch(client: TestClient[Any], who: Session, blob_id: str) -> Any:
    return client.get(f"/attachments/{blob_id}", headers=who.headers)


def test_the_homework_room_takes_a_task_s_pictures_for_its_members(
    client: TestClient[Any], world: World
) -> None:
    child = pair_child(client, world)
    picture = blob(client, world.therapist, world.case_id)
    assign(client, world, mediaBlobIds=[picture])
    for reader in (world.therapist, world.guardian, world.guardian2, child):
        r = fetch(client, reader, picture)
        assert r.status_code == 200, r.text
        assert r.content == b"ciphertext of a picture" * 10
    # a caregiver reads it with the homework grant only
    carer = new_caregiver(client, world, ["schedule"])
    assert_problem(fetch(client, carer, picture), 404, "attachment_not_found")
    assert_problem(upload(client, carer, world.case_id), 404, "thread_not_found")
    r = client.put(
        f"/cases/{world.case_id}/members/{carer.user_id}/scopes",
        json={"scopes": ["schedule", "homework"]},
        headers=world.guardian.headers,
    )
    assert r.status_code == 204, r.text
    assert fetch(client, carer, picture).status_code == 200


def test_a_task_keeps_its_pictures_past_a_message_file_s_days(
    client: TestClient[Any], world: World
) -> None:
    kept, edited, loose = (blob(client, world.therapist, world.case_id) for _ in range(3))
    task = assign(client, world, mediaBlobIds=[kept])
    body = task_body(client, world.case_id, world.therapist)
    r = client.patch(
        f"/homework/{task['id']}",
        json={"contentEventId": body["contentEventId"], "mediaBlobIds": [edited]},
        headers=world.therapist.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["contentVersion"] == 2
    # a message's file lasts 30 days; the task's stay
    set_now(client, NOW + timedelta(days=45))
    assert fetch(client, world.guardian, kept).status_code == 200
    assert fetch(client, world.guardian, edited).status_code == 200
    assert_problem(fetch(client, world.guardian, loose), 404, "attachment_not_found")


def test_only_this_device_s_homework_attachments_are_a_task_s_media(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    url = f"/cases/{world.case_id}/homework"
    t = world.therapist
    family_file = blob(client, world.guardian, world.case_id, "family")
    others = blob(client, world.guardian, world.case_id)
    for wrong in (family_file, others, str(uuid.uuid4())):
        body = task_body(client, world.case_id, t, mediaBlobIds=[wrong])
        assert_problem(client.post(url, json=body, headers=t.headers), 422,
                       "homework_media_invalid")  # fmt: skip
    assert client.get(url, headers=t.headers).json() == []
    # more than a task's content may hold, or not an id
    mine = blob(client, t, world.case_id)
    for bad in ([mine] * 21, ["not-a-uuid"]):
        body = task_body(client, world.case_id, t, mediaBlobIds=bad)
        assert client.post(url, json=body, headers=t.headers).status_code == 422
    # an edit names a blob of another case
    task = assign(client, world)
    foreign = blob(client, other_world.therapist, other_world.case_id)
    r = client.patch(f"/homework/{task['id']}", json={"mediaBlobIds": [foreign]}, headers=t.headers)
    assert_problem(r, 422, "homework_media_invalid")
    # a stranger cannot upload to the room nor read the case's picture
    assert_problem(upload(client, other_world.therapist, world.case_id), 404, "thread_not_found")
    assert_problem(fetch(client, other_world.therapist, mine), 404, "attachment_not_found")
    # nor may a guardian set a task with one
    theirs = blob(client, world.guardian, world.case_id)
    body = task_body(client, world.case_id, world.guardian, mediaBlobIds=[theirs])
    assert client.post(url, json=body, headers=world.guardian.headers).status_code == 403
