"""Streamed attachment encryption (secretstream XChaCha20-Poly1305)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import msgspec
import pytest

from crypto.attachments import RECORD_SIZE, decrypt_bytes, decrypt_stream, encrypt_stream
from crypto.canonical import b64encode
from crypto.errors import AttachmentError, TruncatedAttachmentError
from crypto.payloads import AttachmentPointer


def _encrypt(data: bytes, chunk: int = 10_000) -> tuple[bytes, AttachmentPointer]:
    stream = encrypt_stream(data[i : i + chunk] for i in range(0, len(data), chunk))
    blob = b"".join(stream)
    return blob, stream.pointer("blob-1", "image/jpeg", "drawing.jpg")


@pytest.mark.parametrize(
    "size", [0, 1, RECORD_SIZE - 1, RECORD_SIZE, RECORD_SIZE + 1, 3 * RECORD_SIZE]
)
def test_round_trip(size: int) -> None:
    data = os.urandom(size)
    blob, ptr = _encrypt(data)
    assert ptr.size == size
    assert ptr.sha256 == b64encode(hashlib.sha256(blob).digest())
    assert decrypt_bytes(blob, ptr) == data
    # arbitrary re-chunking of the ciphertext on the way back
    pieces = [blob[i : i + 7777] for i in range(0, len(blob), 7777)]
    assert b"".join(decrypt_stream(pieces, ptr)) == data


def test_25_mib_streams_in_bounded_chunks() -> None:
    total = 25 * 1024 * 1024

    def source() -> Iterator[bytes]:
        block = b"\x5a" * (1024 * 1024)
        for _ in range(25):
            yield block

    stream = encrypt_stream(source())
    sha = hashlib.sha256()
    largest = 0
    for piece in stream:
        sha.update(piece)
        largest = max(largest, len(piece))
    assert largest <= RECORD_SIZE + 17
    ptr = stream.pointer("big", "video/mp4")
    assert ptr.size == total


def test_tampered_blob_rejected() -> None:
    blob, ptr = _encrypt(os.urandom(100_000))
    tampered = bytearray(blob)
    tampered[5000] ^= 1
    with pytest.raises(AttachmentError):
        decrypt_bytes(bytes(tampered), ptr)


def test_truncation_detected() -> None:
    data = os.urandom(3 * RECORD_SIZE + 100)
    blob, ptr = _encrypt(data)
    record = RECORD_SIZE + 17
    header = 28
    for cut in (10, header, header + record, header + 2 * record, len(blob) - 1):
        with pytest.raises((TruncatedAttachmentError, AttachmentError)):
            decrypt_bytes(blob[:cut], ptr)
    # dropping exactly the final record leaves only whole, authentic records
    with pytest.raises(TruncatedAttachmentError):
        decrypt_bytes(blob[: header + 3 * record], ptr)


def test_appended_data_and_wrong_pointer_rejected() -> None:
    blob, ptr = _encrypt(os.urandom(5000))
    with pytest.raises(AttachmentError):
        decrypt_bytes(blob + b"x" * 40, ptr)
    with pytest.raises(AttachmentError):
        decrypt_bytes(blob, msgspec.structs.replace(ptr, sha256=b64encode(bytes(32))))
    with pytest.raises(AttachmentError):
        decrypt_bytes(blob, msgspec.structs.replace(ptr, size=4999))
    with pytest.raises(AttachmentError):
        decrypt_bytes(blob, msgspec.structs.replace(ptr, key=b64encode(os.urandom(32))))
