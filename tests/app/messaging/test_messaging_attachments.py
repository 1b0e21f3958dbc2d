"""Encrypted attachments: streamed upload with a limit, members-only download, expiry."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from conftest import World
from messaging_support import counts, family
from support import assert_problem, run

from app.config import Settings
from app.core.time import utcnow
from app.messaging.expiry import Expiry
from app.storage.blobs import BlobStore
from app.storage.engine import Database
from client.api import ApiError
from crypto.errors import AttachmentError
from crypto.payloads import AttachmentPointer


@pytest.fixture
def small(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, attachment_max_bytes=200_000)


def blob_files(settings: Settings) -> list[Path]:
    return BlobStore(settings.effective_blob_dir).files()


def test_a_picture_travels_encrypted_and_only_members_can_fetch_it(
    client: Any, settings: Settings, world: World, other_world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    picture = os.urandom(150_000)
    chunks = [picture[i : i + 10_000] for i in range(0, len(picture), 10_000)]
    _, pointer = f.guardian.send_attachment(f.child_thread, chunks, "image/jpeg", "bike.jpg")
    (received,) = f.therapist.sync()
    assert isinstance(received.payload, AttachmentPointer)
    assert b"".join(f.therapist.fetch_attachment(received.payload)) == picture
    assert b"".join(f.child.fetch_attachment(pointer)) == picture
    # the stored blob is not the picture
    (path,) = blob_files(settings)
    stored = path.read_bytes()
    assert picture[:64] not in stored
    assert len(stored) > len(picture)
    # outsiders: another organisation, and a member of the case outside the thread
    r = client.get(f"/attachments/{pointer.blob_id}", headers=other_world.therapist.headers)
    assert_problem(r, 404, "attachment_not_found")
    _, family_pointer = f.therapist.send_attachment(f.family_thread, [b"plan"], "application/pdf")
    child = {"authorization": f"Bearer {f.child.api.token}"}
    assert_problem(
        client.get(f"/attachments/{family_pointer.blob_id}", headers=child),
        404,
        "attachment_not_found",
    )
    r = client.post(f"/threads/{f.family_thread}/attachments", content=b"xx", headers=child)
    assert_problem(r, 404, "thread_not_found")
    # a tampered blob is refused by the client (hash and authentication tags)
    path.write_bytes(stored[:-1] + bytes([stored[-1] ^ 1]))
    with pytest.raises(AttachmentError):
        b"".join(f.therapist.fetch_attachment(pointer))


def test_oversize_and_empty_uploads_store_nothing(
    small: Settings, world: World, tmp_path: Path
) -> None:
    from litestar.testing import TestClient

    from app.main import create_app

    with TestClient(create_app(small)) as client:
        w = world
        f = family(client, tmp_path, w)
        before = counts(small)
        # announced too large: refused before reading
        r = client.post(
            f"/threads/{f.family_thread}/attachments",
            content=b"x" * 200_001,
            headers=w.therapist.headers,
        )
        assert_problem(r, 413, "attachment_too_large")

        # streamed without a length: refused once the limit is passed
        def stream() -> Any:
            for _ in range(30):
                yield b"y" * 10_000

        with pytest.raises(ApiError) as info:
            f.therapist.api.upload_attachment(f.family_thread, stream())
        assert info.value.status == 413
        assert info.value.code == "attachment_too_large"
        with pytest.raises(ApiError) as info:
            f.therapist.api.upload_attachment(f.family_thread, [b""])
        assert info.value.code == "attachment_empty"
        assert counts(small) == before
        assert blob_files(small) == []


def test_expired_messages_and_blobs_are_purged(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    _, pointer = f.therapist.send_attachment(f.family_thread, [b"plan"], "application/pdf")
    f.guardian.sync()
    assert counts(settings)["mailbox"] == 2  # guardian's tablet and guardian2 have not synced
    assert len(blob_files(settings)) == 1

    async def purge(days: int) -> Any:
        db = Database(settings.effective_database_url)
        try:
            later = utcnow() + timedelta(days=days)
            return await Expiry(
                db, BlobStore(settings.effective_blob_dir), lambda: later
            ).run_once()
        finally:
            await db.dispose()

    nothing = run(purge(29))
    assert (nothing.mailbox_rows, nothing.envelopes, nothing.attachments) == (0, 0, 0)
    purged = run(purge(31))
    assert (purged.mailbox_rows, purged.envelopes, purged.attachments) == (2, 1, 1)
    assert counts(settings) == {"envelopes": 0, "mailbox": 0, "deliveries": 0, "attachments": 0}
    assert blob_files(settings) == []
    r = client.get(f"/attachments/{pointer.blob_id}", headers=world.guardian.headers)
    assert_problem(r, 404, "attachment_not_found")
