"""HTTP routes of the key directory (docs/keys.md)."""

from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from app.core.principal import Principal
from app.keys.schemas import (
    ClaimRequest,
    ClaimResponse,
    DeviceSignatureOut,
    DeviceSignatureUpload,
    KeyCounts,
    KeyUpload,
    MasterKeyObject,
    MasterKeyOut,
    QueryRequest,
    QueryResponse,
)
from app.keys.service import KeyService


class KeyController(Controller):
    path = "/keys"
    tags = ["keys"]

    @post("/upload", status_code=200)
    async def upload(
        self,
        data: JSONBody[KeyUpload],
        principal: NamedDependency[Principal],
        keys: NamedDependency[KeyService],
        address: NamedDependency[str],
    ) -> KeyCounts:
        """The calling device uploads its signed bundle, one-time keys and fallback key."""
        return await keys.upload(principal, data, address)

    @get("/count")
    async def count(
        self, principal: NamedDependency[Principal], keys: NamedDependency[KeyService]
    ) -> KeyCounts:
        """How many of the calling device's one-time keys are left, and its fallback key."""
        return await keys.counts(principal)

    @post("/claim", status_code=200)
    async def claim(
        self,
        data: JSONBody[ClaimRequest],
        principal: NamedDependency[Principal],
        keys: NamedDependency[KeyService],
    ) -> ClaimResponse:
        """One one-time key (or the fallback key) per device the caller may reach."""
        return await keys.claim(principal, data)

    @post("/query", status_code=200)
    async def query(
        self,
        data: JSONBody[QueryRequest],
        principal: NamedDependency[Principal],
        keys: NamedDependency[KeyService],
    ) -> QueryResponse:
        """Device bundles and master keys of users who share a case with the caller."""
        return await keys.query(principal, data)

    @put("/master")
    async def master(
        self,
        data: JSONBody[MasterKeyObject],
        principal: NamedDependency[Principal],
        keys: NamedDependency[KeyService],
        address: NamedDependency[str],
    ) -> MasterKeyOut:
        """The user's self-signed master signing key; set once."""
        return await keys.set_master_key(principal, data, address)

    @post("/signatures", status_code=200)
    async def signatures(
        self,
        data: JSONBody[DeviceSignatureUpload],
        principal: NamedDependency[Principal],
        keys: NamedDependency[KeyService],
        address: NamedDependency[str],
    ) -> DeviceSignatureOut:
        """The master key's signature over one of the user's own devices."""
        return await keys.sign_device(principal, data, address)
