"""Server-side key backup at the Matrix paths (``room_keys/version``, ``room_keys/keys``;
docs/matrix-api.md): a user's Megolm session keys, encrypted on the device to the backup's
public key (``m.megolm_backup.v1.curve25519-aes-sha2``); the server stores opaque
``session_data`` and never sees a key.

* A user has numbered versions; the newest not deleted is the current one. Keys are
  written only to the current version (else 403 ``M_WRONG_ROOM_KEYS_VERSION`` with
  ``current_version``), read from any existing one.
* A stored key is replaced only by a better one: verified over unverified, then a lower
  ``first_message_index``, then a lower ``forwarded_count`` (the spec's rule).
* Every change bumps the version's ``etag``; answers carry ``count`` and ``etag``.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from msgspec import Meta

from app.core.matrix import MatrixError
from app.core.principal import Principal
from app.core.time import Clock
from app.keys import backup_store as bs
from app.storage.engine import Database

BACKUP_ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
RoomKey = Annotated[str, Meta(min_length=1, max_length=255)]
SessionKey = Annotated[str, Meta(min_length=1, max_length=255)]


class KeyBackupData(msgspec.Struct, kw_only=True):
    first_message_index: Annotated[int, Meta(ge=0)]
    forwarded_count: Annotated[int, Meta(ge=0)]
    is_verified: bool
    session_data: Annotated[dict[str, Any], Meta(max_length=8)]


class RoomKeyBackup(msgspec.Struct, kw_only=True):
    sessions: Annotated[dict[SessionKey, KeyBackupData], Meta(max_length=1000)]


class KeysBackup(msgspec.Struct, kw_only=True):
    rooms: Annotated[dict[RoomKey, RoomKeyBackup], Meta(max_length=1000)]


class VersionIn(msgspec.Struct, kw_only=True):
    algorithm: Annotated[str, Meta(max_length=64)]
    auth_data: Annotated[dict[str, Any], Meta(max_length=16)]
    version: Annotated[str, Meta(max_length=20)] | None = None


def _no_backup() -> MatrixError:
    return MatrixError(404, "M_NOT_FOUND", "Unknown backup version", code="backup_not_found")


def _version_number(text: str) -> int:
    if not text.isdigit() or len(text) > 9:
        raise _no_backup()
    return int(text)


def _better(new: KeyBackupData, old: Any) -> bool:
    if new.is_verified != old.is_verified:
        return new.is_verified
    if new.first_message_index != old.first_message_index:
        return bool(new.first_message_index < old.first_message_index)
    return bool(new.forwarded_count < old.forwarded_count)


def _data(row: Any) -> dict[str, Any]:
    return {
        "first_message_index": row.first_message_index,
        "forwarded_count": row.forwarded_count,
        "is_verified": row.is_verified,
        "session_data": row.session_data,
    }


class KeyBackup:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    # versions

    async def create_version(self, principal: Principal, body: VersionIn) -> dict[str, str]:
        if body.algorithm != BACKUP_ALGORITHM:
            raise MatrixError(
                400, "M_INVALID_PARAM", f"Only {BACKUP_ALGORITHM}", code="backup_algorithm"
            )
        async with self.db.transaction() as conn:
            await bs.lock_versions(conn, principal.user_id)
            version = await bs.last_version_number(conn, principal.user_id) + 1
            await bs.insert_version(
                conn,
                user_id=principal.user_id,
                version=version,
                algorithm=body.algorithm,
                auth_data=body.auth_data,
                etag=0,
                created_at=self.clock(),
            )
        return {"version": str(version)}

    async def get_version(self, principal: Principal, version: str | None) -> dict[str, Any]:
        async with self.db.read() as conn:
            if version is None:
                row = await bs.current_version(conn, principal.user_id)
            else:
                row = await bs.get_version(conn, principal.user_id, _version_number(version))
            if row is None or row.deleted_at is not None:
                raise _no_backup()
            count = await bs.count_keys(conn, principal.user_id, row.version)
        return {
            "algorithm": row.algorithm,
            "auth_data": row.auth_data,
            "count": count,
            "etag": str(row.etag),
            "version": str(row.version),
        }

    async def update_version(
        self, principal: Principal, version: str, body: VersionIn
    ) -> dict[str, Any]:
        number = _version_number(version)
        if body.version is not None and body.version != version:
            raise MatrixError(
                400, "M_INVALID_PARAM", "The version differs from the path", code="version_mismatch"
            )
        async with self.db.transaction() as conn:
            await bs.lock_versions(conn, principal.user_id)
            row = await bs.get_version(conn, principal.user_id, number)
            if row is None or row.deleted_at is not None:
                raise _no_backup()
            if row.algorithm != body.algorithm:
                raise MatrixError(
                    400, "M_INVALID_PARAM", "Algorithm does not match", code="backup_algorithm"
                )
            await bs.update_version(conn, principal.user_id, number, auth_data=body.auth_data)
        return {}

    async def delete_version(self, principal: Principal, version: str) -> dict[str, Any]:
        number = _version_number(version)
        async with self.db.transaction() as conn:
            await bs.lock_versions(conn, principal.user_id)
            row = await bs.get_version(conn, principal.user_id, number)
            if row is None:
                raise _no_backup()
            if row.deleted_at is None:
                await bs.mark_deleted(conn, principal.user_id, number, self.clock())
        return {}

    # keys

    async def put_keys(
        self, principal: Principal, version: str, body: KeysBackup
    ) -> dict[str, Any]:
        number = _version_number(version)
        now = self.clock()
        async with self.db.transaction() as conn:
            await bs.lock_versions(conn, principal.user_id)
            current = await bs.current_version(conn, principal.user_id)
            if current is None:
                raise _no_backup()
            if current.version != number:
                raise MatrixError(
                    403,
                    "M_WRONG_ROOM_KEYS_VERSION",
                    "Wrong backup version.",
                    code="wrong_room_keys_version",
                    extra={"current_version": str(current.version)},
                )
            changed = False
            for room, backup in body.rooms.items():
                for session, data in backup.sessions.items():
                    old = await bs.get_keys(conn, principal.user_id, number, room, session)
                    if old and not _better(data, old[0]):
                        continue
                    await bs.put_key(
                        conn,
                        user_id=principal.user_id,
                        version=number,
                        room_id=room,
                        session_id=session,
                        first_message_index=data.first_message_index,
                        forwarded_count=data.forwarded_count,
                        is_verified=data.is_verified,
                        session_data=data.session_data,
                        updated_at=now,
                    )
                    changed = True
            if changed:
                await bs.bump_etag(conn, principal.user_id, number)
            return await self._summary(conn, principal.user_id, number)

    async def _summary(self, conn: Any, user_id: UUID, version: int) -> dict[str, Any]:
        row = await bs.get_version(conn, user_id, version)
        assert row is not None
        return {"count": await bs.count_keys(conn, user_id, version), "etag": str(row.etag)}

    async def get_keys(
        self, principal: Principal, version: str, room: str | None, session: str | None
    ) -> dict[str, Any]:
        number = _version_number(version)
        async with self.db.read() as conn:
            row = await bs.get_version(conn, principal.user_id, number)
            if row is None or row.deleted_at is not None:
                raise _no_backup()
            rows = await bs.get_keys(conn, principal.user_id, number, room, session)
        if session is not None:
            if not rows:
                raise MatrixError(404, "M_NOT_FOUND", "No such key", code="backup_key_not_found")
            return _data(rows[0])
        rooms: dict[str, Any] = {}
        for r in rows:
            rooms.setdefault(r.room_id, {"sessions": {}})["sessions"][r.session_id] = _data(r)
        if room is not None:
            one: dict[str, Any] = rooms.get(room, {"sessions": {}})
            return one
        return {"rooms": rooms}

    async def delete_keys(
        self, principal: Principal, version: str, room: str | None, session: str | None
    ) -> dict[str, Any]:
        number = _version_number(version)
        async with self.db.transaction() as conn:
            await bs.lock_versions(conn, principal.user_id)
            row = await bs.get_version(conn, principal.user_id, number)
            if row is None or row.deleted_at is not None:
                raise _no_backup()
            if await bs.delete_keys(conn, principal.user_id, number, room, session):
                await bs.bump_etag(conn, principal.user_id, number)
            return await self._summary(conn, principal.user_id, number)
