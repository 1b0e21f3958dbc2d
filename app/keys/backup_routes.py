"""Key backup at the Matrix paths (``/_matrix/client/v3/room_keys/…``): thin handlers over
``KeyBackup`` (docs/matrix-api.md)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from app.core.principal import Principal
from app.keys.backup import KeyBackup, KeyBackupData, KeysBackup, RoomKeyBackup, VersionIn
from app.quotas import quota

Version = Annotated[str, QueryParameter(name="version", max_length=20)]
#: every write to the backup (versions and keys) counts against one quota per device
WRITE = quota("key_backup_write")


class MatrixBackupController(Controller):
    path = "/_matrix/client/v3/room_keys"
    tags = ["matrix"]

    @post("/version", status_code=200, opt=WRITE)
    async def create_version(
        self,
        data: JSONBody[VersionIn],
        principal: NamedDependency[Principal],
        key_backup: NamedDependency[KeyBackup],
    ) -> dict[str, str]:
        return await key_backup.create_version(principal, data)

    @get("/version")
    async def current_version(
        self, principal: NamedDependency[Principal], key_backup: NamedDependency[KeyBackup]
    ) -> dict[str, Any]:
        return await key_backup.get_version(principal, None)

    @get("/version/{version:str}")
    async def get_version(
        self,
        version: FromPath[str],
        principal: NamedDependency[Principal],
        key_backup: NamedDependency[KeyBackup],
    ) -> dict[str, Any]:
        return await key_backup.get_version(principal, version)

    @put("/version/{version:str}", opt=WRITE)
    async def update_version(
        self,
        version: FromPath[str],
        data: JSONBody[VersionIn],
        principal: NamedDependency[Principal],
        key_backup: NamedDependency[KeyBackup],
    ) -> dict[str, Any]:
        return await key_backup.update_version(principal, version, data)

    @delete("/version/{version:str}", status_code=200, opt=WRITE)
    async def delete_version(
        self,
        version: FromPath[str],
        principal: NamedDependency[Principal],
        key_backup: NamedDependency[KeyBackup],
    ) -> dict[str, Any]:
        return await key_backup.delete_version(principal, version)

    @put("/keys", opt=WRITE)
    async def put_all(
        self,
        version: Version,
        data: JSONBody[KeysBackup],
        principal: NamedDependency[Principal],
        key_backup: NamedDependency[KeyBackup],
    ) -> dict[str, Any]:
        return await key_backup.put_keys(principal, version, data)

    @put("/keys/{room_id:str}", opt=WRITE)
    async def put_room(
        self,
        room_id: FromPath[str],
        version: Version,
        data: JSONBody[RoomKeyBackup],
        principal: NamedDependency[Principal],
        key_backup: NamedDependency[KeyBackup],
    ) -> dict[str, Any]:
        return await key_backup.put_keys(principal, version, KeysBackup(rooms={room_id: data}))

    @put("/keys/{room_id:str}/{session_id:str}", opt=WRITE)
    async def put_session(
        self,
        room_id: FromPath[str],
        session_id: FromPath[str],
        version: Version,
        data: JSONBody[KeyBackupData],
        principal: NamedDependency[Principal],
        key_backup: NamedDependency[KeyBackup],
    ) -> dict[str, Any]:
        body = KeysBackup(rooms={room_id: RoomKeyBackup(sessions={session_id: data})})
        return await key_backup.put_keys(principal, version, body)

    @get("/keys")
    async def get_all(
        self,
        version: Version,
        principal: NamedDependency[Principal],
        key_backup: NamedDependency[KeyBackup],
    ) -> dict[str, Any]:
        return await key_backup.get_keys(principal, version, None, None)

    @get("/keys/{room_id:str}")
    async def get_room(
        self,
        room_id: FromPath[str],
        version: Version,
        principal: NamedDependency[Principal],
        key_backup: NamedDependency[KeyBackup],
    ) -> dict[str, Any]:
        return await key_backup.get_keys(principal, version, room_id, None)

    @get("/keys/{room_id:str}/{session_id:str}")
    async def get_session(
        self,
        room_id: FromPath[str],
        session_id: FromPath[str],
        version: Version,
        principal: NamedDependency[Principal],
        key_backup: NamedDependency[KeyBackup],
    ) -> dict[str, Any]:
        return await key_backup.get_keys(principal, version, room_id, session_id)

    @delete("/keys", status_code=200, opt=WRITE)
    async def delete_all(
        self,
        version: Version,
        principal: NamedDependency[Principal],
        key_backup: NamedDependency[KeyBackup],
    ) -> dict[str, Any]:
        return await key_backup.delete_keys(principal, version, None, None)

    @delete("/keys/{room_id:str}", status_code=200, opt=WRITE)
    async def delete_room(
        self,
        room_id: FromPath[str],
        version: Version,
        principal: NamedDependency[Principal],
        key_backup: NamedDependency[KeyBackup],
    ) -> dict[str, Any]:
        return await key_backup.delete_keys(principal, version, room_id, None)

    @delete("/keys/{room_id:str}/{session_id:str}", status_code=200, opt=WRITE)
    async def delete_session(
        self,
        room_id: FromPath[str],
        session_id: FromPath[str],
        version: Version,
        principal: NamedDependency[Principal],
        key_backup: NamedDependency[KeyBackup],
    ) -> dict[str, Any]:
        return await key_backup.delete_keys(principal, version, room_id, session_id)
