"""The key directory at the Matrix client-server paths (docs/matrix-api.md): thin
handlers over ``KeyDirectory``, ``CrossSigning`` and ``KeyBackup``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from app.core.matrix import MatrixIds
from app.core.principal import Principal
from app.keys.cross_signing import CrossSigning
from app.keys.directory import KeyDirectory
from app.keys.matrix_schemas import (
    DeviceSigningUpload,
    KeysClaim,
    KeysClaimOut,
    KeysQuery,
    KeysQueryOut,
    KeysUpload,
    KeysUploadOut,
    SignaturesUpload,
    SignaturesUploadOut,
    WhoAmI,
)

MATRIX_PATH = "/_matrix/client/v3"


class MatrixKeyController(Controller):
    path = MATRIX_PATH
    tags = ["matrix"]

    @get("/account/whoami")
    async def whoami(
        self, principal: NamedDependency[Principal], key_directory: NamedDependency[KeyDirectory]
    ) -> WhoAmI:
        ids: MatrixIds = key_directory.ids
        return WhoAmI(user_id=ids.user(principal.user_id), device_id=str(principal.device_id))

    @post("/keys/upload", status_code=200)
    async def upload(
        self,
        data: JSONBody[KeysUpload],
        principal: NamedDependency[Principal],
        key_directory: NamedDependency[KeyDirectory],
        address: NamedDependency[str],
    ) -> KeysUploadOut:
        return await key_directory.upload(principal, data, address)

    @post("/keys/query", status_code=200)
    async def query(
        self,
        data: JSONBody[KeysQuery],
        principal: NamedDependency[Principal],
        key_directory: NamedDependency[KeyDirectory],
    ) -> KeysQueryOut:
        return await key_directory.query(principal, data)

    @post("/keys/claim", status_code=200)
    async def claim(
        self,
        data: JSONBody[KeysClaim],
        principal: NamedDependency[Principal],
        key_directory: NamedDependency[KeyDirectory],
    ) -> KeysClaimOut:
        return await key_directory.claim(principal, data)

    @post("/keys/device_signing/upload", status_code=200)
    async def device_signing(
        self,
        data: JSONBody[DeviceSigningUpload],
        principal: NamedDependency[Principal],
        cross_signing: NamedDependency[CrossSigning],
        address: NamedDependency[str],
    ) -> dict[str, Any]:
        return await cross_signing.upload_keys(principal, data, address)

    @post("/keys/signatures/upload", status_code=200)
    async def signatures(
        self,
        data: JSONBody[SignaturesUpload],
        principal: NamedDependency[Principal],
        cross_signing: NamedDependency[CrossSigning],
        address: NamedDependency[str],
    ) -> SignaturesUploadOut:
        return await cross_signing.upload_signatures(principal, data, address)
