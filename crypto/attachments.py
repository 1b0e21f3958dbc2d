"""Attachment encryption: libsodium secretstream XChaCha20-Poly1305, streamed.

Blob layout: ``b"KAA" | format (1 byte) | secretstream header (24 bytes) |
records``. Plaintext is cut into records of :data:`RECORD_SIZE` bytes (the last
one may be shorter or empty); each record is ``RECORD_SIZE + 17`` bytes of
ciphertext, and only the last carries ``TAG_FINAL``. Input and output are
iterables of chunks, so a 25 MiB file is never held in memory, let alone twice.

The pointer (:class:`crypto.payloads.AttachmentPointer`) travels inside an
E2E message: blob id, the random key, SHA-256 of the whole blob, plaintext size
and media type. Decryption authenticates every record, refuses a stream that
ends before its final record (truncation) or continues after it, and checks
size and hash at the end. Because plaintext is yielded as it is authenticated,
a consumer must discard what it got if iteration raises (write to a temporary
file and rename it only on success).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator

import nacl.bindings as sodium
import nacl.exceptions

from crypto.canonical import b64encode, decode_key
from crypto.errors import AttachmentError, EncodingError, TruncatedAttachmentError
from crypto.payloads import MAX_ATTACHMENT_SIZE, AttachmentPointer

MAGIC = b"KAA"
FORMAT = 1
RECORD_SIZE = 64 * 1024
_ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_HEADER = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
_PREFIX = len(MAGIC) + 1 + _HEADER
_TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL


def _rechunk(source: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Yield pieces of exactly ``size`` bytes, then the (possibly empty) rest."""
    buf = bytearray()
    for chunk in source:
        buf += chunk
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    yield bytes(buf)


class EncryptedStream:
    """Iterate to get the ciphertext; then :meth:`pointer` describes the blob."""

    def __init__(self, source: Iterable[bytes], key: bytes | None = None) -> None:
        self.key = key or sodium.crypto_secretstream_xchacha20poly1305_keygen()
        self._source = source
        self._sha = hashlib.sha256()
        self._size = 0
        self._done = False
        self._started = False

    def __iter__(self) -> Iterator[bytes]:
        if self._started:
            raise RuntimeError("an EncryptedStream can be iterated only once")
        self._started = True
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, self.key)
        prefix = MAGIC + bytes([FORMAT]) + header
        self._sha.update(prefix)
        yield prefix
        records = _rechunk(source=self._source, size=RECORD_SIZE)
        pending = next(records)
        for record in records:
            yield self._push(state, pending, _TAG_MESSAGE)
            pending = record
        yield self._push(state, pending, _TAG_FINAL)
        self._done = True

    def _push(
        self, state: sodium.crypto_secretstream_xchacha20poly1305_state, m: bytes, tag: int
    ) -> bytes:
        self._size += len(m)
        if self._size > MAX_ATTACHMENT_SIZE:
            raise AttachmentError(f"attachment larger than {MAX_ATTACHMENT_SIZE} bytes")
        c = sodium.crypto_secretstream_xchacha20poly1305_push(state, m, None, tag)
        self._sha.update(c)
        return c

    def pointer(
        self, blob_id: str, media_type: str, file_name: str | None = None
    ) -> AttachmentPointer:
        """The pointer to put in an E2E message (only after the stream was consumed)."""
        if not self._done:
            raise RuntimeError("consume the whole stream before asking for its pointer")
        return AttachmentPointer(
            blob_id=blob_id,
            key=b64encode(self.key),
            sha256=b64encode(self._sha.digest()),
            size=self._size,
            media_type=media_type,
            file_name=file_name,
            format=FORMAT,
        )


def encrypt_stream(source: Iterable[bytes], key: bytes | None = None) -> EncryptedStream:
    """Encrypt an iterable of plaintext chunks under a fresh random key."""
    return EncryptedStream(source, key)


def decrypt_stream(source: Iterable[bytes], pointer: AttachmentPointer) -> Iterator[bytes]:
    """Authenticate and decrypt a blob; yield plaintext records.

    Raises :class:`AttachmentError` (bad format, authentication, size or hash)
    or :class:`TruncatedAttachmentError` (no final record).
    """
    if pointer.format != FORMAT:
        raise AttachmentError(f"unsupported attachment format {pointer.format}")
    try:
        key = decode_key(pointer.key)
        expected_hash = decode_key(pointer.sha256)
    except EncodingError as exc:
        raise AttachmentError(f"bad attachment pointer: {exc}") from exc
    sha = hashlib.sha256()
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    record_len = RECORD_SIZE + _ABYTES
    buf = bytearray()
    size = 0
    started = False
    finished = False

    def pull(record: bytes) -> Iterator[bytes]:
        nonlocal size, finished
        if finished:
            raise AttachmentError("data after the final record")
        try:
            m, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, record, None)
        except (nacl.exceptions.CryptoError, ValueError) as exc:
            raise AttachmentError("attachment record failed authentication") from exc
        if tag == _TAG_FINAL:
            finished = True
        elif tag != _TAG_MESSAGE:
            raise AttachmentError(f"unexpected secretstream tag {tag}")
        size += len(m)
        if size > pointer.size:
            raise AttachmentError("attachment is larger than its pointer says")
        if m:
            yield m

    for chunk in source:
        sha.update(chunk)
        buf += chunk
        if not started:
            if len(buf) < _PREFIX:
                continue
            if bytes(buf[: len(MAGIC)]) != MAGIC or buf[len(MAGIC)] != FORMAT:
                raise AttachmentError("not a Kaari attachment blob")
            sodium.crypto_secretstream_xchacha20poly1305_init_pull(
                state, bytes(buf[len(MAGIC) + 1 : _PREFIX]), key
            )
            del buf[:_PREFIX]
            started = True
        # Keep one full record back: only at the end do we know which one is last.
        while len(buf) > record_len:
            yield from pull(bytes(buf[:record_len]))
            del buf[:record_len]
    if not started:
        raise TruncatedAttachmentError("attachment blob ends inside its header")
    if buf:
        yield from pull(bytes(buf))
    if not finished:
        raise TruncatedAttachmentError("attachment ended before its final record")
    if size != pointer.size:
        raise AttachmentError(f"attachment has {size} bytes, pointer says {pointer.size}")
    if not hmac.compare_digest(sha.digest(), expected_hash):
        raise AttachmentError("attachment ciphertext hash mismatch")


def decrypt_bytes(blob: bytes, pointer: AttachmentPointer) -> bytes:
    """Convenience: decrypt a whole blob held in memory."""
    return b"".join(decrypt_stream([blob], pointer))
