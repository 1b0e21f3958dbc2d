"""The blob store: encrypted attachment bytes on the filesystem, never in the database.

A blob is written to a temporary file while it streams in (never held in memory
whole), flushed to disk and renamed into place only when complete, so a reader never
sees half a blob and a failed upload leaves nothing behind. Blobs are opaque: they
were encrypted on the device (crypto/attachments.py) and the server has no key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO
from uuid import UUID

CHUNK = 64 * 1024


class BlobTooLarge(Exception):
    pass


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, blob_id: UUID) -> Path:
        name = blob_id.hex
        return self.root / name[:2] / name

    async def write(
        self, blob_id: UUID, chunks: AsyncIterable[bytes], max_bytes: int
    ) -> tuple[int, str]:
        """Store the stream as ``blob_id``; returns (size, SHA-256 hex).

        Raises ``BlobTooLarge`` (and keeps nothing) past ``max_bytes``."""
        final = self._path(blob_id)
        await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
        temp = final.with_name(f".{final.name}.part")
        digest = hashlib.sha256()
        size = 0
        handle = await asyncio.to_thread(open, temp, "wb")
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if size > max_bytes:
                    raise BlobTooLarge
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(_sync_close, handle)
            await asyncio.to_thread(os.replace, temp, final)
        except BaseException:
            handle.close()
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(temp.unlink)
            raise
        return size, digest.hexdigest()

    def exists(self, blob_id: UUID) -> bool:
        return self._path(blob_id).is_file()

    async def open(self, blob_id: UUID) -> AsyncIterator[bytes]:
        """The blob's bytes in chunks. The file is opened now (FileNotFoundError if it
        is gone), so a purge after this call cannot cut the download short."""
        handle = await asyncio.to_thread(open, self._path(blob_id), "rb")
        return _chunks(handle)

    async def delete(self, blob_id: UUID) -> bool:
        """Delete the blob's file; whether there was one (another instance may have been
        first)."""
        try:
            await asyncio.to_thread(self._path(blob_id).unlink)
        except FileNotFoundError:
            return False
        return True

    def stale(self, before: float) -> tuple[list[UUID], list[UUID]]:
        """The blobs, and the ``.part`` files of unfinished uploads, last written at or
        before ``before`` (seconds since the epoch, the file system's clock): (blob ids, ids of
        the parts). Files with any other name are never listed, so never swept."""
        blobs: list[UUID] = []
        parts: list[UUID] = []
        if not self.root.is_dir():
            return blobs, parts
        for shard in os.scandir(self.root):
            if not (shard.is_dir(follow_symlinks=False) and _HEX2.fullmatch(shard.name)):
                continue
            for entry in os.scandir(shard.path):
                blob_id = _blob_id(shard.name, entry.name)
                if blob_id is None or not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    written = entry.stat(follow_symlinks=False).st_mtime
                except FileNotFoundError:
                    continue  # renamed or deleted meanwhile
                if written <= before:
                    (parts if entry.name.endswith(".part") else blobs).append(blob_id)
        return blobs, parts

    async def delete_part(self, blob_id: UUID, before: float) -> bool:
        """Delete an upload's ``.part`` file if it was still last written at or before
        ``before`` (checked again here: an upload that wrote meanwhile keeps it)."""
        final = self._path(blob_id)
        part = final.with_name(f".{final.name}.part")

        def unlink() -> bool:
            try:
                if part.stat().st_mtime > before:
                    return False
                part.unlink()
            except FileNotFoundError:
                return False
            return True

        return await asyncio.to_thread(unlink)

    def files(self) -> list[Path]:
        """Every blob file (for operators and tests)."""
        if not self.root.exists():
            return []
        return [p for p in self.root.rglob("*") if p.is_file()]


_HEX2 = re.compile(r"[0-9a-f]{2}")
_BLOB_NAME = re.compile(r"\.?([0-9a-f]{32})(\.part)?")


def _blob_id(shard: str, name: str) -> UUID | None:
    """The blob id a file name in ``shard`` stands for (``<hex>`` or ``.<hex>.part``)."""
    match = _BLOB_NAME.fullmatch(name)
    if match is None or name.startswith(".") != bool(match.group(2)):
        return None
    if not match.group(1).startswith(shard):
        return None  # not where the store puts it: never the store's
    return UUID(hex=match.group(1))


async def _chunks(handle: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            yield chunk
    finally:
        handle.close()


def _sync_close(handle: object) -> None:
    import io

    assert isinstance(handle, io.BufferedWriter)
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
