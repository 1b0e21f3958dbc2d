"""Encrypted attachments: streamed upload with a limit, members-only download, expiry
(the blob a Matrix ``m.file`` event points at)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from conftest import World
from messaging_support import counts, family, send_file
from support import assert_problem, run

from app.config import Settings
from app.core.time import utcnow
from app.messaging.expiry import Expiry
from app.storage.blobs import BlobStore
from app.storage.engine import Database
from client.api import ApiError
from crypto.attachments import decrypt_stream
from crypto.errors import AttachmentError


@pytest.fixture
def small(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, attachment_max_bytes=200_000)


def blob_files(settings: Settings) -> list[Path]:
    return BlobStore(settings.effective_blob_dir).files()


def test_a_picture_travels_encrypted_and_only_members_can_fetch_it(
    client: Any, settings: Settings, world: World, other_world: World
) -> None:
    f = family(client, world)
    picture = os.urandom(150_000)
    chunks = [picture[i : i + 10_000] for i in range(0, len(picture), 10_000)]
    pointer = send_file(f.guardian, f.child_thread, chunks, "image/jpeg", "bike.jpg")
    for reader in (f.therapist, f.child):
        got = decrypt_stream(reader.download_attachment(pointer.blob_id), pointer)
        assert b"".join(got) == picture
    # the stored blob is not the picture
    (path,) = blob_files(settings)
    stored = path.read_bytes()
    assert picture[:64] not in stored
    assert len(stored) > len(picture)
    # outsiders: another organisation, and a member of the case outside the thread
    r = client.get(f"/attachments/{pointer.blob_id}", headers=other_world.therapist.headers)
    assert_problem(r, 404, "attachment_not_found")
    family_pointer = send_file(f.therapist, f.family_thread, [b"plan"], "application/pdf")
    child = {"authorization": f"Bearer {f.child.token}"}
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
        b"".join(decrypt_stream(f.therapist.download_attachment(pointer.blob_id), pointer))


def test_oversize_and_empty_uploads_store_nothing(small: Settings, world: World) -> None:
    from litestar.testing import TestClient

    from app.main import create_app

    with TestClient(create_app(small)) as client:
        w = world
        f = family(client, w)
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
            f.therapist.upload_attachment(f.family_thread, stream())
        assert info.value.status == 413
        assert info.value.code == "attachment_too_large"
        with pytest.raises(ApiError) as info:
            f.therapist.upload_attachment(f.family_thread, [b""])
        assert info.value.code == "attachment_empty"
        assert counts(small) == before
        assert blob_files(small) == []


def test_expired_attachments_and_their_blobs_are_purged(
    client: Any, settings: Settings, world: World
) -> None:
    f = family(client, world)
    pointer = send_file(f.therapist, f.family_thread, [b"plan"], "application/pdf")
    assert counts(settings) == {"attachments": 1}
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
    assert nothing.attachments == 0
    purged = run(purge(31))
    assert purged.attachments == 1
    assert counts(settings) == {"attachments": 0}
    assert blob_files(settings) == []
    r = client.get(f"/attachments/{pointer.blob_id}", headers=world.guardian.headers)
    assert_problem(r, 404, "attachment_not_found")


def test_a_download_in_flight_survives_the_purge_of_its_blob(
    client: Any, settings: Settings, world: World
) -> None:
    f = family(client, world)
    pointer = send_file(f.therapist, f.family_thread, [b"kuva" * 50_000], "image/png")
    with client.stream(
        "GET", f"/attachments/{pointer.blob_id}", headers=world.guardian.headers
    ) as response:
        assert response.status_code == 200
        chunks = response.iter_bytes()
        first = next(chunks)
        for path in blob_files(settings):
            path.unlink()  # the purge deletes the file meanwhile
        body = first + b"".join(chunks)
    assert len(body) == int(response.headers["content-length"])
